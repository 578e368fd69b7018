"""Node: turn the user's request and the run's context into the task spec and run settings, every
default filled in (the built-in task's, Gymnasium's, the environment's, ``tools/run_rules.py``'s)."""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
from langgraph.runtime import Runtime

from envs.loading import canonical_ref
from envs.registry import get_builtin
from nodes.designers.llm_config import LLMSettings, endpoint_configured
from nodes.state import RunContext, RunRequest, RunSettings
from tools.run_folders import confine, runs_root
from tools.run_rules import DEFAULT_BUDGET_STEPS
from tools.schemas import TaskSpec

DEFAULT_RUNS_DIR = os.environ.get("AGENT2_RUNS_DIR", "runs")


def default_designer() -> str:
    """``$AGENT2_DESIGNER`` if set, else ``llm`` when a model endpoint is configured, else ``expert``."""
    return os.environ.get("AGENT2_DESIGNER") or ("llm" if endpoint_configured() else "expert")


def default_task_text(env: str) -> str:
    builtin = get_builtin(env)
    if builtin is not None:
        return builtin.description
    return f"Maximise the episode return of {env}."


def default_target(env: str) -> float | None:
    builtin = get_builtin(env)
    if builtin is not None:
        return builtin.target
    if env in gym.registry:
        return gym.registry[env].reward_threshold
    return None


def default_budget(env: str) -> int:
    builtin = get_builtin(env)
    return builtin.budget_steps if builtin is not None else DEFAULT_BUDGET_STEPS


def resolve_spec(request: RunRequest) -> TaskSpec:
    """The request with every default filled in (env paths made absolute: workers run elsewhere)."""
    env = canonical_ref(request.env)
    return TaskSpec(
        text=request.task or default_task_text(env),
        env=env,
        target=request.target if request.target is not None else default_target(env),
        budget_steps=request.budget_steps or default_budget(env),
        max_iterations=request.max_iterations,
        seed=request.seed,
        eval_episodes=request.eval_episodes,
    )


def run_settings(context: RunContext | None) -> RunSettings:
    """Settings of a run from its context, environment variables filling what it leaves unset."""
    ctx = context or RunContext()
    designer = ctx.designer or default_designer()
    llm = None
    if designer == "llm":
        llm = LLMSettings.from_env(**(ctx.llm.model_dump(exclude_unset=True) if ctx.llm else {}))
    review = ctx.review if ctx.review is not None else os.environ.get("AGENT2_REVIEW", "") in ("1", "true", "yes")
    return RunSettings(
        runs_dir=str(Path(ctx.runs_dir or DEFAULT_RUNS_DIR).resolve()),
        designer=designer,
        llm=llm,
        review=review,
        candidates=ctx.candidates,
        executor=ctx.executor,
        ray_address=ctx.ray_address or os.environ.get("RAY_ADDRESS") or None,
        max_parallel=ctx.max_parallel,
    )


def intake(request: RunRequest, runtime: Runtime[RunContext]) -> dict:
    return _intake(request, runtime.context)


def intake_on_server(request: RunRequest, runtime: Runtime[RunContext]) -> dict:
    """``intake`` on the LangGraph API server: a client's ``runs_dir`` must lie inside the runs root the
    operator set (``$AGENT2_RUNS_DIR``, else ``./runs`` where the server runs); outside it is refused."""
    context = runtime.context or RunContext()
    root = runs_root()
    runs_dir = confine(context.runs_dir, root) if context.runs_dir else root
    return _intake(request, context.model_copy(update={"runs_dir": str(runs_dir)}))


def _intake(request: RunRequest, context: RunContext | None) -> dict:
    return {"spec": resolve_spec(request), "settings": run_settings(context), "reviews": [], "history": []}
