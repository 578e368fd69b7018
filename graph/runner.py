"""Start and resume runs: the graph compiled with a SQLite checkpointer, one thread per run."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from envs.errors import Agent2Error
from graph.build import build_graph
from graph.state import RunSettings
from tools import schemas
from tools.schemas import TaskSpec

CHECKPOINT_DB = "checkpoints.sqlite"
STATE_TYPES = [("tools.schemas", n) for n in dir(schemas)
               if isinstance(getattr(schemas, n), type) and issubclass(getattr(schemas, n), schemas.BaseModel)]
STATE_TYPES += [("graph.state", "RunSettings"), ("nodes.designers.llm_config", "LLMSettings")]


class UnknownThreadError(Agent2Error):
    pass


def serializer() -> JsonPlusSerializer:
    """Checkpoint serde that knows the state's own pydantic types (and only those beyond the safe set)."""
    return JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)


@contextmanager
def compiled_graph(runs_dir: str | Path) -> Iterator[Any]:
    path = Path(runs_dir)
    path.mkdir(parents=True, exist_ok=True)
    with SqliteSaver.from_conn_string(str(path / CHECKPOINT_DB)) as saver:
        saver.serde = serializer()
        yield build_graph(checkpointer=saver)


def new_thread_id(env: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", Path(env.split(":")[0]).stem if env.endswith(".py") or ":" in env
                  else env).strip("-")[:40] or "run"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}-{time.perf_counter_ns() % 10000:04d}"


def _config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": 200}


def thread_exists(graph: Any, thread_id: str) -> bool:
    return graph.get_state(_config(thread_id)).created_at is not None


def start_run(task: TaskSpec, settings: RunSettings, thread_id: str) -> dict:
    with compiled_graph(settings.runs_dir) as graph:
        if thread_exists(graph, thread_id):
            raise Agent2Error(f"thread {thread_id!r} already exists in {settings.runs_dir!r}; "
                              f"use 'agent2 resume {thread_id}'")
        graph.invoke({"task": task, "settings": settings}, _config(thread_id), durability="sync")
        return dict(graph.get_state(_config(thread_id)).values)


def _snapshot(graph: Any, thread_id: str, runs_dir: str | Path) -> Any:
    snapshot = graph.get_state(_config(thread_id))
    if snapshot.created_at is None:
        raise UnknownThreadError(f"no run with thread id {thread_id!r} in {str(runs_dir)!r} "
                                 "(see 'agent2 runs')")
    return snapshot


def resume_run(thread_id: str, runs_dir: str | Path) -> dict:
    with compiled_graph(runs_dir) as graph:
        if _snapshot(graph, thread_id, runs_dir).next:
            graph.invoke(None, _config(thread_id), durability="sync")
        return dict(graph.get_state(_config(thread_id)).values)


def run_state(thread_id: str, runs_dir: str | Path) -> dict:
    with compiled_graph(runs_dir) as graph:
        snapshot = _snapshot(graph, thread_id, runs_dir)
        return {"values": dict(snapshot.values), "next": list(snapshot.next)}
