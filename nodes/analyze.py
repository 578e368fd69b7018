"""Node: profile the env with tools, then let the designer analyse the task."""

from __future__ import annotations

import time

from langchain_core.runnables import RunnableConfig

from nodes.context import announce, design_context, run_designer, store
from nodes.state import GeneratorState
from tools.profiling import profile_env


def analyze_task(state: GeneratorState, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    task = state["spec"]
    profile = profile_env(task.env, seed=task.seed)
    update = {"profile": profile, "iteration": 1, "steps_used": 0, "status": "running"}
    analysis = run_designer(state, config).analyze(design_context({**state, **update}))
    store(state, config).started(task, state["settings"].designer)
    announce(
        "analyze_task",
        1,
        f"{analysis.objective} ({profile.obs_dim}-dim observations, "
        f"{profile.action.kind} actions, random-play return {profile.random_return_mean:.1f})",
    )
    return {**update, "analysis": analysis, "wall_seconds": time.perf_counter() - t0}
