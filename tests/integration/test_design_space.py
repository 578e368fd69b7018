"""The wider design space end to end on tiny budgets: observation history (frame stack) and layer
norm through training, evaluation, export, play and warm start; evaluation that grows its episodes
until its 95% interval decides the target; the screen's fan-out."""

import json
import time

import numpy as np
import pytest
from conftest import BLINK, ENV_FILE, ROOT, agent2, original_design, processes_naming, quick_win_winners

from nodes.design_mdp import original_mdp
from nodes.designers.expert import ExpertDesigner
from nodes.state import RunSettings
from tools.agent_io import export_agent
from tools.profiling import profile_env
from tools.run_files import CHECKPOINT
from tools.schemas import AlgoConfig, TaskSpec, TrainJob
from tools.statistics import EVAL_GROWTH_CAP
from tools.train_worker import evaluate_policy, load_policy
from tools.training import interrupted, run_evaluation, run_training

COIN = f"{ENV_FILE}:coin_flip"


def _train(
    tmp_path,
    name: str,
    history: int,
    layer_norm: bool,
    budget: int = 6000,
    warm: str | None = None,
    encoder: str = "mlp",
):
    algo = AlgoConfig(
        algorithm="PPO",
        hidden_sizes=[32, 32],
        layer_norm=layer_norm,
        lr=3e-3,
        gamma=0.9,
        encoder=encoder,
        n_train_envs=4,
        collect_steps=256,
        batch_size=64,
        repeat=4,
        budget_steps=budget,
        epoch_steps=1024,
        test_episodes=20,
        warm_start_from=warm,
    )
    job = TrainJob(env=BLINK, mdp=original_design(BLINK, history), algo=algo, seed=0, target=0.9)
    folder = tmp_path / name
    return job, run_training(job, folder, eval_episodes=50), folder


def test_memory_solves_what_one_observation_hides_and_exports_plays_and_warm_starts(tmp_path):
    job, train, folder = _train(tmp_path, "memory", history=3, layer_norm=True)
    ev = run_evaluation(folder, 50)
    assert ev.mean is not None and ev.mean >= 0.9, (train.curve, ev)  # a memoryless policy averages 0
    algorithm, _ = load_policy(job, folder / "best_policy.pt")
    first = algorithm.policy.actor.preprocess.model.model[0]
    assert first.in_features == 6  # 3 observations of 2
    assert any(type(m).__name__ == "LayerNorm" for m in algorithm.policy.actor.modules())
    agent_dir = export_agent(folder, tmp_path / "agent", {})
    play = agent2("play", str(agent_dir), "--episodes", "4")
    assert play.returncode == 0, play.stderr
    assert play.stdout.count("episode ") == 4
    _, again, _ = _train(tmp_path, "continued", history=3, layer_norm=True, budget=1024, warm=str(folder))
    assert again.curve and again.curve[0].mean >= 0.9  # starts from the trained weights


def test_a_recurrent_policy_reads_the_history_in_order_trains_exports_plays_and_warm_starts(tmp_path):
    import torch

    job, train, folder = _train(tmp_path, "gru", history=3, layer_norm=False, encoder="gru")
    ev = run_evaluation(folder, 50)
    assert ev.mean is not None and ev.mean >= 0.9, (train.curve, ev)  # a memoryless policy averages 0
    algorithm, _ = load_policy(job, folder / "best_policy.pt")
    grus = [m for m in algorithm.policy.actor.modules() if isinstance(m, torch.nn.GRU)]
    assert grus and grus[0].input_size == 32  # each 2-value observation embedded, then the GRU
    play = agent2("play", str(export_agent(folder, tmp_path / "agent", {})), "--episodes", "3")
    assert play.returncode == 0 and play.stdout.count("episode ") == 3, play.stderr
    _, again, _ = _train(
        tmp_path, "continued", history=3, layer_norm=False, budget=1024, warm=str(folder), encoder="gru"
    )
    assert again.curve and again.curve[0].mean >= 0.9  # starts from the trained weights


@pytest.mark.parametrize(
    "algorithm,cell", [("PPO", "lstm"), ("DQN", "gru"), ("SAC", "lstm"), ("TD3", "gru"), ("A2C", "gru")]
)
def test_recurrent_encoders_depend_on_the_order_of_the_history(algorithm, cell):
    import gymnasium as gym
    import torch
    from tianshou.data import Batch

    from tools.algorithms import build_algorithm

    box = algorithm in ("SAC", "TD3", "A2C")
    action_space = gym.spaces.Box(-1, 1, (2,)) if box else gym.spaces.Discrete(3)
    algo = build_algorithm(
        AlgoConfig(algorithm=algorithm, encoder=cell, hidden_sizes=[16, 16]), 4 * 3, action_space, history=4
    )
    rnn = next(m for m in algo.modules() if isinstance(m, torch.nn.RNNBase))
    assert type(rnn).__name__ == cell.upper() and rnn.input_size == 16
    obs = np.random.default_rng(0).random((5, 12), dtype=np.float32)
    body = next(m for m in algo.policy.modules() if type(m).__name__ == "HistoryRecurrentEncoder")
    with torch.no_grad():
        assert algo.policy(Batch(obs=obs, info={})).act.shape[0] == 5
        swapped = obs.reshape(5, 4, 3)[:, ::-1].reshape(5, 12).copy()  # the same frames, newest first
        assert not torch.allclose(body(obs)[0], body(swapped)[0])
        if algorithm in ("SAC", "TD3"):  # the critics read the action after the recurrent features
            assert algo.critic(obs, np.zeros((5, 2), np.float32)).shape == (5, 1)


def test_evaluation_grows_until_its_interval_decides_the_target(tmp_path):
    algo = AlgoConfig(
        algorithm="PPO",
        hidden_sizes=[8],
        collect_steps=64,
        batch_size=32,
        repeat=1,
        n_train_envs=2,
        budget_steps=128,
        epoch_steps=64,
        test_episodes=2,
    )
    for target, grows in ((0.0, True), (5.0, False)):
        job = TrainJob(env=COIN, mdp=original_design(COIN), algo=algo, seed=0, target=target)
        folder = tmp_path / f"t{target}"
        run_training(job, folder)
        ev = evaluate_policy(job, folder / "best_policy.pt", 20, seed=3)
        assert ev.ci_low is not None and ev.ci_low <= ev.mean <= ev.ci_high
        if grows:  # the interval holds 0 whatever the count: it grows to the cap
            assert ev.episodes == 20 * EVAL_GROWTH_CAP and ev.ci_low < 0 < ev.ci_high
        else:  # 5 is far outside the interval after 20 episodes
            assert ev.episodes == 20 and ev.ci_high < 5
        fixed = evaluate_policy(job, folder / "best_policy.pt", 20, seed=3, adaptive=False)
        assert fixed.episodes == 20


def test_evaluation_does_not_lean_toward_the_episodes_that_end_sooner(tmp_path):
    """QuickWin's envs win in 1 step or lose in 20, each for good. Counting the first 100 episodes to
    end on 10 envs would weigh the winners ~20 times; evaluation plays one episode per env and round,
    so its mean is the share of winning envs."""
    quick = f"{ENV_FILE}:quick_win"
    algo = AlgoConfig(
        algorithm="PPO", hidden_sizes=[8], collect_steps=64, batch_size=32, repeat=1, n_train_envs=2,
        budget_steps=128, epoch_steps=64, test_episodes=2,
    )  # fmt: skip
    job = TrainJob(env=quick, mdp=original_design(quick), algo=algo, seed=0)
    run_training(job, tmp_path / "q")
    ev = evaluate_policy(job, tmp_path / "q" / "best_policy.pt", 100, seed=3, adaptive=False)
    winners = quick_win_winners(3)  # the vector env seeds env i with 3 + i
    assert ev.episodes == 100 and ev.mean == pytest.approx(winners / 10), (ev.mean, winners)
    assert 0 < winners < 10  # the seeds drew both kinds
    # each return comes with its own episode's length: a win after 1 step, a loss after 20
    assert sorted(set(zip(ev.returns, ev.lengths, strict=True))) == [(0.0, 20.0), (1.0, 1.0)]


IMAGE_ENV = f"{ENV_FILE}:image_direction_mission_obs"


def test_an_image_observation_gets_a_cnn_that_trains_exports_and_plays(tmp_path):
    profile = profile_env(IMAGE_ENV, episodes=2)
    assert [(i.offset, i.height, i.channels) for i in profile.images] == [(4, 5, 3)]
    ctx_task = TaskSpec(text="t", env=IMAGE_ENV, budget_steps=1024)
    from nodes.designers.base import DesignContext

    ctx = DesignContext(task=ctx_task, profile=profile)
    expert = ExpertDesigner()
    ctx.mdp = expert.design_mdp(ctx)
    algo = expert.select_algorithm(ctx).model_copy(
        update={"collect_steps": 256, "epoch_steps": 512, "n_train_envs": 2, "test_episodes": 2}
    )
    assert ctx.mdp.images == profile.images and algo.encoder == "cnn"
    job = TrainJob(env=IMAGE_ENV, mdp=ctx.mdp, algo=algo, seed=0)
    train = run_training(job, tmp_path / "it", eval_episodes=3)
    assert train.stop_reason == "budget" and train.curve, train.error
    play = agent2("play", str(export_agent(tmp_path / "it", tmp_path / "agent", {})), "--episodes", "2")
    assert play.returncode == 0, play.stderr


def test_reward_terms_are_summed_reported_and_flagged(tmp_path):
    from envs.errors import MDPCodeError
    from envs.mdp_wrapper import reward_terms
    from nodes.designers.base import reward_term_notes

    assert reward_terms({"a": 1, "b": -0.5}) == (0.5, {"a": 1.0, "b": -0.5})
    assert reward_terms(2) == (2.0, None)
    for bad, words in (({}, "empty"), ({"a": "x"}, "not a number"), ([1], "return a number")):
        with pytest.raises(MDPCodeError, match=words):
            reward_terms(bad)
    code = original_design(BLINK).code.replace(
        "def reward(obs, action, next_obs, reward, info):\n    return float(reward)",
        "def reward(obs, action, next_obs, reward, info):\n"
        "    return {'task': float(reward), 'bonus': 0.0, 'step': -0.01}",
    )
    assert "'bonus'" in code
    algo = AlgoConfig(
        algorithm="PPO",
        hidden_sizes=[8],
        collect_steps=128,
        batch_size=64,
        repeat=1,
        n_train_envs=2,
        budget_steps=512,
        epoch_steps=256,
        test_episodes=4,
    )
    job = TrainJob(env=BLINK, mdp=original_design(BLINK).model_copy(update={"code": code}), algo=algo, seed=0)
    train = run_training(job, tmp_path / "terms")
    terms = train.reward_terms
    assert set(terms) == {"task", "bonus", "step"}, train.error
    assert terms["step"].episode_mean == pytest.approx(-0.03) and terms["step"].nonzero_fraction == 1.0
    assert terms["bonus"].nonzero_fraction == 0.0 and terms["task"].nonzero_fraction == pytest.approx(1 / 3)
    notes = reward_term_notes(train)
    assert any("'bonus' never fired" in n for n in notes)


def test_a_multidiscrete_action_env_trains_in_its_joint_discrete_space(tmp_path):
    """Tianshou reads the unwrapped env's action space; the learner must get the wrapped one."""
    env = f"{ENV_FILE}:multidiscrete_obs_and_action"
    algo = AlgoConfig(
        algorithm="PPO",
        hidden_sizes=[8],
        collect_steps=64,
        batch_size=32,
        repeat=1,
        n_train_envs=2,
        budget_steps=128,
        epoch_steps=64,
        test_episodes=2,
    )
    job = TrainJob(env=env, mdp=original_design(env), algo=algo, seed=0)
    train = run_training(job, tmp_path / "md")
    assert train.stop_reason == "budget" and train.error is None, train.error
    play = agent2("play", str(export_agent(tmp_path / "md", tmp_path / "agent", {})), "--episodes", "2")
    assert play.returncode == 0 and play.stdout.count("episode ") == 2, play.stderr  # the factored policy


BIT_FLIP = f"{ROOT}/bench/generality_envs.py:make_bit_flip"


def test_a_goal_conditioned_sparse_env_gets_an_off_policy_learner_with_hindsight(tmp_path):
    from nodes.designers.base import DesignContext

    profile = profile_env(BIT_FLIP, episodes=4)
    assert profile.goal is not None and profile.sparse_reward
    ctx = DesignContext(task=TaskSpec(text="t", env=BIT_FLIP, budget_steps=2000), profile=profile)
    expert = ExpertDesigner()
    ctx.mdp = expert.design_mdp(ctx)
    algo = expert.select_algorithm(ctx)
    assert ctx.mdp.goal == profile.goal and ctx.mdp.shaping is None and "standardised" not in ctx.mdp.summary
    assert algo.algorithm == "DQN" and algo.her_future_k == 4 and algo.n_step == 1
    algo = algo.model_copy(
        update={
            "budget_steps": 1500,
            "epoch_steps": 500,
            "start_steps": 200,
            "buffer_size": 2000,
            "hidden_sizes": [32],
            "n_train_envs": 2,
        }
    )
    job = TrainJob(env=BIT_FLIP, mdp=ctx.mdp, algo=algo, seed=0)
    train = run_training(job, tmp_path / "her")
    assert train.stop_reason == "budget" and train.error is None, train.error
    from tools.checkpoint_io import load_checkpoint

    state = load_checkpoint(tmp_path / "her" / "checkpoint.pt")  # saved without the env's reward function
    children = state["buffer"].buffers
    assert all(type(c).__name__ == "FlatHERReplayBuffer" and c.compute_reward_fn is None for c in children)


def test_a_design_that_hands_the_images_on_unchanged_keeps_its_convolutions(tmp_path, monkeypatch):
    """An LLM's design does not declare images: the sandboxed check finds the ones it hands on."""
    from nodes.design_mdp import design_mdp
    from tools.mdp_check import images_kept, validate_mdp

    profile = profile_env(IMAGE_ENV, episodes=2)
    same = original_mdp(profile.obs_dim)
    assert validate_mdp(IMAGE_ENV, same, tmp_path / "same", images=profile.images) is None
    assert images_kept(tmp_path / "same") == profile.images
    scaled = same.model_copy(
        update={
            "code": same.code.replace(
                "return np.asarray(obs, dtype=np.float32)", "return np.asarray(obs, dtype=np.float32) / 255.0"
            )
        }
    )
    assert validate_mdp(IMAGE_ENV, scaled, tmp_path / "scaled", images=profile.images) is None
    assert images_kept(tmp_path / "scaled") == []  # moved or rescaled: not where the convolutions read

    class Undeclared:  # a designer whose design keeps the layout without saying so
        def design_mdp(self, ctx):
            return same

    import nodes.design_mdp as node

    state = {
        "spec": TaskSpec(text="t", env=IMAGE_ENV, budget_steps=1000),
        "profile": profile,
        "iteration": 1,
        "settings": RunSettings(runs_dir=str(tmp_path)),
    }
    monkeypatch.setattr(node, "run_designer", lambda s, c: Undeclared())
    out = design_mdp(state, {"configurable": {"thread_id": "img"}})
    assert out["mdp"].images == profile.images and not out["mdp_errors"]


def test_the_same_iteration_started_twice_at_once_trains_once(tmp_path):
    """LangGraph's server may run a long node a second time while the first still runs: the second
    call waits for the folder's trainer and returns its result."""
    from concurrent.futures import ThreadPoolExecutor

    algo = AlgoConfig(
        algorithm="PPO",
        hidden_sizes=[8],
        collect_steps=128,
        batch_size=64,
        repeat=1,
        n_train_envs=2,
        budget_steps=512,
        epoch_steps=256,
        test_episodes=2,
    )
    job = TrainJob(env=BLINK, mdp=original_design(BLINK), algo=algo, seed=0)
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: run_training(job, tmp_path / "twice"), range(2))
    starts = [
        line
        for line in (tmp_path / "twice" / "progress.jsonl").read_text().splitlines()
        if json.loads(line)["kind"] == "start"
    ]
    assert len(starts) == 1, starts  # one worker trained
    assert first.stop_reason == "budget" and first.model_dump() == second.model_dump()


@pytest.mark.parametrize("algorithm", ["PPO", "DQN"])
def test_each_test_line_says_how_much_of_the_acting_network_is_alive(tmp_path, algorithm):
    """Through the real trainer: PPO's buffer is emptied by each update before the test (the states it
    kept there are measured), DQN's Q network is the acting one (tools.dead_units)."""
    algo = AlgoConfig(
        algorithm=algorithm, hidden_sizes=[16], activation="relu", collect_steps=64, batch_size=32, repeat=1,
        n_train_envs=2, budget_steps=384, epoch_steps=128, test_episodes=2, start_steps=64,
    )  # fmt: skip
    job = TrainJob(env=BLINK, mdp=original_design(BLINK), algo=algo, seed=0)
    train = run_training(job, tmp_path / "alive")
    tests = [json.loads(line) for line in (tmp_path / "alive" / "progress.jsonl").read_text().splitlines()]
    alive = [t.get("alive") for t in tests if t["kind"] == "test"]
    assert len(alive) >= 3 and all(a is not None and 0 < a <= 1 for a in alive[1:]), alive
    assert train.alive_share == alive[-1] and train.stop_reason != "dead_units"


def test_a_stop_asked_at_a_poll_kills_the_worker_and_says_so(tmp_path):
    """``stop`` (what bench/fixed_run.py's SIGTERM handler sets) is asked at every poll: the worker is
    killed, never left training beside whoever stopped it, and its checkpoint stays to continue."""
    algo = AlgoConfig(
        algorithm="PPO", hidden_sizes=[16], collect_steps=64, batch_size=32, repeat=1,
        n_train_envs=2, budget_steps=10_000_000, epoch_steps=128, test_episodes=2,
    )  # fmt: skip
    folder = tmp_path / "stop"
    progress = folder / "progress.jsonl"
    job = TrainJob(env=BLINK, mdp=original_design(BLINK), algo=algo, seed=0)

    def checkpointed() -> bool:
        lines = progress.read_text().split("\n")[:-1] if progress.exists() else []  # whole lines only
        return any(json.loads(line)["kind"] == "checkpoint" for line in lines if line.strip())

    train = run_training(job, folder, stop=checkpointed)
    assert train.stop_reason == "crash" and "(stopped)" in train.error, train.error
    assert interrupted(train)
    assert 0 < train.env_steps < 10_000_000
    deadline = time.monotonic() + 10  # the sandbox's inner process dies with its parent (bubblewrap's
    while processes_naming(str(folder)) and time.monotonic() < deadline:  # --die-with-parent): a moment later
        time.sleep(0.2)
    assert not processes_naming(str(folder))
    assert (folder / CHECKPOINT).exists()


def _tiny_blink_job() -> TrainJob:
    return TrainJob(env=BLINK, mdp=original_design(BLINK), algo=AlgoConfig(algorithm="PPO", budget_steps=1000), seed=0)


def test_a_stop_already_asked_starts_no_worker(tmp_path):
    """A stop set before ``run_training`` begins (a SIGTERM while the run was being set up) starts no
    worker at all, and the result still reads as a deliberate stop, not a failure."""
    job = _tiny_blink_job()
    folder = tmp_path / "never"
    train = run_training(job, folder, stop=lambda: True)
    assert train.stop_reason == "crash" and "(stopped)" in train.error and "no worker was started" in train.error
    assert interrupted(train) and train.env_steps == 0
    assert not (folder / "worker.log").exists() and not (folder / "progress.jsonl").exists()


def _killed_at_once(starts: list[int]):
    """A stand-in for ``sandbox.start`` whose worker is killed by SIGKILL before it is polled."""
    import subprocess
    import sys

    from tools import sandbox

    def start(module, args, log_path, **limits):
        starts.append(1)
        with sandbox.open_append(log_path) as f:
            proc = subprocess.Popen(
                [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc.wait()
        return proc

    return start


def test_a_worker_killed_at_every_start_is_restarted_twice_and_logged_as_such(tmp_path, monkeypatch):
    """A worker killed from outside each time it starts (the OOM killer on a job that cannot fit) is
    restarted ``MAX_WORKER_RESTARTS`` times: one log line per restart made, none for one not made,
    and the error names the signal and the restarts."""
    from tools import sandbox, training

    starts: list[int] = []
    monkeypatch.setattr(sandbox, "start", _killed_at_once(starts))
    job = _tiny_blink_job()
    train = run_training(job, tmp_path / "oom", stop=lambda: False)
    restarts = training.MAX_WORKER_RESTARTS
    assert len(starts) == restarts + 1
    assert f"killed by signal 9, {restarts} restarts" in train.error and not interrupted(train)
    log = (tmp_path / "oom" / "worker.log").read_text()
    lines = [line for line in log.splitlines() if "training worker killed by signal" in line]
    assert lines == [
        f"agent2: training worker killed by signal 9; restart {n} of {restarts} from its last checkpoint"
        for n in range(1, restarts + 1)
    ]


def test_a_worker_killed_after_its_time_is_up_is_not_restarted(tmp_path, monkeypatch):
    """Killed from outside once the run's time limit has passed: no restart (it would be killed at its
    first look at the clock), no restart line, and the error says the time ran out."""
    from tools import sandbox

    starts: list[int] = []
    monkeypatch.setattr(sandbox, "start", _killed_at_once(starts))
    job = _tiny_blink_job()
    train = run_training(job, tmp_path / "late", timeout=1e-6, stop=lambda: False)
    assert len(starts) == 1 and "(timed out after" in train.error, train.error
    assert "restart" not in (tmp_path / "late" / "worker.log").read_text()
