"""The generator's state, defined once. Artefact types live in ``tools/schemas.py``."""

from __future__ import annotations

import operator
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from nodes.designers.llm_config import LLMSettings
from tools.schemas import (
    AlgoConfig,
    Critique,
    EnvProfile,
    EvalResult,
    IterationRecord,
    MDPDesign,
    TaskAnalysis,
    TaskSpec,
    TrainResult,
)

RunStatus = Literal["running", "target_met", "budget_exhausted", "failed"]


class RunSettings(BaseModel):
    """How this run is carried out (not what it is for); kept in state so a resume needs nothing."""

    model_config = ConfigDict(extra="forbid")
    runs_dir: str = Field(description="Folder holding every run's folder and the run database.")
    designer: str = "expert"
    llm: LLMSettings | None = Field(None, description="Model settings of the LLM designer (never the key).")
    progress: bool = True


class GeneratorState(TypedDict, total=False):
    task: TaskSpec
    settings: RunSettings
    profile: EnvProfile
    analysis: TaskAnalysis
    mdp: MDPDesign
    mdp_errors: list[str]
    algo: AlgoConfig
    train: TrainResult
    eval: EvalResult
    critique: Critique
    iteration: int
    steps_used: int
    history: Annotated[list[IterationRecord], operator.add]
    status: RunStatus
    agent_dir: str
    wall_seconds: Annotated[float, operator.add]
    """Seconds spent inside nodes, summed over every pass (time between a kill and a resume excluded)."""


class GeneratorInput(TypedDict, total=False):
    task: TaskSpec
    settings: RunSettings


class GeneratorOutput(TypedDict, total=False):
    status: RunStatus
    history: list[IterationRecord]
    agent_dir: str
