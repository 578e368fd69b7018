"""Start and resume runs: the graph compiled with a SQLite checkpointer, one thread per run."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from envs.errors import Agent2Error
from graph import checkpointers
from graph.build import build_graph
from nodes.context import listening
from nodes.intake import run_settings
from nodes.state import RunContext, RunRequest
from tools import schemas
from tools.run_files import JOB
from tools.run_folders import (
    UnknownThreadError,
    check_thread_id,
    database_error,
    existing_runs_dir,
    thread_lock,
    writable_runs_dir,
)
from tools.run_rules import MAX_CANDIDATES
from tools.run_store import DB_NAME as RUN_DB
from tools.run_store import RunStore
from tools.schemas import ReviewAnswer
from tools.training import forget_training

CHECKPOINT_DB = checkpointers.CHECKPOINT_DB
STATE_TYPES = [
    ("tools.schemas", n)
    for n in dir(schemas)
    if isinstance(getattr(schemas, n), type) and issubclass(getattr(schemas, n), schemas.BaseModel)
]
STATE_TYPES += [(m, n) for m in ("nodes.state", "graph.state") for n in ("RunSettings", "RunRequest", "RunContext")]
"""``graph.state``: where checkpoints written before the state types moved name them."""
STATE_TYPES += [("nodes.designers.llm_config", "LLMSettings")]


def serializer() -> JsonPlusSerializer:
    """Checkpoint serde that knows the state's own pydantic types (and only those beyond the safe set)."""
    return JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)


@contextmanager
def compiled_graph(runs_dir: str | Path, create: bool = True, thread_id: str | None = None) -> Iterator[Any]:
    """The graph with the run's checkpointer (``graph/checkpointers.py``: the runs folder's SQLite file,
    another SQLite file, or PostgreSQL); ``create=False``: the folder must hold runs already (the error
    names ``thread_id``). A damaged checkpoint database is a one-line error naming the file."""
    url = checkpointers.configured()
    if checkpointers.is_postgres(url):  # connect first: a refused URL leaves nothing behind
        with checkpointers.postgres_saver(url, serializer()) as saver:
            if create:
                writable_runs_dir(runs_dir)
            else:
                existing_runs_dir(runs_dir, RUN_DB, thread_id)
            yield build_graph(checkpointer=saver)
        return
    if create:
        path = writable_runs_dir(runs_dir)
    else:  # a folder that holds runs: their checkpoints, or (checkpoints elsewhere) their run database
        path = existing_runs_dir(runs_dir, CHECKPOINT_DB if url is None else RUN_DB, thread_id)
    db = checkpointers.sqlite_path(url, path)
    try:
        with SqliteSaver.from_conn_string(str(db)) as saver:
            saver.serde = serializer()
            yield build_graph(checkpointer=saver)
    except sqlite3.DatabaseError as e:
        error = database_error(db, e)
        if error is None:
            raise
        raise error from None


def new_thread_id(env: str) -> str:
    slug = (
        re.sub(r"[^A-Za-z0-9]+", "-", Path(env.split(":")[0]).stem if env.endswith(".py") or ":" in env else env).strip(
            "-"
        )[:40]
        or "run"
    )
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}-{time.perf_counter_ns() % 10000:04d}"


MAX_BRANCHES = MAX_CANDIDATES
"""Threads for a superstep's branches (the most candidates a run may have). A candidate's branch only
waits on its worker or Ray task; the executor bounds the real work. LangGraph's default, the thread
pool's min(32, CPUs + 4), would hold 16 candidates on a Ray cluster to 6 at a time on a 2-core driver."""


def _config(thread_id: str) -> dict:
    check_thread_id(thread_id)  # every access to a thread passes here
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": 200, "max_concurrency": MAX_BRANCHES}


def thread_exists(graph: Any, thread_id: str) -> bool:
    return graph.get_state(_config(thread_id)).created_at is not None


def thread_recorded(thread_id: str, runs_dir: str | Path) -> bool:
    """Whether ``runs_dir`` already holds a thread ``thread_id`` (creates nothing)."""
    url = checkpointers.configured()
    holding = CHECKPOINT_DB if url is None else RUN_DB
    if not (Path(runs_dir) / holding).is_file():
        return False
    with compiled_graph(runs_dir, create=False) as graph:
        return thread_exists(graph, thread_id)


OnEvent = Callable[[dict], None]
"""Takes each event the nodes send while the graph runs (``nodes/context.py``: training progress, each
node's decision)."""


def _run(graph: Any, value: Any, thread_id: str, on_event: OnEvent | None, **kwargs: Any) -> None:
    """The graph from ``value`` (a request, a ``Command`` or None to go on) until it ends or stops
    for a review, every checkpoint written before the next step; the nodes' events to ``on_event``.
    ``invoke``, not ``stream``: a single node runs in this (main) thread, as some envs need."""
    with listening(on_event):
        graph.invoke(value, _config(thread_id), durability="sync", **kwargs)


def start_run(request: RunRequest, context: RunContext, thread_id: str, on_event: OnEvent | None = None) -> dict:
    """Run a new thread until it ends or stops for a review; its state values (``__interrupt__``: pending)."""
    runs_dir = run_settings(context).runs_dir
    with compiled_graph(runs_dir) as graph, thread_lock(runs_dir, thread_id):
        if thread_exists(graph, thread_id):
            raise Agent2Error(f"thread {thread_id!r} already exists in {runs_dir!r}; use 'agent2 resume {thread_id}'")
        _run(graph, request, thread_id, on_event, context=context)
        return _values(graph, thread_id)


def _values(graph: Any, thread_id: str) -> dict:
    snapshot = graph.get_state(_config(thread_id))
    values = dict(snapshot.values)
    if snapshot.interrupts:
        values["__interrupt__"] = [i.value for i in snapshot.interrupts]
    return values


def _snapshot(graph: Any, thread_id: str, runs_dir: str | Path) -> Any:
    snapshot = graph.get_state(_config(thread_id))
    if snapshot.created_at is None:
        raise UnknownThreadError(f"no run with thread id {thread_id!r} in {str(runs_dir)!r} (see 'agent2 runs')")
    return snapshot


def resume_run(
    thread_id: str,
    runs_dir: str | Path,
    answer: ReviewAnswer | None = None,
    restart_iteration: bool = False,
    on_event: OnEvent | None = None,
) -> dict:
    """Continue a thread: after a crash or Ctrl-C, or with the answer to its pending review.

    ``restart_iteration``: first forget what training wrote for the current iteration (a checkpoint
    that no longer fits its job), so the iteration trains again from the start."""
    with compiled_graph(runs_dir, create=False, thread_id=thread_id) as graph:
        snapshot = _snapshot(graph, thread_id, runs_dir)
        with thread_lock(runs_dir, thread_id) as folder:
            if restart_iteration:
                for job in (folder / f"iter_{snapshot.values.get('iteration', 1)}").rglob(JOB):
                    forget_training(job.parent)
            return _continue(graph, thread_id, answer, on_event)


def _continue(graph: Any, thread_id: str, answer: ReviewAnswer | None, on_event: OnEvent | None) -> dict:
    snapshot = graph.get_state(_config(thread_id))
    if snapshot.interrupts:
        if answer is None:
            return _values(graph, thread_id)  # still waiting for the human
        _run(graph, Command(resume=answer.model_dump()), thread_id, on_event)
    elif answer is not None:
        raise Agent2Error(f"thread {thread_id!r} is not waiting for a review; resume it without an answer")
    elif snapshot.next:
        _run(graph, None, thread_id, on_event)
    return _values(graph, thread_id)


def run_state(thread_id: str, runs_dir: str | Path) -> dict:
    with compiled_graph(runs_dir, create=False, thread_id=thread_id) as graph:
        snapshot = _snapshot(graph, thread_id, runs_dir)
        return {
            "values": dict(snapshot.values),
            "next": list(snapshot.next),
            "interrupts": [i.value for i in snapshot.interrupts],
        }


def fork_run(
    thread_id: str, iteration: int, new_thread_id: str, runs_dir: str | Path, review: bool | None = None
) -> None:
    """A new thread from iteration ``iteration``'s checkpoint just after its MDP was designed (and
    reviewed): the new thread chooses the algorithm again and goes on. Earlier iterations stay in
    the parent's folder (the new thread's history points there) and are copied into its records."""
    with compiled_graph(runs_dir, create=False, thread_id=thread_id) as graph:
        _snapshot(graph, thread_id, runs_dir)
        check_thread_id(new_thread_id)
        if thread_exists(graph, new_thread_id):
            raise Agent2Error(f"thread {new_thread_id!r} already exists in {str(runs_dir)!r}")
        fork_point = next(
            (
                s
                for s in graph.get_state_history(_config(thread_id))
                if s.next == ("select_algorithm",) and s.values.get("iteration") == iteration
            ),
            None,
        )
        if fork_point is None:
            done = sorted(
                {
                    s.values["iteration"]
                    for s in graph.get_state_history(_config(thread_id))
                    if s.next == ("select_algorithm",)
                }
            )
            raise Agent2Error(
                f"thread {thread_id!r} has no iteration {iteration} with a designed MDP "
                f"(it has {', '.join(map(str, done)) or 'none'})"
            )
        values = dict(fork_point.values)
        if review is not None:
            values["settings"] = values["settings"].model_copy(update={"review": review})
        with thread_lock(runs_dir, new_thread_id):
            graph.update_state(_config(new_thread_id), values, as_node="review_mdp")
    RunStore(runs_dir, new_thread_id).forked_from(thread_id, before_iteration=iteration)
