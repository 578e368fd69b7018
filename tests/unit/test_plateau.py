"""The plateau rule: no new best test for ``PLATEAU_TESTS`` tests and half the budget spent, unless the
training return is still rising beyond its noise."""

from __future__ import annotations

import numpy as np

from nodes.design_mdp import original_mdp
from tools.run_files import JOB
from tools.schemas import AlgoConfig, CurvePoint, TrainJob
from tools.statistics import rising
from tools.train_worker import PLATEAU_TESTS, TrainWorker

rng = np.random.default_rng(0)


def test_rising_tells_a_climb_from_noise():
    noise = rng.normal(0.0, 0.05, 60)
    assert rising(np.linspace(0.14, 0.26, 60) + noise)  # smax_8m's first iteration: 0.14 → 0.26
    assert not rising(0.2 + noise)  # flat: the later half is no higher than noise allows
    assert not rising(np.linspace(0.26, 0.14, 60) + noise)  # falling
    assert not rising([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])  # too few points to say
    assert not rising([0.3] * 20)  # no spread: nothing to say


def stalled_worker(tmp_path, train_returns) -> TrainWorker:
    """A worker whose best test came first and whose next ``PLATEAU_TESTS`` tests, past half its budget,
    all scored lower; ``train_returns`` spread evenly over those tests' steps."""
    algo = AlgoConfig(algorithm="PPO", budget_steps=20_000, epoch_steps=1000)
    job = TrainJob(env="CartPole-v1", mdp=original_mdp(4), algo=algo, seed=0, target=None)
    (tmp_path / JOB).write_text(job.model_dump_json())
    worker = TrainWorker(tmp_path)
    worker.curve.append(CurvePoint(env_step=9_000, mean=1.0, std=0.0, wall=0.0))  # an earlier trained test
    worker.best_score = worker.best_trained = 1.0  # set by it: no later test saves a new best
    steps = np.linspace(10_000, 10_000 + 1000 * PLATEAU_TESTS, len(train_returns))
    for i in range(PLATEAU_TESTS):
        for s, m in zip(steps, train_returns, strict=True):
            if 10_000 + 1000 * (i - 1) < s <= 10_000 + 1000 * i:
                worker.on_train(int(s), float(m))
        worker.on_test(10_000 + 1000 * i, 0.0, 0.0)
    return worker


def test_a_flat_test_curve_with_flat_training_returns_is_a_plateau(tmp_path):
    worker = stalled_worker(tmp_path, 0.2 + rng.normal(0.0, 0.05, 48))
    assert worker.since_best == PLATEAU_TESTS
    assert worker.plateau


def test_a_flat_test_curve_with_rising_training_returns_is_not(tmp_path):
    worker = stalled_worker(tmp_path, np.linspace(0.14, 0.26, 48) + rng.normal(0.0, 0.02, 48))
    assert worker.since_best == PLATEAU_TESTS
    assert not worker.plateau


def test_a_test_that_ties_the_best_keeps_the_later_policy(tmp_path):
    """All-zero win rates used to leave the untrained first policy as the best one."""
    worker = stalled_worker(tmp_path, [0.2] * 8)
    saved = []
    worker.save_best = saved.append
    worker.on_test(30_000, worker.best_score, 0.0)  # ties the best
    worker.on_test(31_000, worker.best_score - 0.1, 0.0)  # below it
    assert saved == [30_000]
    assert worker.since_best == PLATEAU_TESTS + 2  # a tie is no progress for the plateau rule


def test_a_resumed_trainers_repeat_of_its_last_test_is_not_one_more_test_toward_a_plateau(tmp_path):
    """Tianshou tests once when a trainer starts: a resumed one repeats its checkpoint's last test.
    Each resume counted it as one more test without progress, so a resumed run reached its plateau
    stop sooner."""
    worker = stalled_worker(tmp_path, [0.2] * 8)
    since, points = worker.since_best, len(worker.curve)
    worker.on_test(10_000 + 1000 * (PLATEAU_TESTS - 1), 0.0, 0.0)  # the same step as the last test
    assert worker.since_best == since and len(worker.curve) == points


def test_a_resume_keeps_the_score_of_a_best_policy_saved_after_its_checkpoint(tmp_path):
    """The best policy is saved at its test, the checkpoint later (or skipped for its cost): restored
    from the checkpoint alone, a weaker test then overwrote the better policy."""
    from tools.checkpoint_io import save_atomic
    from tools.run_files import BEST_POLICY

    worker = stalled_worker(tmp_path, [0.2] * 8)
    worker.build()
    worker.save_checkpoint(1, 22_000, 10)  # best score 1.0 in the checkpoint
    save_atomic({**worker.policy_state(), "score": 5.0, "env_step": 23_000}, tmp_path / BEST_POLICY)
    resumed = TrainWorker(tmp_path)
    resumed.build()
    resumed.restore()
    assert resumed.best_score == 5.0


def test_a_test_that_clears_the_target_stops_training_only_if_new_episodes_confirm_it(tmp_path):
    """smax_3m stopped twice on 30 battles of 30 won, then won 0.84 of 160 in evaluation: a lone test
    that clears the target now plays twice its episodes again; they decide the stop, and the curve,
    the best score and the event read all of them."""
    import json
    from types import SimpleNamespace

    from tools.run_files import PROGRESS
    from tools.train_worker import CONFIRM_TEST_FACTOR

    algo = AlgoConfig(algorithm="PPO", budget_steps=20_000, epoch_steps=1000, test_episodes=10)
    job = TrainJob(env="CartPole-v1", mdp=original_mdp(4), algo=algo, seed=0, target=0.9)
    (tmp_path / JOB).write_text(job.model_dump_json())
    worker = TrainWorker(tmp_path)
    worker.save_best = lambda steps: None
    asked = []

    def collector(wins: list[float]):
        def collect(n_episode, reset_before_collect):
            asked.append(n_episode)
            return SimpleNamespace(returns=np.array(wins[:n_episode]), collect_time=0.0)

        return SimpleNamespace(collect=collect)

    worker.test_collector = collector([1.0] * 14 + [0.0] * 6)  # 0.7 on new battles: a lucky test
    worker.on_test(1000, 1.0, 0.0, np.ones(10))
    assert asked == [10 * CONFIRM_TEST_FACTOR] and not worker.target_reached and not worker.stop_fn(1.0)
    assert worker.curve[-1].mean == worker.best_score == 0.8  # 24 of 30
    worker.test_collector = collector([1.0] * 20)
    worker.on_test(2000, 1.0, 0.0, np.ones(10))
    assert worker.target_reached and worker.stop_fn(1.0) and worker.curve[-1].mean == 1.0
    worker.on_test(3000, 0.5, 0.5, np.array([0.0, 1.0] * 5))  # below the target: no confirmation
    assert len(asked) == 2 and not worker.target_reached
    events = [json.loads(line) for line in (tmp_path / PROGRESS).read_text().splitlines()]
    assert [e.get("confirmed") for e in events if e["kind"] == "test"] == [False, True, None]


def test_the_confirmed_policy_is_the_one_kept_even_below_an_earlier_unconfirmed_score(tmp_path):
    """Training stops with the confirmed policy: it must be the best one the evaluation plays, even
    when an earlier test that failed its confirmation still scores higher."""
    from types import SimpleNamespace

    algo = AlgoConfig(algorithm="PPO", budget_steps=20_000, epoch_steps=1000, test_episodes=10)
    job = TrainJob(env="CartPole-v1", mdp=original_mdp(4), algo=algo, seed=0, target=150)
    (tmp_path / JOB).write_text(job.model_dump_json())
    worker = TrainWorker(tmp_path)
    saved = []
    worker.save_best = saved.append
    spread = np.array([-1.0, 1.0] * 10)

    def collector(returns):
        return SimpleNamespace(
            collect=lambda n_episode, reset_before_collect: SimpleNamespace(returns=returns, collect_time=0.0)
        )

    worker.test_collector = collector(160 + 60 * spread)  # 160 ± 60 over 20: 146.6 < 150, not confirmed
    worker.on_test(1000, 200.0, 10.0, 200 + 10 * spread[:10])
    assert not worker.target_reached and saved == [1000] and round(worker.best_score, 1) == 173.3
    worker.test_collector = collector(158 + 5 * spread)
    worker.on_test(2000, 160.0, 5.0, 160 + 5 * spread[:10])
    assert worker.target_reached and saved == [1000, 2000] and round(worker.best_score, 1) == 158.7


def fresh_worker(tmp_path) -> TrainWorker:
    algo = AlgoConfig(algorithm="SAC", budget_steps=20_000, epoch_steps=1000)
    job = TrainJob(env="Pendulum-v1", mdp=original_mdp(3), algo=algo, seed=0, target=None)
    (tmp_path / JOB).write_text(job.model_dump_json())
    worker = TrainWorker(tmp_path)
    worker.save_best = lambda step: None
    return worker


def test_the_untrained_policys_test_is_a_baseline_not_the_best_the_plateau_rule_waits_for(tmp_path):
    """Ant-v5: the policy before any update stands still and earns 982, and trained tests climbed from
    -194 to 109 over 100k steps; each trained test that beat the last trained best was progress, yet
    with the untrained test as the best to beat, the plateau rule stopped the climb (session 7)."""
    worker = fresh_worker(tmp_path)
    worker.on_test(1_000, 982.0, 2.0)
    assert worker.curve[0].untrained and worker.best_score == 982.0  # still the policy kept if none beats it
    climb = [-70.0, -194.0, -70.0, -68.0, -18.0, -48.0, 0.3, 16.5, 54.5, 42.0, 37.8, 109.0, 90.0, 100.0]
    for i, mean in enumerate(climb):
        worker.on_train(2_000 + 1000 * i, 0.0)  # flat training returns: no help from that side
        worker.on_test(2_000 + 1000 * i, mean, 50.0)
    assert not any(c.untrained for c in worker.curve[1:])
    assert worker.best_trained == 109.0 and worker.since_best == 2 and not worker.plateau


def test_flat_trained_tests_after_an_untrained_best_are_still_a_plateau(tmp_path):
    worker = fresh_worker(tmp_path)
    worker.on_test(1_000, 982.0, 2.0)
    for i in range(PLATEAU_TESTS + 1):
        worker.on_train(2_000 + 1000 * i, 0.0)
        worker.on_test(2_000 + 1000 * i, 100.0 - i, 50.0)
    assert worker.since_best == PLATEAU_TESTS and worker.plateau


def test_a_warm_start_that_finds_no_weights_trains_from_scratch_and_its_first_test_is_untrained(tmp_path):
    algo = AlgoConfig(
        algorithm="SAC", budget_steps=20_000, epoch_steps=1000, warm_start_from=str(tmp_path / "no_such_iteration")
    )
    job = TrainJob(env="Pendulum-v1", mdp=original_mdp(3), algo=algo, seed=0, target=None)
    (tmp_path / "iter").mkdir()
    (tmp_path / "iter" / JOB).write_text(job.model_dump_json())
    worker = TrainWorker(tmp_path / "iter")
    worker.build()
    worker.restore()
    worker.save_best = lambda step: None
    assert not worker.warm_started
    worker.on_test(1_000, -1200.0, 10.0)
    assert worker.curve[0].untrained


def test_a_stopped_runs_curve_has_one_test_per_step_the_last_in_step_order(tmp_path):
    import json

    from tools.run_files import PROGRESS
    from tools.training import tested_curve

    events = [
        {"kind": "test", "env_step": 1000, "mean": 5.0, "untrained": True},
        {"kind": "test", "env_step": 2000, "mean": 7.0},
        {"kind": "test", "env_step": 3000, "mean": 9.0},  # after the last checkpoint: lost in a kill
        {"kind": "collect", "env_step": 3100},
        {"kind": "test", "env_step": 2000, "mean": 7.5},  # the restarted worker tests its checkpoint again
        {"kind": "test", "env_step": 3000, "mean": 8.0},  # and redoes the next test
    ]
    (tmp_path / PROGRESS).write_text("".join(json.dumps(e) + "\n" for e in events))
    curve = tested_curve(tmp_path)
    assert [(c.env_step, c.mean, c.untrained) for c in curve] == [
        (1000, 5.0, True),
        (2000, 7.5, False),
        (3000, 8.0, False),
    ]
