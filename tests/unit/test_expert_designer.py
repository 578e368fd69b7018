"""The expert designer's decisions come from measured properties and curves."""

import pytest
from conftest import ENV_FILE, profile_once

from nodes.designers.base import DesignContext
from nodes.designers.expert import ExpertDesigner, discount
from tools.schemas import AlgoConfig, CurvePoint, EvalResult, TaskSpec, TrainResult

EXPERT = ExpertDesigner()


def ctx_for(env: str, target=None, budget=100_000, **kw) -> DesignContext:
    task = TaskSpec(text="t", env=env, target=target, budget_steps=budget)
    return DesignContext(task=task, profile=profile_once(env), **kw)


@pytest.fixture
def cartpole():
    return ctx_for("CartPole-v1", target=475)


@pytest.fixture
def mcc():
    return ctx_for("MountainCarContinuous-v0", target=90)


def test_discrete_gets_ppo_continuous_gets_sac(cartpole, mcc):
    assert EXPERT.select_algorithm(cartpole).algorithm == "PPO"
    assert EXPERT.select_algorithm(mcc).algorithm == "SAC"


def test_sparse_reward_gets_potential_shaping_and_exploration(mcc, cartpole):
    design = EXPERT.design_mdp(mcc)
    assert design.shaping == "potential" and "potential" in design.code
    assert EXPERT.select_algorithm(mcc).exploration_noise > 0
    assert EXPERT.design_mdp(cartpole).shaping is None


def test_discount_follows_the_horizon(cartpole):
    assert discount(cartpole.profile) == pytest.approx(0.99)
    assert EXPERT.select_algorithm(cartpole).gamma == pytest.approx(0.99)


def test_first_iteration_keeps_budget_for_later_ones(cartpole):
    cfg = EXPERT.select_algorithm(cartpole)
    assert cfg.budget_steps == 60_000 and cfg.epoch_steps <= cfg.budget_steps / 10


def test_unseen_env_from_a_file_gets_a_design():
    ctx = ctx_for(f"{ENV_FILE}:make_env", budget=20_000)
    analysis = EXPERT.analyze(ctx)
    assert analysis.action_type == "discrete"
    assert EXPERT.select_algorithm(ctx).algorithm in ("PPO", "DQN")
    assert EXPERT.design_mdp(ctx).obs_dim == 1


def _judge(
    ctx: DesignContext,
    curve: list[float],
    eval_mean: float | None,
    stop="budget",
    mdp=None,
    algo=None,
    error=None,
    untrained_first=False,
):
    ctx.mdp = mdp or EXPERT.design_mdp(ctx)
    ctx.algo = algo or EXPERT.select_algorithm(ctx)
    ctx.train = TrainResult(
        env_steps=ctx.algo.budget_steps,
        best_test_mean=max(curve) if curve else None,
        stop_reason=stop,
        iter_dir="/tmp/x",
        error=error,
        curve=[
            CurvePoint(env_step=1000 * (i + 1), mean=m, std=1, wall=i, untrained=untrained_first and i == 0)
            for i, m in enumerate(curve)
        ],
    )
    ctx.eval = EvalResult(
        mean=eval_mean, std=0 if eval_mean is not None else None, episodes=20, returns=[], mean_length=1
    )
    ctx.steps_used = ctx.algo.budget_steps
    return EXPERT.critique(ctx)


def test_critic_solved(cartpole):
    assert _judge(cartpole, [20, 200, 500], 500).verdict == "done"


def test_critic_no_progress_on_sparse_reward_revises_the_mdp(mcc):
    base = EXPERT.build_mdp(mcc.profile, 90, "none", 1.0, False, 1)
    c = _judge(mcc, [-33, -32, -33, -33], -33, mdp=base)
    assert (c.verdict, c.diagnosis, c.mdp_changes.shaping) == ("revise_mdp", "no_progress", "potential")


def test_critic_no_progress_with_shaping_switches_algorithm(mcc):
    c = _judge(mcc, [-33, -32, -33, -33], -33)
    assert (c.verdict, c.next_algorithm) == ("revise_algo", "TD3")


def test_critic_still_improving_continues_warm(cartpole):
    c = _judge(cartpole, [20, 60, 100, 150, 200, 260, 320, 380], 380)
    assert (c.diagnosis, c.warm_start) == ("still_improving", True)
    cartpole.critique = c
    cartpole.history = [type("R", (), {"iter_dir": "/tmp/iter_1", "stop_reason": "budget"})()]
    nxt = EXPERT.select_algorithm(cartpole)
    assert nxt.warm_start_from == "/tmp/iter_1" and nxt.algorithm == "PPO"


def test_critic_unstable_lowers_learning_rate(cartpole):
    algo = EXPERT.select_algorithm(cartpole)
    c = _judge(cartpole, [20, 200, 450, 460, 300, 120, 90, 100], 100, algo=algo)
    assert c.diagnosis == "unstable" and c.algo_changes["lr"] == pytest.approx(algo.lr * 0.7)


def test_critic_divergence_and_crash(cartpole):
    algo = AlgoConfig(algorithm="PPO", lr=1e-3)
    c = _judge(cartpole, [20, 30], None, stop="divergence", algo=algo, error="non-finite loss")
    assert (c.diagnosis, c.verdict) == ("diverged", "revise_algo") and c.algo_changes["lr"] == 5e-4
    c = _judge(cartpole, [], None, stop="crash", algo=algo, error="boom")
    assert c.diagnosis == "crashed"


def test_critic_tests_met_target_but_evaluation_did_not_trains_on(cartpole):
    c = _judge(cartpole, [20, 300, 480], 430, stop="target")
    assert (c.verdict, c.diagnosis, c.warm_start) == ("revise_algo", "still_improving", True)
    assert not c.algo_changes  # same hyper-parameters


def test_changes_from_a_critic_are_validated_one_by_one(cartpole):
    from tools.schemas import Critique

    first = EXPERT.select_algorithm(cartpole)
    cartpole.algo = first
    cartpole.critique = Critique(
        verdict="revise_algo",
        diagnosis="plateau",
        reason="r",
        next_algorithm="SAC",
        algo_changes={"lr": 5e-4, "learning_rate": 3, "gamma": 7.0, "batch_size": 128},
    )
    nxt = EXPERT.select_algorithm(cartpole)  # SAC cannot take discrete actions: kept PPO
    assert nxt.algorithm == "PPO" and nxt.lr == 5e-4 and nxt.batch_size == 128 and nxt.gamma == first.gamma


def test_critic_starts_over_with_standardised_observations_and_ppo_when_the_sac_policy_died(mcc):
    """MetaDrive's SAC actor lost every ReLU unit of its first layer on raw observations; standardised
    ones kept them (tools.dead_units), and PPO (tanh units) on them beat SAC on them at a tenth of the
    compute. Its weights are lost: no warm start."""
    raw = EXPERT.build_mdp(mcc.profile, 90, "none", 1.0, False, 1)
    sac = EXPERT.select_algorithm(mcc).model_copy(update={"algorithm": "SAC", "activation": "relu"})
    c = _judge(mcc, [-30, -31], -30, stop="dead_units", mdp=raw, algo=sac)
    assert (c.verdict, c.diagnosis, c.mdp_changes.normalize_obs, c.next_algorithm, c.warm_start) == (
        "revise_mdp",
        "dead_units",
        True,
        "PPO",
        False,
    )
    mcc.critique = c
    revived = EXPERT.design_mdp(mcc)  # running statistics: random play's would blow up inputs it never moved
    assert revived.normalize_obs and revived.code == raw.code and "running obs normalisation" in revived.summary
    mcc.mdp = revived
    nxt = EXPERT.select_algorithm(mcc)
    assert (nxt.algorithm, nxt.activation, nxt.warm_start_from) == ("PPO", "tanh", None)
    c = _judge(mcc, [-30, -31], -30, stop="dead_units", mdp=revived, algo=sac)
    assert (c.verdict, c.next_algorithm, c.warm_start) == ("revise_algo", "TD3", False)


def test_an_on_policy_learner_whose_units_died_keeps_its_algorithm_on_standardised_inputs(cartpole):
    relu = EXPERT.select_algorithm(cartpole).model_copy(update={"activation": "relu"})
    c = _judge(cartpole, [20, 21], 20, stop="dead_units", algo=relu)
    assert (c.verdict, c.mdp_changes.normalize_obs, c.next_algorithm) == ("revise_mdp", True, None)


def test_envs_of_a_process_each_keep_the_on_policy_batch_layout_and_few_off_policy_envs(mcc):
    """One env per process (MetaDrive): SAC steps two; PPO keeps its envs x steps layout."""
    mcc.profile = mcc.profile.model_copy(update={"one_per_process": True})
    sac = EXPERT.select_algorithm(mcc)
    assert sac.algorithm == "SAC" and (sac.n_train_envs, sac.n_test_envs) == (2, 2)
    mcc.algo, mcc.mdp = sac, EXPERT.design_mdp(mcc)
    from tools.schemas import Critique

    mcc.critique = Critique(verdict="revise_algo", diagnosis="plateau", reason="r", next_algorithm="PPO")
    ppo = EXPERT.select_algorithm(mcc)
    default = EXPERT.default_config("PPO", mcc.profile, ppo.budget_steps, bool(mcc.profile.sparse_reward))
    assert ppo.algorithm == "PPO" and (ppo.n_train_envs, ppo.collect_steps) == (
        default.n_train_envs,
        default.collect_steps,
    )
    assert ppo.n_train_envs > 2


def test_no_critic_warm_starts_from_weights_whose_units_died(cartpole):
    """The LLM critic may still ask for a warm start after a dead_units stop; the weights are lost."""
    from tools.schemas import Critique

    cartpole.algo = EXPERT.select_algorithm(cartpole)
    cartpole.critique = Critique(verdict="revise_algo", diagnosis="plateau", reason="r", warm_start=True)
    record = {"iter_dir": "/tmp/iter_1", "stop_reason": "plateau"}
    cartpole.history = [type("R", (), record)()]
    assert EXPERT.select_algorithm(cartpole).warm_start_from == "/tmp/iter_1"
    cartpole.history = [type("R", (), {**record, "stop_reason": "dead_units"})()]
    assert EXPERT.select_algorithm(cartpole).warm_start_from is None


def test_the_critic_reads_a_climb_after_an_untrained_best_as_a_climb():
    """The first test of an iteration trained from scratch is the untrained policy's; where doing
    nothing pays it can be the best test for long (Ant stands still for 982). Read as the curve's peak,
    the climb of the trained tests after it looked like a fall (session 7: "unstable", lr x 0.7)."""
    curve = [-250.0, -1100.0, -900.0, -800.0, -700.0, -600.0, -500.0]
    unflagged = _judge(ctx_for("Pendulum-v1", target=-200), curve, -500.0)
    assert unflagged.diagnosis != "still_improving"  # read as the peak, the first test hides the climb
    flagged = _judge(ctx_for("Pendulum-v1", target=-200), curve, -500.0, untrained_first=True)
    assert flagged.diagnosis == "still_improving" and flagged.warm_start
