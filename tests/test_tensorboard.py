"""TensorBoard event files: every iteration's worker writes train/, test/, loss/ and eval/ scalars
under a readable name, through Tianshou's own TensorBoard logger, and a worker killed and resumed
does not show the replayed steps twice."""

from __future__ import annotations

import os
import signal

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from nodes.design_mdp import original_mdp
from tools.schemas import AlgoConfig, TrainJob
from tools.tensorboard_log import TB_DIR, board_dir
from tools.training import run_training


def _scalars(folder) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


def test_an_iteration_writes_namespaced_scalars_under_a_readable_name(tmp_path):
    algo = AlgoConfig(
        algorithm="PPO",
        hidden_sizes=[16],
        budget_steps=4096,
        epoch_steps=1024,
        collect_steps=512,
        n_train_envs=4,
        test_episodes=2,
    )
    it = tmp_path / "thread" / "iter_1"
    result = run_training(TrainJob(env="CartPole-v1", mdp=original_mdp(4), algo=algo, target=None), it, eval_episodes=3)
    assert result.error is None
    board = board_dir(it, "CartPole-v1", "PPO")
    assert board == it / TB_DIR / "CartPole-v1_PPO" and any(board.glob("events.out.tfevents.*"))
    tags = set(_scalars(board).Tags()["scalars"])
    assert {"train/returns_stat/mean", "test/returns_stat/mean", "eval/mean", "eval/episodes"} <= tags, tags
    assert any(t.startswith("loss/") and "loss" in t.split("/", 1)[1] for t in tags), tags
    acc = _scalars(board)
    tests = acc.Scalars("test/returns_stat/mean")
    assert [round(e.value, 6) for e in tests][-1] == round(result.curve[-1].mean, 6)  # the same tests
    assert [e.step for e in acc.Scalars("eval/mean")] == [result.env_steps]
    assert board_dir(it, "/home/me/my_envs.py:make_env", "SAC").name == "my_envs.py_make_env_SAC"


def test_a_worker_killed_and_restarted_writes_each_step_once(tmp_path):
    algo = AlgoConfig(
        algorithm="PPO",
        hidden_sizes=[16],
        budget_steps=8192,
        epoch_steps=1024,
        collect_steps=512,
        n_train_envs=4,
        test_episodes=2,
    )
    it = tmp_path / "iter_1"
    killed: list[int] = []

    def kill_once(event: dict) -> None:  # kill -9 the worker after its second checkpoint
        if event.get("kind") == "checkpoint" and event["env_step"] >= 2048 and not killed:
            killed.append(event["env_step"])
            os.kill(event["pid"], signal.SIGKILL)

    result = run_training(
        TrainJob(env="CartPole-v1", mdp=original_mdp(4), algo=algo, target=None), it, on_progress=kill_once
    )
    assert killed and result.resumed_at_step >= killed[0] and result.error is None  # restarted from it
    steps = [e.step for e in _scalars(board_dir(it, "CartPole-v1", "PPO")).Scalars("test/returns_stat/mean")]
    assert steps == sorted(set(steps)) and steps[-1] >= 7000, steps  # each test once, up to the end
