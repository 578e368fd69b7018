"""The run's rules (tools/run_rules.py) and that every part of the loop uses the same ones."""

import itertools

import pytest
from conftest import profile_once

from graph.build import route_after_critic
from nodes.designers.base import DesignContext
from nodes.designers.expert import ExpertDesigner
from nodes.state import RunContext, RunRequest
from tools import run_rules
from tools.run_rules import (
    best_record,
    epoch_steps,
    iteration_budget,
    iteration_seed,
    run_status,
    target_met,
    warmup_steps,
)
from tools.schemas import AlgoConfig, Critique, EvalResult, IterationRecord, TaskSpec, TrainResult


def record(i: int, mean: float | None, std: float | None = 0.0, episodes: int = 20) -> IterationRecord:
    return IterationRecord(
        iteration=i,
        mdp_summary="m",
        mdp_code="c",
        algo=AlgoConfig(algorithm="PPO"),
        env_steps=1000,
        train_best=mean,
        stop_reason="budget",
        eval_mean=mean,
        eval_std=std,
        eval_episodes=episodes,
        verdict="revise_algo",
        diagnosis="plateau",
        reason="r",
        iter_dir="/tmp",
        wall_seconds=1.0,
    )


@pytest.mark.parametrize(
    "mean,std,n,target,met",
    [
        (480.0, 0.0, 20, 475.0, True),
        (480.0, 40.0, 20, 475.0, False),  # 480 − 40/√20 = 471.1: within the noise
        (480.0, 40.0, 100, 475.0, True),  # 480 − 4 = 476: beyond it
        (475.0, None, 5, 475.0, True),  # no spread measured: the mean alone
        (474.9, 0.0, 20, 475.0, False),
        (-95.2, 20.0, 20, -100.0, True),  # negative scores: −99.67 ≥ −100
        (None, 0.0, 20, 475.0, False),  # nothing evaluated
        (1e9, 0.0, 20, None, False),  # no target: never met
    ],
)
def test_target_met_is_beyond_the_noise(mean, std, n, target, met):
    assert target_met(mean, std, n, target) is met


def test_best_record_is_the_first_highest_and_skips_failures():
    h = [record(1, None), record(2, 10.0), record(3, 30.0), record(4, 30.0)]
    assert best_record(h).iteration == 3
    assert best_record([record(1, None)]) is None and best_record([]) is None
    rows = [{"iteration": 1, "eval_mean": None}, {"iteration": 2, "eval_mean": 5.0}]
    assert best_record(rows, score=lambda r: r.get("eval_mean"))["iteration"] == 2


def test_a_policy_chosen_among_several_is_confirmed_and_the_confirmation_decides_the_status():
    from nodes.export import best_iteration
    from tools.schemas import CandidateRank

    def rank(i: int, mean: float | None) -> CandidateRank:
        return CandidateRank(
            index=i, label="c", algorithm="PPO", eval_mean=mean, eval_std=0.0, env_steps=1, stop_reason="budget",
            iter_dir="/tmp", note="n",
        )  # fmt: skip

    one, failed = record(1, 480.0), record(2, None)
    assert run_rules.policies_compared([one, failed]) == 1 and not run_rules.needs_confirmation([one, failed])
    assert run_rules.needs_confirmation([one, record(2, 10.0)])  # two iterations evaluated
    three = one.model_copy(update={"candidates": [rank(0, 480.0), rank(1, 470.0), rank(2, None)]})
    assert run_rules.policies_compared([three]) == 2  # two candidates evaluated, one failed
    lower = EvalResult(mean=460.0, std=0.0, episodes=20, returns=[], mean_length=1, ci_low=455.0, ci_high=465.0)
    spent = {"steps_left": 0, "next_iteration": 2, "max_iterations": 5}
    assert run_status([three], 475.0, **spent) == "target_met"
    assert run_status([three], 475.0, lower, **spent) == "budget_exhausted"  # the choosing evaluation's luck is gone
    assert run_status([three], 475.0, EvalResult.failed("x"), **spent) == "target_met"  # no second figure: the first
    chosen = best_iteration(three, [three], lower)
    assert (chosen.eval_mean, chosen.selection_mean, chosen.compared, chosen.eval_ci95) == (460.0, 480.0, 2, [455, 465])
    kept = best_iteration(three, [three], EvalResult.failed("worker died"))
    assert (kept.eval_mean, kept.selection_mean, kept.confirmation_error) == (480.0, None, "worker died")
    assert best_iteration(one, [one], None).selection_mean is None
    grown = record(3, 0.85, episodes=160)  # its evaluation grew to decide
    assert run_rules.confirmation_episodes(grown, 20) == 160  # confirmed as precisely as it was chosen
    assert run_rules.confirmation_episodes(record(3, 0.85), 50) == 50  # never below the run's setting


def test_a_run_that_misses_says_why_it_ended():
    """Unspent steps are not an exhausted budget: smax_3m at 5M once ended at its five-iteration cap
    with 2.26M of 5M steps used, and was reported as budget_exhausted."""
    short = record(1, 400.0)
    assert run_status([short], 475.0, steps_left=4_999, next_iteration=6, max_iterations=5) == "budget_exhausted"
    assert run_status([short], 475.0, steps_left=2_740_000, next_iteration=6, max_iterations=5) == (
        "iterations_exhausted"
    )
    assert run_status([short], 475.0, steps_left=50_000, next_iteration=3, max_iterations=5) == "stopped_by_critic"
    assert run_status([record(1, 480.0)], 475.0, steps_left=50_000, next_iteration=2, max_iterations=5) == (
        "target_met"
    )
    assert run_status([record(1, None)], 475.0, steps_left=50_000, next_iteration=2, max_iterations=5) == "failed"
    assert {"budget_exhausted", "iterations_exhausted", "stopped_by_critic"} <= set(run_rules.AGENT_KEPT)
    # the router's rule for another pass: steps for an iteration and an iteration left
    assert run_rules.room_left(50_000, 3, 5) and not run_rules.room_left(50_000, 6, 5)
    assert not run_rules.room_left(4_999, 2, 5)


def test_the_router_the_status_and_the_critic_agree_on_a_score_within_the_noise():
    """An evaluation whose mean clears the target but not beyond its noise is not 'met' anywhere."""
    within, beyond = record(1, 480.0, std=40.0), record(1, 480.0, std=5.0)
    spec = TaskSpec(text="t", env="CartPole-v1", target=475, budget_steps=100_000)
    for rec, met in ((within, False), (beyond, True)):
        state = {
            "spec": spec,
            "history": [rec],
            "steps_used": 10_000,
            "iteration": 2,
            "critique": Critique(verdict="revise_algo", diagnosis="plateau", reason="r"),
        }
        assert (route_after_critic(state) == "confirm") is met
        ended = {"steps_left": 0, "next_iteration": 2, "max_iterations": 5}
        assert run_status([rec], spec.target, **ended) == ("target_met" if met else "budget_exhausted")
        ctx = DesignContext(task=spec, profile=profile_once("CartPole-v1"))
        expert = ExpertDesigner()
        ctx.mdp, ctx.algo = expert.design_mdp(ctx), expert.select_algorithm(ctx)
        ctx.train = TrainResult(env_steps=10_000, best_test_mean=500.0, stop_reason="target", iter_dir="/tmp/x")
        ctx.eval = EvalResult(
            mean=rec.eval_mean, std=rec.eval_std, episodes=rec.eval_episodes, returns=[], mean_length=1
        )
        ctx.steps_used = 10_000
        assert (expert.critique(ctx).verdict == "done") is met
    assert run_status([record(1, None)], 475.0, steps_left=0, next_iteration=2, max_iterations=5) == "failed"


def test_budget_split():
    assert iteration_budget(100_000, 4) == 60_000
    assert iteration_budget(100_000, 0) == 100_000  # the last iteration takes all
    assert iteration_budget(9_000, 3) == 9_000  # two would not fit
    assert iteration_budget(12_000, 3) == run_rules.MIN_ITERATION_STEPS + 2_200
    ppo = AlgoConfig(algorithm="PPO", budget_steps=100_000, collect_steps=2048)
    assert epoch_steps(ppo) == 4096  # a whole number of collections near 5k
    sac = AlgoConfig(algorithm="SAC", budget_steps=10_000_000)
    assert epoch_steps(sac) == 25_000
    assert epoch_steps(sac.model_copy(update={"budget_steps": 3_000})) == 1_000
    # a budget under twice the warm-up: half of it random, one epoch of the other half, nothing over
    small = sac.model_copy(update={"budget_steps": 1_500, "start_steps": 1_000})
    assert warmup_steps(small) == 750 and epoch_steps(small) == 750
    assert warmup_steps(sac.model_copy(update={"budget_steps": 3_000})) == sac.start_steps
    assert warmup_steps(ppo) == 0
    assert [iteration_seed(7, k) for k in (1, 2, 3)] == [7, 1007, 2007]


def test_training_test_and_evaluation_seeds_never_overlap():
    """Every iteration's training, test, evaluation, confirmation and replay (``agent2 play``) envs (up to
    999 each) get seeds no other use of any iteration of the same run gets (iteration 11 once trained on
    iteration 1's test seeds); the largest stays below 2**31."""
    width = run_rules.SEED_STRIDE - 1
    offsets = {"train": 0, "test": run_rules.TEST_SEED_OFFSET, "eval": run_rules.EVAL_SEED_OFFSET}
    offsets["confirm"] = run_rules.CONFIRM_SEED_OFFSET
    offsets["play"] = run_rules.PLAY_SEED_OFFSET
    spans = sorted(
        (iteration_seed(0, k) + off, use, k)
        for k in range(1, run_rules.MAX_ITERATIONS + 1)
        for use, off in offsets.items()
    )
    for (start, use, k), (nxt, use2, k2) in itertools.pairwise(spans):
        assert start + width < nxt, f"{use} seeds of iteration {k} run into {use2} seeds of iteration {k2}"
    assert run_rules.MAX_SEED + spans[-1][0] + width < 2**31


def test_defaults_come_from_one_place():
    req = RunRequest(env="CartPole-v1")
    assert (req.max_iterations, req.eval_episodes) == (
        run_rules.DEFAULT_MAX_ITERATIONS,
        run_rules.DEFAULT_EVAL_EPISODES,
    )
    assert RunContext().candidates == run_rules.DEFAULT_CANDIDATES
    spec = TaskSpec(text="t", env="e", budget_steps=1)
    assert (spec.max_iterations, spec.eval_episodes) == (req.max_iterations, req.eval_episodes)


def test_play_replays_on_seeds_its_run_never_used_unless_told(tmp_path, monkeypatch):
    import json

    from nodes.design_mdp import original_mdp
    from tools import agent_io, sandbox
    from tools.schemas import TrainJob

    job = TrainJob(env="CartPole-v1", mdp=original_mdp(4), algo=AlgoConfig(algorithm="PPO"), seed=12345)
    (tmp_path / agent_io.CONFIG_FILE).write_text(json.dumps({"job": job.model_dump()}))
    (tmp_path / agent_io.POLICY_FILE).write_bytes(b"")
    calls = []

    def fake_worker(module, args, log, timeout):
        calls.append(args)
        (tmp_path / agent_io.PLAY_RESULT).write_text(
            EvalResult(mean=1.0, std=0.0, episodes=1, returns=[1.0], mean_length=1.0).model_dump_json()
        )
        return 0

    monkeypatch.setattr(sandbox, "run", fake_worker)
    agent_io.play(tmp_path, 1)
    agent_io.play(tmp_path, 1, seed=3)
    assert [int(a[-1]) for a in calls] == [12345 + run_rules.PLAY_SEED_OFFSET, 3]


def test_a_config_is_finalised_in_one_place_with_few_envs_of_a_process_each_for_off_policy_learners():
    """``finalised`` is what every designer, the screen and a reviewer's edit end with."""
    sac = AlgoConfig(algorithm="SAC", n_train_envs=16, n_test_envs=10, budget_steps=100_000)
    ppo = AlgoConfig(algorithm="PPO", n_train_envs=16, n_test_envs=10, collect_steps=4096, budget_steps=100_000)
    assert (run_rules.finalised(sac, True).n_train_envs, run_rules.finalised(sac, True).n_test_envs) == (2, 2)
    assert run_rules.finalised(sac, False).n_train_envs == 16
    assert (run_rules.finalised(ppo, True).n_train_envs, run_rules.finalised(ppo, True).n_test_envs) == (16, 10)
    assert run_rules.finalised(ppo, True).epoch_steps == run_rules.epoch_steps(ppo)
