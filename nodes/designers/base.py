"""The contract every designer fulfils: typed answers (pydantic models) for each design step."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from tools.schemas import (
    AlgoConfig,
    Candidate,
    Critique,
    EnvProfile,
    EvalResult,
    IterationRecord,
    MDPDesign,
    ReviewNote,
    TaskAnalysis,
    TaskSpec,
    TrainResult,
)


@dataclass
class DesignContext:
    """What a designer sees when asked for a decision."""

    task: TaskSpec
    profile: EnvProfile
    analysis: TaskAnalysis | None = None
    history: list[IterationRecord] = field(default_factory=list)
    mdp: MDPDesign | None = None
    algo: AlgoConfig | None = None
    train: TrainResult | None = None
    eval: EvalResult | None = None
    critique: Critique | None = None
    iteration: int = 1
    steps_used: int = 0
    iter_dir: str = ""
    review: ReviewNote | None = None
    """A human's rejection of the last proposal at this stage (``mdp`` or ``algorithm``)."""

    def rejected(self, stage: str) -> ReviewNote | None:
        return self.review if self.review is not None and self.review.stage == stage else None

    @property
    def target(self) -> float | None:
        return self.task.target

    @property
    def steps_left(self) -> int:
        return max(0, self.task.budget_steps - self.steps_used)

    @property
    def iterations_left(self) -> int:
        """Iterations after the current one."""
        return max(0, self.task.max_iterations - self.iteration)


def observation_history(ctx: DesignContext) -> int:
    """Observations the next MDP design remembers: the critic's change, else the last design's."""
    change = ctx.critique.mdp_changes.history if ctx.critique is not None and ctx.mdp is not None else None
    return change or (ctx.mdp.history if ctx.mdp is not None else 1)


def critic_state(p: EnvProfile) -> bool:
    """Whether a multi-agent design's centralised critic reads the env's own global state
    (``MDPDesign.env_state``): when the env declares one smaller than every agent's observation side
    by side, unpadded (SMAX: its world state, as JaxMARL's MAPPO reads it; MPE's state is that
    concatenation, so nothing changes there). Measured on SMAX (bench/RESULTS.md, sessions 21 and 22):
    win rates as high within their noise (smax_3m 0.835 against 0.81 over two seeds at 1M joint steps;
    smax_8m 0.805 against 0.76 and 0.785 against 0.80 on seeds 0 and 1 at 600k), for 38 % less wall time
    on smax_8m (1,135 s against 1,828 s, the critic reading 192 values instead of 1,640)."""
    return p.multi_agent and 0 < p.state_dim < p.joint_obs_dim


def design_env_state(ctx: DesignContext) -> bool:
    """The next MDP design's ``env_state``: the last design's (a reviewer may have set it), else
    ``critic_state``'s."""
    return ctx.mdp.env_state if ctx.mdp is not None else critic_state(ctx.profile)


DOMINANT_SHARE = 0.9


def reward_term_notes(train: TrainResult | None) -> list[str]:
    """What the critic should know of a reward made of named terms: a term that dominates the
    others, or one that never fired during training."""
    terms = train.reward_terms if train is not None else {}
    notes = []
    for name, t in terms.items():
        if t.nonzero_fraction == 0.0:
            notes.append(f"reward term {name!r} never fired")
        elif len(terms) > 1 and t.share >= DOMINANT_SHARE:
            notes.append(
                f"reward term {name!r} dominates ({t.share:.0%} of the reward, episode mean {t.episode_mean:.3g})"
            )
    return notes


def reward_terms_text(train: TrainResult | None) -> str:
    terms = train.reward_terms if train is not None else {}
    if not terms:
        return "(reward() returned a number: no terms)"
    return "\n".join(
        f"- {name}: episode mean {t.episode_mean:.3g} ± {t.episode_std:.3g}, non-zero on "
        f"{t.nonzero_fraction:.0%} of steps, {t.share:.0%} of the reward"
        for name, t in terms.items()
    )


class Designer(ABC):
    name: str

    @abstractmethod
    def analyze(self, ctx: DesignContext) -> TaskAnalysis: ...

    @abstractmethod
    def design_mdp(self, ctx: DesignContext) -> MDPDesign | None:
        """The MDP design, or None when the designer has none (the loop falls back)."""

    def repair_mdp(self, ctx: DesignContext, design: MDPDesign, error: str) -> MDPDesign | None:
        """A fixed design for ``error``, or None to fall back to the last good design."""
        return None

    @abstractmethod
    def select_algorithm(self, ctx: DesignContext) -> AlgoConfig: ...

    def propose_candidates(self, ctx: DesignContext, k: int, seed: int) -> list[Candidate]:
        """``k`` diverse designs around the chosen one (``ctx.mdp``, ``ctx.algo``), that one first.

        The default is the expert's principled variations (``variations.py``).
        """
        from nodes.designers.variations import expert_candidates  # it imports this module (a cycle at import)

        assert ctx.mdp is not None and ctx.algo is not None
        return expert_candidates(ctx.mdp, ctx.algo, k, seed, multi_agent=ctx.profile.multi_agent)

    def propose_screen(self, ctx: DesignContext, k: int, seed: int) -> list[Candidate]:
        """``k`` structurally different designs to screen after a repeated failure, the current
        design (continued) first; the default is the expert's (``screen.py``)."""
        from nodes.designers.expert import ExpertDesigner  # both import this module (a cycle at import)
        from nodes.designers.screen import screen_candidates

        return screen_candidates(ExpertDesigner(), ctx, k, seed)

    @abstractmethod
    def critique(self, ctx: DesignContext) -> Critique: ...
