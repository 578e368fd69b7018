"""Defaults for a run from the env reference, the built-in task table and the environment."""

from __future__ import annotations

import os

import gymnasium as gym

from envs.registry import get_builtin

DEFAULT_RUNS_DIR = os.environ.get("AGENT2_RUNS_DIR", "runs")
DEFAULT_BUDGET_STEPS = 200_000
DEFAULT_MAX_ITERATIONS = 5
DEFAULT_EVAL_EPISODES = 20


def default_designer() -> str:
    """``$AGENT2_DESIGNER`` if set, else ``llm`` when a model endpoint is configured, else ``expert``."""
    from nodes.designers.llm_config import endpoint_configured

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
