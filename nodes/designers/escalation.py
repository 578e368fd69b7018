"""The critic's search: a failure that repeats gets a different *kind* of fix.

Every verdict is classified by what it changes (``fix_kind``): hyper-parameters only, exploration,
the algorithm family, the representation (observation history, normalisation, network: a recurrent
layer over the history, layer norm), the reward
(potential-based shaping), or a screen of diverse designs. ``escalate`` is the one rule both
designers pass their verdicts through:

- A "flat" failure (no progress, or a plateau below the target) right after a flat iteration whose
  fix was hyper-parameters only must change something structural.
- The same flat failure twice in a row (the designer has no confident fix: it proposes no
  structural change it has not tried) screens K diverse designs on a share of the budget left
  (``nodes/designers/screen.py``), once per run while the budget can pay for it; the critic then
  continues the winner with the rest.
- A structural step already tried in this run is not tried again; the ladder's order is the order
  practitioners try them: exploration, algorithm family, representation, reward.

So five learning-rate decays in a row cannot happen: at most one hyper-parameter fix, then a
structural one, for each stretch of flat iterations.
"""

from __future__ import annotations

from collections.abc import Callable

from nodes.designers.base import DesignContext
from tools.schemas import STRUCTURAL_FIXES, AlgoConfig, Critique, EnvProfile, IterationRecord, MDPChanges

FLAT_DIAGNOSES = ("no_progress", "plateau")
EXPLORATION_FIELDS = (
    "ent_coef",
    "eps_start",
    "eps_final",
    "eps_decay_fraction",
    "exploration_noise",
    "alpha",
    "novelty_bonus",
)
COUNTABLE_OBSERVATIONS = 0.5
"""Random play that sees at most this many distinct observations per step keeps revisiting a few: a
countable state space, where a count-based novelty bonus is meaningful."""
REPRESENTATION_FIELDS = ("hidden_sizes", "activation", "layer_norm", "encoder")
MEMORY_HISTORY = 4
"""Observations remembered when the critic adds memory (a frame stack of 4, as in DQN's Atari work)."""
SCREEN_MIN_STEPS_LEFT = 40_000
"""A screen needs a budget left that pays for several short trainings and a continuation."""


def continuation_changes(algo: AlgoConfig) -> dict:
    """What continuing an agent from its weights changes: a DQN's ε starts where it ended."""
    return {"eps_start": algo.eps_final} if algo.algorithm == "DQN" else {}


def keep_training(algo: AlgoConfig, diagnosis: str, reason: str, change: str, **fields) -> Critique:
    """The verdict that continues the same agent from its weights (``revise_algo``, warm start)."""
    return Critique(
        verdict="revise_algo",
        diagnosis=diagnosis,
        reason=reason,
        changes=[change],
        warm_start=True,
        algo_changes=continuation_changes(algo),
        **fields,
    )


def fix_kind(c: Critique, algo: AlgoConfig | None) -> str:
    """What kind of change ``c`` makes to the design that produced ``algo``."""
    if c.verdict in ("done", "give_up"):
        return "none"
    if c.screen:
        return "screen"
    if c.algo_changes.get("novelty_bonus") and (algo is None or not algo.novelty_bonus):
        return "exploration"
    if c.next_algorithm and (algo is None or c.next_algorithm != algo.algorithm):
        return "algorithm"
    m = c.mdp_changes
    if m.shaping is not None or m.shaping_scale is not None:
        return "reward"
    if m.history is not None or m.normalize_obs is not None:
        return "representation"
    if m.sanitize_reward:
        return "repair"
    carried = continuation_changes(algo) if (c.warm_start and algo is not None) else {}
    keys = {k for k, v in c.algo_changes.items() if k not in carried or carried[k] != v}
    if keys & set(EXPLORATION_FIELDS):
        return "exploration"
    if keys & set(REPRESENTATION_FIELDS):
        return "representation"
    if keys:
        return "hyperparameters"
    return "continue" if c.warm_start else "none"


def flat_streak(history: list[IterationRecord]) -> int:
    """Flat iterations at the end of ``history``, in a row (a screen's continuation neither
    breaks the row nor counts: it is part of the search)."""
    n = 0
    for r in reversed(history):
        if r.diagnosis == "screened":
            continue
        if r.diagnosis not in FLAT_DIAGNOSES:
            break
        n += 1
    return n


def novelty_scale(p: EnvProfile) -> float:
    """The count bonus's scale: what a typical step of random play is worth (median |reward|), else a
    tenth of the reward range it saw, else 0.1 (random play saw one reward value only)."""
    if p.reward_abs_median > 0:
        return p.reward_abs_median
    spread = p.reward_max - p.reward_min
    return 0.1 * spread if spread > 0 else 0.1


def countable(p: EnvProfile) -> bool:
    return p.distinct_observations <= COUNTABLE_OBSERVATIONS and not p.multi_agent


def novelty_change(ctx: DesignContext, algo: AlgoConfig) -> Critique | None:
    """Count-based exploration (Strehl & Littman 2008's MBIE-EB bonus) for a countable state space
    with discrete actions, learned by DQN with ε again from 1.0 over half the budget: optimism about
    the states it has rarely seen (on Taxi, PPO's tests stay at -200 even with an entropy bonus; a
    DQN with this ε schedule alone also finds deliveries, see bench/RESULTS.md)."""
    p = ctx.profile
    if not countable(p) or p.action.kind != "discrete" or algo.novelty_bonus > 0:
        return None
    scale = novelty_scale(p)
    words = [
        f"count-based novelty bonus {scale:g}/sqrt(visits) in training: random play revisits its "
        f"observations ({p.distinct_observations:.2f} distinct per step)"
    ]
    changes: dict = {"novelty_bonus": scale, "eps_start": 1.0, "eps_decay_fraction": 0.5, "eps_final": 0.1}
    if algo.algorithm != "DQN":
        words.append(f"learned by DQN (ε-greedy values) instead of {algo.algorithm}")
        return Critique(
            verdict="revise_algo",
            diagnosis="plateau",
            reason="",
            changes=words,
            algo_changes=changes,
            next_algorithm="DQN",
        )
    return Critique(
        verdict="revise_algo", diagnosis="plateau", reason="", changes=words, algo_changes=changes, warm_start=True
    )


def exploration_change(ctx: DesignContext, algo: AlgoConfig) -> Critique | None:
    novelty = novelty_change(ctx, algo)
    if novelty is not None:
        return novelty
    if algo.algorithm == "DQN":
        if algo.eps_decay_fraction >= 0.5 and algo.eps_final >= 0.1:
            return None
        changes = {
            "eps_start": 1.0,
            "eps_decay_fraction": max(0.5, algo.eps_decay_fraction),
            "eps_final": max(0.1, algo.eps_final),
        }
        words = ["ε-greedy again from 1.0, decaying over half the budget to 0.1"]
    elif algo.on_policy:
        if algo.ent_coef >= 0.05:
            return None
        changes = {"ent_coef": 0.05 if algo.ent_coef >= 0.01 else 0.02}
        words = [f"entropy bonus {algo.ent_coef:g} -> {changes['ent_coef']:g}"]
    else:
        if algo.exploration_noise >= 0.5:
            return None
        changes = {"exploration_noise": 0.5 if algo.exploration_noise >= 0.2 else 0.3}
        words = [f"Gaussian action noise {algo.exploration_noise:g} -> {changes['exploration_noise']:g}"]
    return Critique(
        verdict="revise_algo", diagnosis="plateau", reason="", changes=words, algo_changes=changes, warm_start=True
    )


def _algorithm(ctx: DesignContext, algo: AlgoConfig) -> Critique | None:
    from nodes.designers.expert import ExpertDesigner  # it imports this module (a cycle at import)

    switch = ExpertDesigner.alternative(algo.algorithm, ctx.profile)
    return Critique(
        verdict="revise_algo",
        diagnosis="plateau",
        reason="",
        changes=[f"switch {algo.algorithm} -> {switch}"],
        next_algorithm=switch,
    )  # type: ignore[arg-type]


def _representation(ctx: DesignContext, algo: AlgoConfig) -> Critique | None:
    mdp = ctx.mdp
    if mdp is None:
        return None
    if mdp.history == 1:
        return Critique(
            verdict="revise_mdp",
            diagnosis="plateau",
            reason="",
            changes=[
                f"remember the last {MEMORY_HISTORY} observations (frame stack): the task may "
                "hide what the policy needs in earlier steps"
            ],
            mdp_changes=MDPChanges(history=MEMORY_HISTORY),
        )
    if mdp.history > 1 and algo.encoder == "mlp" and not mdp.images:
        return Critique(
            verdict="revise_algo",
            diagnosis="plateau",
            reason="",
            changes=[f"a recurrent layer (GRU) reads the last {mdp.history} observations in order"],
            algo_changes={"encoder": "gru"},
        )
    if not algo.layer_norm:
        return Critique(
            verdict="revise_algo",
            diagnosis="plateau",
            reason="",
            changes=["layer normalisation in the networks"],
            algo_changes={"layer_norm": True},
        )
    return None


def _reward(ctx: DesignContext, algo: AlgoConfig) -> Critique | None:
    if ctx.mdp is None or ctx.mdp.shaping is not None:
        return None
    return Critique(
        verdict="revise_mdp",
        diagnosis="plateau",
        reason="",
        changes=[
            "add potential-based shaping from the distance to the start states (leaves the optimal policy unchanged)"
        ],
        mdp_changes=MDPChanges(shaping="potential"),
    )


LADDER: list[tuple[str, Callable[[DesignContext, AlgoConfig], Critique | None]]] = [
    ("exploration", exploration_change),
    ("algorithm", _algorithm),
    ("representation", _representation),
    ("reward", _reward),
]


def next_structural_step(ctx: DesignContext, done: set[str]) -> tuple[str, Critique] | None:
    """The ladder's first structural fix that applies to the current design and is not in ``done``."""
    algo = ctx.algo
    assert algo is not None
    for kind, make in LADDER:
        c = make(ctx, algo) if kind not in done else None
        if c is not None:
            return kind, c
    return None


def screen_affordable(ctx: DesignContext) -> bool:
    return ctx.steps_left >= SCREEN_MIN_STEPS_LEFT and ctx.iterations_left >= 2


def escalate(ctx: DesignContext, proposed: Critique) -> Critique:
    """``proposed``, or a structural fix instead when it would repeat a kind of fix on a repeated
    flat failure (see the module's docstring). Other verdicts pass unchanged."""
    if proposed.verdict in ("done", "give_up") or proposed.diagnosis not in FLAT_DIAGNOSES:
        return proposed
    history, algo = ctx.history, ctx.algo
    assert algo is not None
    kind = fix_kind(proposed, algo)
    streak = flat_streak(history)
    if streak == 0:
        return proposed
    last_kind = next(r.fix_kind for r in reversed(history) if r.diagnosis != "screened")
    done = {r.fix_kind for r in history}
    if kind in STRUCTURAL_FIXES and kind != last_kind and kind not in done:
        return proposed  # already a new structural change
    why = (
        f"{proposed.diagnosis.replace('_', ' ')} again ({streak + 1} flat iterations in a row, the last fix: "
        f"{last_kind})"
    )

    def screen(reason: str, what: str) -> Critique:
        return keep_training(
            algo,
            proposed.diagnosis,
            f"{proposed.reason}; {why}{reason}",
            f"screen diverse designs{what} on a share of the budget left; continue the best",
            screen=True,
        )

    if "screen" not in done and screen_affordable(ctx):
        return screen(
            ": no confident fix, so screen diverse designs", " (algorithm family, exploration, memory, shaping)"
        )
    step = next_structural_step(ctx, done)
    if step is not None:
        step_kind, fix = step
        return fix.model_copy(
            update={"diagnosis": proposed.diagnosis, "reason": f"{proposed.reason}; {why}: change the {step_kind}"}
        )
    if last_kind != "screen" and screen_affordable(ctx):
        return screen("; every structural change was tried: screen again", "")
    return proposed
