"""Parallel candidates: proposals, fan-out/fan-in routing, ranking, kill -9 during a fan-out, Ray."""

from __future__ import annotations

import json

import pytest
from conftest import IDENTITY_MDP

from nodes.candidates import fan_out, pick_candidate, rank
from nodes.designers.variations import expert_candidates
from nodes.review import after_algorithm_review
from nodes.state import RunSettings
from tools.run_rules import candidate_budget
from tools.schemas import AlgoConfig, Candidate, CandidateResult, EvalResult, MDPDesign, TaskSpec, TrainResult

MDP = MDPDesign(code=IDENTITY_MDP, obs_dim=4, summary="raw obs, original reward")


def _fingerprint(c: Candidate) -> str:
    return json.dumps([c.mdp.code, c.mdp.normalize_obs, c.algo.model_dump(exclude={"rationale"})], sort_keys=True)


@pytest.mark.parametrize("algorithm", ["PPO", "SAC", "DQN"])
def test_expert_candidates_differ_and_keep_the_chosen_design_first(algorithm):
    algo = AlgoConfig(algorithm=algorithm, lr=1e-3)
    out = expert_candidates(MDP, algo, 6, seed=7)
    assert [c.index for c in out] == list(range(6))
    assert out[0].algo == algo and out[0].mdp == MDP and out[0].label == "as designed"
    assert len({_fingerprint(c) for c in out}) == 6, [c.label for c in out]
    assert len({c.seed for c in out}) == 6
    assert {"lr ×3", "lr ×0.3"} <= {c.label for c in out}
    assert any(c.mdp.normalize_obs for c in out)  # one changes the observation pipeline, not the algorithm


def test_a_multi_agent_design_keeps_its_observation_pipeline_in_every_candidate():
    """Running normalisation would rescale a slot's one-hot and action mask: the toggle is not
    offered to a multi-agent env; the next change takes its place."""
    algo = AlgoConfig(algorithm="MAPPO", lr=1e-3)
    out = expert_candidates(MDP, algo, 4, seed=0, multi_agent=True)
    assert not any(c.mdp.normalize_obs for c in out)
    assert [c.label for c in out][1:] == ["lr ×3", "lr ×0.3", "wider network"]
    assert any(c.mdp.normalize_obs for c in expert_candidates(MDP, algo, 4, seed=0))


def test_past_the_principled_changes_candidates_differ_by_seed():
    out = expert_candidates(MDP, AlgoConfig(algorithm="PPO"), 12, seed=0)
    assert len(out) == 12 and out[-1].label.startswith("as designed, seed +")
    assert len({c.seed for c in out}) == 12


@pytest.mark.parametrize(
    "left,chosen,k,expected",
    [
        (100_000, 20_000, 4, (4, 20_000)),  # enough for four of the chosen size
        (40_000, 20_000, 4, (4, 10_000)),  # four smaller ones
        (12_000, 20_000, 4, (2, 6_000)),  # never under 5000 steps each: fewer candidates
        (3_000, 20_000, 4, (1, 3_000)),  # the last scraps: one candidate
    ],
)
def test_candidate_budget_counts_every_candidate(left, chosen, k, expected):
    got = candidate_budget(left, chosen, k)
    assert got == expected and got[0] * got[1] <= left


def test_the_approved_algorithm_goes_to_the_fan_out_only_with_several_candidates(tmp_path):
    one, four = (RunSettings(runs_dir=str(tmp_path), candidates=k) for k in (1, 4))
    assert after_algorithm_review({"settings": one}) == "train"
    assert after_algorithm_review({"settings": four}) == "propose_candidates"


def test_fan_out_sends_one_branch_per_candidate(tmp_path):
    spec = TaskSpec(text="t", env="CartPole-v1", budget_steps=10_000)
    settings = RunSettings(runs_dir=str(tmp_path), candidates=3)
    cands = expert_candidates(MDP, AlgoConfig(algorithm="PPO"), 3, seed=0)
    sends = fan_out({"spec": spec, "settings": settings, "iteration": 2, "candidates": cands, "history": []})
    assert [s.node for s in sends] == ["train_candidate"] * 3
    assert [s.arg["candidate"].index for s in sends] == [0, 1, 2]
    assert all(set(s.arg) == {"spec", "settings", "iteration", "candidate"} and s.arg["iteration"] == 2 for s in sends)


def _result(index: int, mean: float | None, std: float = 1.0, steps: int = 1000, iteration: int = 1):
    c = expert_candidates(MDP, AlgoConfig(algorithm="PPO"), index + 1, seed=0)[index]
    return CandidateResult(
        iteration=iteration,
        candidate=c,
        train=TrainResult(env_steps=steps, best_test_mean=mean, stop_reason="budget", iter_dir=f"/r/c{index}"),
        eval=EvalResult(
            mean=mean,
            std=None if mean is None else std,
            episodes=5,
            returns=[],
            mean_length=1.0,
            error=None if mean is not None else "boom\nlast line of the error",
        ),
    )


def test_ranking_is_on_the_original_metric_and_says_why():
    ranks = rank([_result(0, 100.0), _result(1, None), _result(2, 250.0), _result(3, 250.0, std=5.0)])
    assert [r.index for r in ranks] == [2, 3, 0, 1]
    assert ranks[0].note == "won the tie at 250.00 with #3: lower spread (1.00 vs 5.00)"
    assert ranks[1].note == "tied with the winner, lost the tie-break"
    assert ranks[2].note == "150.00 below the winner"
    assert ranks[3].note == "failed: last line of the error"
    assert rank([_result(0, None), _result(1, None)])[0].note == "won by default: every candidate failed"


def test_the_fan_in_keeps_the_winner_and_counts_every_candidates_steps(tmp_path):
    results = [
        _result(0, 10.0, steps=4000),
        _result(1, 30.0, steps=5000),
        _result(2, 20.0, steps=3000),
        _result(0, 999.0, iteration=0),
    ]  # another iteration's result is not this one's
    out = pick_candidate({"iteration": 1, "candidate_results": results, "steps_used": 500}, {})
    assert out["eval"].mean == 30.0 and out["algo"].lr == results[1].candidate.algo.lr
    assert out["steps_used"] == 500 + 4000 + 5000 + 3000
    assert [r.index for r in out["ranking"]] == [1, 2, 0]


def test_the_fan_in_counts_overlapping_branches_once_and_not_the_gap_before_a_resume():
    from nodes.candidates import spans_seconds

    spans = [(100.0, 160.0), (100.0, 130.0), (130.0, 170.0), (500.0, 520.0)]  # the last after a resume
    results = [_result(i, 1.0).model_copy(update={"started": a, "finished": b}) for i, (a, b) in enumerate(spans)]
    assert spans_seconds(results) == 70.0 + 20.0
