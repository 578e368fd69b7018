"""A screen: K *diverse* designs side by side on a share of the budget left, the best continued.

Where the variations of ``variations.py`` tune one decision of a design that works, a screen is
for a design that does not: each candidate differs from the current one in a structural decision
(the current design continued, another algorithm family with its defaults, stronger exploration,
observation memory, potential-based reward shaping, a third family), so the critic's next move
is decided by measurement rather than by another guess. Successive halving with one rung: every
candidate gets the same small budget, the fan-in ranks them on the original metric, and the
critic continues the winner from its weights with the rest of the budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nodes.designers.base import DesignContext
from nodes.designers.escalation import MEMORY_HISTORY, exploration_change
from tools.schemas import AlgoConfig, Candidate, MDPDesign, allowed_algorithms

if TYPE_CHECKING:
    from nodes.designers.expert import ExpertDesigner

SCREEN_K = 4
"""Designs in a screen (at least; ``--candidates`` raises it)."""
SCREEN_SHARE = 0.5
"""Share of the budget left that the screen spends, all candidates together."""


def screen_size(k: int) -> int:
    return max(SCREEN_K, k)


def _with_history(mdp: MDPDesign, history: int) -> MDPDesign:
    return mdp.model_copy(update={"history": history, "summary": f"{mdp.summary}, last {history} observations"})


def screen_candidates(expert: ExpertDesigner, ctx: DesignContext, k: int, seed: int) -> list[Candidate]:
    """``k`` structurally different designs, the current one (continued) first."""
    mdp, algo, p = ctx.mdp, ctx.algo, ctx.profile
    assert mdp is not None and algo is not None
    budget = algo.budget_steps
    fresh = algo.model_copy(update={"warm_start_from": None, "eps_start": 1.0})
    families = [a for a in allowed_algorithms(p.action.kind, p.multi_agent) if a != algo.algorithm]
    families.sort(key=lambda a: a != expert.alternative(algo.algorithm, p))
    options: list[tuple[str, MDPDesign, AlgoConfig]] = [("continue the current design", mdp, algo)]
    if families:
        options.append(
            (f"{families[0]} with its defaults", mdp, expert.default_config(families[0], p, budget, p.sparse_reward))
        )
    explore = exploration_change(ctx, fresh)
    if explore is not None:
        base = (
            expert.default_config(explore.next_algorithm, p, budget, p.sparse_reward)
            if explore.next_algorithm
            else fresh
        )
        options.append(
            (explore.changes[0], mdp, AlgoConfig.model_validate({**base.model_dump(), **explore.algo_changes}))
        )
    memory = ("memory", _with_history(mdp, MEMORY_HISTORY), fresh) if mdp.history == 1 else None
    shaping = (
        (
            "potential-based reward shaping",
            expert.reshaped(mdp, p, ctx.target, "potential", ctx.iteration, "kept from the screened design"),
            fresh,
        )
        if mdp.shaping is None
        else None
    )
    structural = [shaping, memory] if p.sparse_reward else [memory, shaping]
    options += [o for o in structural if o is not None]
    options += [
        (f"{a} with its defaults", mdp, expert.default_config(a, p, budget, p.sparse_reward)) for a in families[1:]
    ]
    out = []
    for label, m, a in options[:k]:
        out.append(
            Candidate(
                index=len(out),
                label=f"screen: {label}",
                mdp=m,
                algo=a.model_copy(update={"rationale": f"{a.rationale}; screen: {label}"}),
                seed=seed + len(out),
            )
        )
    while len(out) < k:
        out.append(
            Candidate(
                index=len(out),
                label=f"screen: current design, seed +{len(out)}",
                mdp=mdp,
                algo=fresh,
                seed=seed + len(out),
            )
        )
    return out
