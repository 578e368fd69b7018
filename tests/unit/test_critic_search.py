"""The critic searches: a repeated flat failure gets a structural fix, then a screen of diverse
designs, never the same kind of fix twice (synthetic curves, no training)."""

import pytest
from conftest import profile_once

from nodes.designers.base import DesignContext
from nodes.designers.escalation import FLAT_DIAGNOSES, MEMORY_HISTORY, escalate, fix_kind
from nodes.designers.expert import ExpertDesigner
from nodes.designers.screen import SCREEN_K, screen_candidates
from tools.schemas import (
    STRUCTURAL_FIXES,
    AlgoConfig,
    Critique,
    CurvePoint,
    EvalResult,
    IterationRecord,
    MDPChanges,
    TaskSpec,
    TrainResult,
)

EXPERT = ExpertDesigner()


def _ctx(env="CartPole-v1", target=475.0, budget=1_000_000, iterations=8) -> DesignContext:
    task = TaskSpec(text="t", env=env, target=target, budget_steps=budget, max_iterations=iterations)
    return DesignContext(task=task, profile=profile_once(env))


def _iterate(ctx: DesignContext, curve: list[float]) -> Critique:
    """One loop pass as the graph runs it, with ``curve`` as the test scores; returns the verdict
    and appends the iteration's record (as ``nodes/critic.py`` does)."""
    if ctx.critique is None or ctx.critique.verdict == "revise_mdp" or ctx.mdp is None:
        ctx.mdp = EXPERT.design_mdp(ctx)
    ctx.algo = EXPERT.select_algorithm(ctx)
    if ctx.critique is not None and ctx.critique.screen:  # the fan-in hands the winner on
        ctx.mdp, ctx.algo = (lambda c: (c.mdp, c.algo))(EXPERT.propose_screen(ctx, SCREEN_K, 0)[1])
    steps = ctx.algo.budget_steps
    ctx.train = TrainResult(
        env_steps=steps,
        best_test_mean=max(curve),
        stop_reason="budget",
        iter_dir=f"/i{ctx.iteration}",
        curve=[
            CurvePoint(env_step=(i + 1) * steps // len(curve), mean=m, std=1.0, wall=i) for i, m in enumerate(curve)
        ],
    )
    ctx.eval = EvalResult(mean=curve[-1], std=1.0, episodes=20, returns=[], mean_length=10)
    ctx.steps_used += steps
    c = EXPERT.critique(ctx)
    ctx.history.append(
        IterationRecord(
            iteration=ctx.iteration,
            mdp_summary=ctx.mdp.summary,
            mdp_code=ctx.mdp.code,
            algo=ctx.algo,
            env_steps=steps,
            train_best=max(curve),
            stop_reason="budget",
            eval_mean=curve[-1],
            eval_std=1.0,
            eval_episodes=20,
            verdict=c.verdict,
            diagnosis=c.diagnosis,
            reason=c.reason,
            changes=c.changes,
            fix_kind=fix_kind(c, ctx.algo),
            iter_dir=f"/i{ctx.iteration}",
            wall_seconds=1.0,
        )
    )
    ctx.critique, ctx.iteration = c, ctx.iteration + 1
    return c


FLAT = [100.0, 150.0, 151.0, 150.0, 151.0, 150.0, 151.0, 150.0]


def test_repeated_plateau_escalates_hyperparameters_then_screen_then_structural():
    ctx = _ctx()
    kinds = []
    for _ in range(7):
        c = _iterate(ctx, FLAT)
        kinds.append(fix_kind(c, ctx.algo))
    assert kinds[0] == "hyperparameters"  # the first plateau: the usual tuning
    assert kinds[1] == "screen"  # the same failure twice: no confident fix
    assert kinds[2] == "continue"  # the screen's winner gets the rest
    flat_fixes = [k for k, r in zip(kinds, ctx.history, strict=True) if r.diagnosis in FLAT_DIAGNOSES]
    assert all(a != b for a, b in zip(flat_fixes, flat_fixes[1:], strict=False)), kinds
    assert kinds.count("hyperparameters") == 1, kinds
    structural = [k for k in kinds[3:] if k in STRUCTURAL_FIXES]
    assert len(structural) == len(set(structural)) >= 2, kinds  # each structural step once


def test_five_learning_rate_decays_in_a_row_are_impossible():
    ctx = _ctx()
    lrs = []
    for _ in range(6):
        c = _iterate(ctx, FLAT)
        lrs.append("lr" in c.algo_changes and c.algo_changes["lr"] < ctx.algo.lr)
    assert not any(a and b for a, b in zip(lrs, lrs[1:], strict=False)), lrs


def test_without_budget_for_a_screen_the_ladder_changes_structure():
    ctx = _ctx(budget=150_000)
    first = _iterate(ctx, FLAT)
    assert fix_kind(first, ctx.algo) == "hyperparameters"
    ctx.steps_used = ctx.task.budget_steps - 30_000  # too little left to screen
    second = _iterate(ctx, FLAT)
    assert not second.screen and fix_kind(second, ctx.algo) == "exploration"
    assert second.algo_changes["ent_coef"] > ctx.algo.ent_coef


def test_escalation_passes_other_diagnoses_and_new_structural_fixes_unchanged():
    ctx = _ctx()
    _iterate(ctx, FLAT)
    rising = Critique(verdict="revise_algo", diagnosis="still_improving", reason="r", warm_start=True)
    assert escalate(ctx, rising) is rising
    shaping = Critique(
        verdict="revise_mdp", diagnosis="plateau", reason="r", mdp_changes=MDPChanges(shaping="potential")
    )
    assert escalate(ctx, shaping) is shaping


def test_an_llm_hyperparameter_fix_after_a_hyperparameter_fix_is_replaced():
    ctx = _ctx(budget=150_000)
    _iterate(ctx, FLAT)
    ctx.steps_used = ctx.task.budget_steps - 30_000
    ctx.algo = EXPERT.select_algorithm(ctx)
    again = Critique(verdict="revise_algo", diagnosis="plateau", reason="flat", algo_changes={"lr": 1e-4})
    out = escalate(ctx, again)
    assert fix_kind(out, ctx.algo) in STRUCTURAL_FIXES and "flat again" not in out.reason
    assert out.reason.startswith("flat;")


@pytest.mark.parametrize("env", ["CartPole-v1", "Pendulum-v1"])
def test_screen_designs_differ_in_structure(env):
    ctx = _ctx(env=env, target=None)
    ctx.mdp = EXPERT.design_mdp(ctx)
    ctx.algo = EXPERT.select_algorithm(ctx)
    cands = screen_candidates(EXPERT, ctx, 5, seed=7)
    assert len(cands) == 5 and cands[0].label.startswith("screen: continue")
    assert len({c.algo.algorithm for c in cands}) >= 2  # another family
    assert any(c.mdp.history > 1 for c in cands)  # memory
    assert any(c.mdp.shaping == "potential" for c in cands)  # reward shaping
    signatures = {(c.mdp.code, c.mdp.history, c.algo.model_dump_json(exclude={"rationale"})) for c in cands}
    assert len(signatures) == 5
    assert [c.seed for c in cands] == [7, 8, 9, 10, 11]


def test_fix_kinds_classify_what_a_verdict_changes():
    algo = AlgoConfig(algorithm="PPO")
    assert (
        fix_kind(Critique(verdict="revise_algo", diagnosis="plateau", reason="", algo_changes={"lr": 1e-4}), algo)
        == "hyperparameters"
    )
    assert (
        fix_kind(Critique(verdict="revise_algo", diagnosis="plateau", reason="", algo_changes={"ent_coef": 0.05}), algo)
        == "exploration"
    )
    assert (
        fix_kind(Critique(verdict="revise_algo", diagnosis="plateau", reason="", next_algorithm="DQN"), algo)
        == "algorithm"
    )
    assert (
        fix_kind(Critique(verdict="revise_algo", diagnosis="plateau", reason="", next_algorithm="PPO"), algo) == "none"
    )
    assert (
        fix_kind(
            Critique(verdict="revise_mdp", diagnosis="plateau", reason="", mdp_changes=MDPChanges(history=4)), algo
        )
        == "representation"
    )
    assert (
        fix_kind(Critique(verdict="revise_algo", diagnosis="plateau", reason="", warm_start=True), algo) == "continue"
    )
    assert fix_kind(Critique(verdict="done", diagnosis="solved", reason=""), algo) == "none"


def test_a_policy_that_repeats_one_behaviour_gets_exploration_not_tuning():
    ctx = _ctx()
    ctx.mdp = EXPERT.design_mdp(ctx)
    ctx.algo = EXPERT.select_algorithm(ctx)
    steps = ctx.algo.budget_steps
    ctx.train = TrainResult(
        env_steps=steps,
        best_test_mean=150.0,
        stop_reason="plateau",
        iter_dir="/i1",
        curve=[CurvePoint(env_step=1000, mean=90.0, std=40.0, wall=0)]  # early tests vary
        + [CurvePoint(env_step=(i + 2) * 1000, mean=150.0, std=0.0, wall=i) for i in range(8)],
    )
    ctx.eval = EvalResult(mean=150.0, std=0.0, episodes=20, returns=[], mean_length=150)
    ctx.steps_used = steps
    c = EXPERT.critique(ctx)
    assert fix_kind(c, ctx.algo) == "exploration" and "one behaviour" in c.reason
    assert c.algo_changes["ent_coef"] > ctx.algo.ent_coef
    ctx.train = ctx.train.model_copy(update={"curve": [p.model_copy(update={"std": 3.0}) for p in ctx.train.curve]})
    assert fix_kind(EXPERT.critique(ctx), ctx.algo) == "hyperparameters"  # a spread: several behaviours


def test_a_screen_follows_a_structural_fix_that_did_not_help():
    ctx = _ctx()
    stuck = [CurvePoint(env_step=(i + 1) * 1000, mean=150.0, std=0.0, wall=i) for i in range(8)]
    kinds = []
    for _ in range(3):
        ctx.mdp = ctx.mdp if ctx.mdp is not None and ctx.critique.verdict != "revise_mdp" else EXPERT.design_mdp(ctx)
        ctx.algo = EXPERT.select_algorithm(ctx)
        ctx.train = TrainResult(
            env_steps=ctx.algo.budget_steps,
            best_test_mean=150.0,
            stop_reason="plateau",
            iter_dir=f"/i{ctx.iteration}",
            curve=stuck,
        )
        ctx.eval = EvalResult(mean=150.0, std=0.0, episodes=20, returns=[], mean_length=150)
        ctx.steps_used += ctx.algo.budget_steps // 4
        c = EXPERT.critique(ctx)
        kinds.append(fix_kind(c, ctx.algo))
        ctx.history.append(
            IterationRecord(
                iteration=ctx.iteration,
                mdp_summary=ctx.mdp.summary,
                mdp_code=ctx.mdp.code,
                algo=ctx.algo,
                env_steps=1,
                train_best=150.0,
                stop_reason="plateau",
                eval_mean=150.0,
                eval_std=0.0,
                eval_episodes=20,
                verdict=c.verdict,
                diagnosis=c.diagnosis,
                reason=c.reason,
                fix_kind=kinds[-1],
                iter_dir="/i",
                wall_seconds=1.0,
            )
        )
        ctx.critique, ctx.iteration = c, ctx.iteration + 1
    assert kinds == ["exploration", "screen", "continue"], kinds


def test_memory_already_there_gets_a_recurrent_layer_as_the_representation_step():
    from nodes.designers.escalation import next_structural_step

    ctx = _ctx()
    _iterate(ctx, FLAT)
    ctx.mdp = ctx.mdp.model_copy(update={"history": 4})  # e.g. the LLM or a reviewer gave it memory
    kind, fix = next_structural_step(ctx, {"exploration", "algorithm"})
    assert kind == "representation" and fix.algo_changes == {"encoder": "gru"} and not fix.warm_start
    assert fix_kind(fix, ctx.algo) == "representation"
    ctx.critique = fix
    assert EXPERT.select_algorithm(ctx).encoder == "gru"
    ctx.algo = ctx.algo.model_copy(update={"encoder": "gru"})
    kind, fix = next_structural_step(ctx, {"exploration", "algorithm"})
    assert fix.algo_changes == {"layer_norm": True}  # a recurrent layer already: normalisation next


def test_a_stuck_policy_on_a_countable_state_space_gets_a_count_bonus_learned_by_dqn():
    ctx = _ctx("Taxi-v4", target=7.0, budget=300_000)
    assert ctx.profile.distinct_observations < 0.5 and ctx.profile.reward_abs_median == 1.0  # measured
    ctx.mdp = EXPERT.design_mdp(ctx)
    ctx.algo = EXPERT.select_algorithm(ctx)
    assert ctx.algo.algorithm == "PPO" and ctx.algo.novelty_bonus == 0  # the default design is unchanged
    steps = ctx.algo.budget_steps
    ctx.train = TrainResult(
        env_steps=steps,
        best_test_mean=-200.0,
        stop_reason="plateau",
        iter_dir="/i1",
        curve=[CurvePoint(env_step=(i + 1) * 1000, mean=-200.0, std=0.0, wall=i) for i in range(8)],
    )
    ctx.eval = EvalResult(mean=-200.0, std=0.0, episodes=20, returns=[], mean_length=200)
    ctx.steps_used = steps
    c = EXPERT.critique(ctx)
    assert fix_kind(c, ctx.algo) == "exploration" and c.next_algorithm == "DQN", c
    assert c.algo_changes["novelty_bonus"] == 1.0 and "count-based" in c.changes[0]
    ctx.critique = c
    nxt = EXPERT.select_algorithm(ctx)
    assert nxt.algorithm == "DQN" and nxt.novelty_bonus == 1.0 and nxt.eps_decay_fraction == 0.5
    ctx.algo = nxt  # the bonus is there: exploration's next step is ε's, not the bonus again
    assert "novelty_bonus" not in (c2 := EXPERT.critique(ctx)).algo_changes, c2


def test_the_novelty_bonus_trains_only_and_is_reported_as_a_reward_term():
    from envs.mdp_wrapper import VisitCounts, make_mdp_env
    from nodes.design_mdp import original_mdp

    mdp = original_mdp(500)
    counts = VisitCounts(2.0)
    train = make_mdp_env("Taxi-v4", mdp.code, 500, shape_reward=True, novelty=counts)
    test = make_mdp_env("Taxi-v4", mdp.code, 500, shape_reward=False, novelty=counts)
    train.reset(seed=0)
    test.reset(seed=0)
    rewards = []
    for _ in range(3):
        obs, r, *_, info = train.step(4)  # pick up where there is no passenger: the same state each time
        rewards.append(r - info["original_reward"])
    assert rewards == pytest.approx([2.0, 2.0 / 2**0.5, 2.0 / 3**0.5])
    _, r, *_, info = test.step(4)
    assert r == info["original_reward"]  # tests and evaluation: the original reward
    for _ in range(200):  # to the time limit: the episode's terms are logged
        *_, term, trunc, _ = train.step(0)
        if term or trunc:
            break
    assert set(train.reward_log.totals) == {"reward", "novelty"}


def test_a_multi_agent_plateau_gets_memory_then_a_recurrent_layer_and_screens_memory_too():
    """Each agent sees only its own observation (SMAX: the units in sight), so memory is a
    representation step for agents as for one; then a GRU over what each remembers."""
    from conftest import TOY

    from nodes.designers.escalation import next_structural_step

    ctx = _ctx(env=TOY, target=None)
    _iterate(ctx, FLAT)
    assert ctx.profile.multi_agent and ctx.mdp.history == 1
    kind, fix = next_structural_step(ctx, {"exploration", "algorithm"})
    assert kind == "representation" and fix.mdp_changes.history == MEMORY_HISTORY
    ctx.critique = fix
    assert EXPERT.design_mdp(ctx).history == MEMORY_HISTORY
    ctx.mdp = ctx.mdp.model_copy(update={"history": MEMORY_HISTORY})
    kind, fix = next_structural_step(ctx, {"exploration", "algorithm"})
    assert kind == "representation" and fix.algo_changes == {"encoder": "gru"}
    ctx.mdp = ctx.mdp.model_copy(update={"history": 1})
    cands = screen_candidates(EXPERT, ctx, 5, seed=7)
    assert any(c.mdp.history == MEMORY_HISTORY for c in cands)


def test_a_screens_shaping_candidate_keeps_running_normalisation_instead_of_random_plays_statistics():
    """It built the shaped design with the fixed standardisation whenever the design normalised at all,
    swapping MetaDrive's running statistics for ones that blow up inputs random play never moved."""
    from nodes.designers.expert import running_normalisation

    ctx = _ctx(env="CartPole-v1", target=None)
    ctx.mdp = running_normalisation(EXPERT.build_mdp(ctx.profile, None, "none", 1.0, False, 1))
    ctx.algo = EXPERT.select_algorithm(ctx)
    shaped = [c.mdp for c in screen_candidates(EXPERT, ctx, 6, seed=0) if c.mdp.shaping == "potential"]
    assert shaped and all(m.normalize_obs and "standardised obs" not in m.summary for m in shaped)
