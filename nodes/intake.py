"""Node: turn the user's request and the run's context into the task spec and run settings."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.config import resolve_spec, run_settings
from graph.state import RunContext, RunRequest


def intake(request: RunRequest, runtime: Runtime[RunContext]) -> dict:
    return {"spec": resolve_spec(request), "settings": run_settings(runtime.context), "reviews": [],
            "history": []}
