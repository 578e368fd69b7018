"""Node: turn the user's request and the run's context into the task spec and run settings."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.config import resolve_spec, run_settings
from graph.state import RunContext, RunRequest
from tools.run_folders import confine, runs_root


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
