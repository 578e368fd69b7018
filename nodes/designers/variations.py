"""Principled variations of a design: what an RL practitioner tries next to the first choice.

Candidate 0 is the designer's own choice; candidate i > 0 changes one decision, taken in the order
practitioners tune them (learning rate both ways first, then the observation pipeline, network
width, exploration, horizon), skipping a change that would leave the design as it was. Every
variation costs about the same compute per env step as candidate 0 (no bigger update-to-data
ratio, no extra envs), so K candidates cost K times one, not more. Past the list, candidates
differ in their seed only.
"""

from __future__ import annotations

from collections.abc import Callable

from tools.schemas import AlgoConfig, Candidate, MDPDesign

Change = Callable[[MDPDesign, AlgoConfig], tuple[MDPDesign, AlgoConfig]]


def _algo(**fields: object) -> Change:
    def change(mdp: MDPDesign, algo: AlgoConfig) -> tuple[MDPDesign, AlgoConfig]:
        values = {k: (v(algo) if callable(v) else v) for k, v in fields.items()}
        return mdp, AlgoConfig.model_validate({**algo.model_dump(), **values})

    return change


def _running_obs_norm(mdp: MDPDesign, algo: AlgoConfig) -> tuple[MDPDesign, AlgoConfig]:
    flip = not mdp.normalize_obs
    summary = (
        (mdp.summary + ", running obs normalisation")
        if flip
        else mdp.summary.replace(", running obs normalisation", "")
    )
    return mdp.model_copy(update={"normalize_obs": flip, "summary": summary}), algo


def _wider(algo: AlgoConfig) -> list[int]:
    return [min(4096, 2 * h) for h in algo.hidden_sizes]


FIRST: list[tuple[str, Change]] = [
    ("lr ×3", _algo(lr=lambda a: min(3e-3, a.lr * 3))),
    ("lr ×0.3", _algo(lr=lambda a: a.lr * 0.3)),
    ("running obs normalisation (toggled)", _running_obs_norm),
]
"""What every algorithm tries first: the learning rate both ways, then the observation pipeline."""
ON_POLICY: list[tuple[str, Change]] = [
    *FIRST,
    ("wider network", _algo(hidden_sizes=_wider)),
    ("entropy bonus 0.01", _algo(ent_coef=0.01)),
    ("longer horizon (γ 0.995, λ 0.98)", _algo(gamma=0.995, gae_lambda=0.98)),
    ("relu", _algo(activation="relu")),
]
OFF_POLICY: list[tuple[str, Change]] = [
    *FIRST,
    ("wider network", _algo(hidden_sizes=_wider)),
    ("shorter horizon (γ 0.98)", _algo(gamma=0.98)),
    ("slower targets (τ 0.002)", _algo(tau=0.002)),
    ("3-step returns", _algo(n_step=3)),
]
DQN: list[tuple[str, Change]] = [
    *FIRST,
    ("longer exploration (ε decay over 40 %)", _algo(eps_decay_fraction=0.4)),
    ("1-step returns", _algo(n_step=1)),
    ("target update every 1000 updates", _algo(target_update_freq=1000)),
]


def changes_for(algo: AlgoConfig) -> list[tuple[str, Change]]:
    if algo.algorithm == "DQN":
        return DQN
    return ON_POLICY if algo.on_policy else OFF_POLICY


def _same(a: tuple[MDPDesign, AlgoConfig], b: tuple[MDPDesign, AlgoConfig]) -> bool:
    return (
        a[0].code == b[0].code
        and a[0].normalize_obs == b[0].normalize_obs
        and a[1].model_dump(exclude={"rationale"}) == b[1].model_dump(exclude={"rationale"})
    )


def expert_candidates(
    mdp: MDPDesign, algo: AlgoConfig, k: int, seed: int, multi_agent: bool = False
) -> list[Candidate]:
    """``k`` candidates: the design itself, then one principled change each, then other seeds. A
    multi-agent env keeps its observation pipeline (running normalisation is single-agent only,
    ``tools.mdp_check.unsupported_design``)."""
    out = [Candidate(index=0, label="as designed", mdp=mdp, algo=algo, seed=seed)]
    for label, change in changes_for(algo):
        if len(out) == k:
            break
        if multi_agent and change is _running_obs_norm:
            continue
        try:
            variant = change(mdp, algo)
        except ValueError:  # the change is out of this config's bounds
            continue
        if any(_same(variant, (c.mdp, c.algo)) for c in out):
            continue
        v_mdp, v_algo = variant
        out.append(
            Candidate(
                index=len(out),
                label=label,
                mdp=v_mdp,
                algo=v_algo.model_copy(update={"rationale": f"{algo.rationale}; variation: {label}"}),
                seed=seed + len(out),
            )
        )
    while len(out) < k:
        out.append(
            Candidate(index=len(out), label=f"as designed, seed +{len(out)}", mdp=mdp, algo=algo, seed=seed + len(out))
        )
    return out
