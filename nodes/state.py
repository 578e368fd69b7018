"""The generator's state, defined once. Artefact types live in ``tools/schemas.py``."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict

from nodes.designers.llm_config import LLMSettings
from tools.run_rules import (
    DEFAULT_CANDIDATES,
    DEFAULT_EVAL_EPISODES,
    DEFAULT_MAX_ITERATIONS,
    MAX_BUDGET_STEPS,
    MAX_CANDIDATES,
    MAX_EVAL_EPISODES,
    MAX_ITERATIONS,
    MAX_SEED,
    SEED_STRIDE,
    RunStatus,
)
from tools.schemas import (
    AlgoConfig,
    Candidate,
    CandidateRank,
    CandidateResult,
    Critique,
    EnvProfile,
    EvalResult,
    IterationRecord,
    MDPDesign,
    ReviewNote,
    ReviewRecord,
    RunSummary,
    TaskAnalysis,
    TaskSpec,
    TrainResult,
)


class RunRequest(BaseModel):
    """What a user asks for: the graph's input (the form LangGraph Studio shows).

    Unset fields take the built-in task's values (or Gymnasium's reward threshold, or the
    defaults in ``nodes/intake.py``); the ``intake`` node resolves them into a ``TaskSpec``.
    """

    model_config = ConfigDict(extra="forbid")
    env: str = Field(
        min_length=1,
        max_length=1000,
        description="Built-in task (see 'agent2 tasks'), Gymnasium id, or path/to/file.py:factory.",
    )
    task: str | None = Field(None, description="The task in plain language (default: the built-in description).")
    target: float | None = Field(
        None,
        description="Mean evaluation score on the original metric that counts "
        "as solved (default: the built-in or Gymnasium threshold).",
    )
    budget_steps: int | None = Field(
        None,
        gt=0,
        le=MAX_BUDGET_STEPS,
        description="Env steps for the whole run, every iteration together (default: the built-in budget).",
    )
    max_iterations: int = Field(
        DEFAULT_MAX_ITERATIONS, gt=0, le=MAX_ITERATIONS, description="Most design-train-judge passes."
    )
    seed: int = Field(
        0, ge=0, le=MAX_SEED, description=f"Seed of the first iteration (later ones add {SEED_STRIDE} each)."
    )
    eval_episodes: int = Field(
        DEFAULT_EVAL_EPISODES, gt=0, le=MAX_EVAL_EPISODES, description="Episodes of the final evaluation."
    )


class RunContext(BaseModel):
    """How a run is carried out: the designer and its model, review, where runs live.

    The graph's context schema (LangGraph Studio's assistant settings; ``context=`` in
    ``langgraph-sdk``). Never the API key: that stays in the server's environment.
    """

    model_config = ConfigDict(extra="forbid")
    designer: Literal["expert", "llm"] | None = Field(
        None,
        description="Who designs: the offline expert or an LLM (default: llm when an endpoint is "
        "configured in the environment, else expert).",
    )
    llm: LLMSettings | None = Field(
        None,
        description="LLM designer: model, endpoint, structured-output method, limits; fields left "
        "out come from $AGENT2_*/$OPENAI_BASE_URL, then the defaults.",
    )
    review: bool | None = Field(
        None,
        description="Stop for a human review after MDP design and after algorithm selection (default: $AGENT2_REVIEW).",
    )
    runs_dir: str | None = Field(
        None, description="Folder of run folders and the run database (default: $AGENT2_RUNS_DIR or ./runs)."
    )
    candidates: int = Field(
        DEFAULT_CANDIDATES,
        ge=1,
        le=MAX_CANDIDATES,
        description="Designs trained side by side each iteration; the critic keeps the best on the original metric.",
    )
    executor: Literal["local", "ray"] = Field(
        "local", description="Where candidates train: local worker processes, or an existing Ray cluster."
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster to join (ray://head:10001 or host:port; default: $RAY_ADDRESS, else a local one).",
    )
    max_parallel: int | None = Field(
        None,
        ge=1,
        le=MAX_CANDIDATES,
        description="Most candidates training at once on the local executor (default: the CPU count).",
    )


class RunSettings(BaseModel):
    """How this run is carried out (not what it is for); kept in state so a resume needs nothing."""

    model_config = ConfigDict(extra="forbid")
    runs_dir: str = Field(description="Folder holding every run's folder and the run database.")
    designer: str = "expert"
    llm: LLMSettings | None = Field(None, description="Model settings of the LLM designer (never the key).")
    review: bool = Field(False, description="Stop for a human review of each MDP design and algorithm choice.")
    candidates: int = DEFAULT_CANDIDATES
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    max_parallel: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        """Checkpoints written while nodes drew progress bars hold ``progress``: the CLI draws them now."""
        return {k: v for k, v in data.items() if k != "progress"} if isinstance(data, dict) else data


class GeneratorState(TypedDict, total=False):
    spec: TaskSpec
    """The request resolved (defaults filled in) by the intake node."""
    settings: RunSettings
    profile: EnvProfile
    analysis: TaskAnalysis
    mdp: MDPDesign
    mdp_errors: list[str]
    algo: AlgoConfig
    train: TrainResult
    eval: EvalResult
    critique: Critique
    confirmation: EvalResult | None
    """The chosen policy's second evaluation, on fresh seeds (``nodes/confirm.py``); None when it was
    chosen from one evaluation."""
    confirmed_iteration: int | None
    """The iteration whose policy ``confirmation`` evaluated (a confirmation that missed the target with
    budget left sends the loop on; a later, better iteration is confirmed in its turn)."""
    iteration: int
    steps_used: int
    history: Annotated[list[IterationRecord], operator.add]
    status: RunStatus
    agent_dir: str
    summary: RunSummary
    review: ReviewNote | None
    """The last review's rejection, for the designer's next proposal (None after an approval)."""
    reviews: Annotated[list[ReviewRecord], operator.add]
    candidates: list[Candidate]
    """This iteration's K designs (K > 1 only), each trained on a branch of its own."""
    candidate_results: Annotated[list[CandidateResult], operator.add]
    """Every branch's result, every iteration; a finished branch's write survives a crash of the others."""
    ranking: list[CandidateRank]
    """This iteration's candidates, best first, as the fan-in ranked them."""
    wall_seconds: Annotated[float, operator.add]
    """Seconds spent inside nodes, summed over every pass (time between a kill and a resume excluded)."""


def run_position(state: GeneratorState) -> dict[str, int]:
    """Where a run stands against its limits, as ``run_rules.room_left`` and ``run_status`` take it:
    env steps left, the pass that would come next, and the most passes."""
    task = state["spec"]
    return {
        "steps_left": task.budget_steps - state.get("steps_used", 0),
        "next_iteration": state.get("iteration", 1),
        "max_iterations": task.max_iterations,
    }


class CandidateBranch(TypedDict):
    """What one ``train_candidate`` branch gets from the fan-out (``Send``)."""

    spec: TaskSpec
    settings: RunSettings
    iteration: int
    candidate: Candidate


class GeneratorOutput(TypedDict, total=False):
    """What a finished run hands back (the result Studio shows)."""

    status: RunStatus
    summary: RunSummary
    agent_dir: str
    history: list[IterationRecord]
