"""TensorBoard event files: every iteration's worker writes train/, test/, loss/ and eval/ scalars
under a readable name, through Tianshou's own TensorBoard logger, and a worker killed and resumed
does not show the replayed steps twice."""

from __future__ import annotations

import os
import signal

from conftest import scalars

from nodes.design_mdp import original_mdp
from tools.schemas import AlgoConfig, TrainJob
from tools.tensorboard_log import board_dir
from tools.training import run_training


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
            from faults import _workers  # the worker's host pid (its own is its sandbox's)

            for pid, folder in _workers(tmp_path).items():
                if folder == it:
                    os.kill(pid, signal.SIGKILL)

    result = run_training(
        TrainJob(env="CartPole-v1", mdp=original_mdp(4), algo=algo, target=None), it, on_progress=kill_once
    )
    assert killed and result.resumed_at_step >= killed[0] and result.error is None  # restarted from it
    steps = [e.step for e in scalars(board_dir(it, "CartPole-v1", "PPO")).Scalars("test/returns_stat/mean")]
    assert steps == sorted(set(steps)) and steps[-1] >= 7000, steps  # each test once, up to the end
