"""Helpers every node shares: where the run lives, the designer, the design context."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer

from nodes.designers import DesignContext, Designer, get_designer
from tools.run_store import RunStore
from tools.training import ProgressFn


def thread_id(config: RunnableConfig | None) -> str:
    tid = ((config or {}).get("configurable") or {}).get("thread_id")
    return str(tid) if tid else "default"


def store(state: Mapping[str, Any], config: RunnableConfig | None) -> RunStore:
    """The run's records (``tools/run_store.py``): its folder and its rows in the run database."""
    return RunStore(state["settings"].runs_dir, thread_id(config))


def iter_dir(state: Mapping[str, Any], config: RunnableConfig | None) -> Path:
    return store(state, config).iteration_folder(state["iteration"])


def run_designer(state: Mapping[str, Any], config: RunnableConfig | None = None) -> Designer:
    """The run's designer; LLM calls and tokens go to the run database under this thread."""
    settings = state["settings"]
    if settings.designer != "llm":
        return get_designer(settings.designer)
    runs, iteration = store(state, config), state.get("iteration", 0)
    return get_designer(
        "llm", settings.llm, recorder=lambda row: runs.llm_call(iteration, row), tokens_used=runs.llm_tokens()
    )


def design_context(state: Mapping[str, Any], config: RunnableConfig | None = None) -> DesignContext:
    return DesignContext(
        task=state["spec"],
        profile=state["profile"],
        analysis=state.get("analysis"),
        history=list(state.get("history") or []),
        mdp=state.get("mdp"),
        algo=state.get("algo"),
        train=state.get("train"),
        eval=state.get("eval"),
        critique=state.get("critique"),
        iteration=state.get("iteration", 1),
        steps_used=state.get("steps_used", 0),
        review=state.get("review"),
        iter_dir=str(iter_dir(state, config)) if config is not None and "iteration" in state else "",
    )


EVENT_LISTENER: ContextVar[Callable[[dict], None] | None] = ContextVar("agent2_event_listener", default=None)
"""The front door's own listener for the nodes' events when it runs the graph in its process (the CLI's
progress bars). Not a LangGraph stream: streaming ``custom`` events makes LangGraph run every node in a
worker thread, and some envs (MetaDrive's signal handlers) only reset in the main thread."""


@contextmanager
def listening(on_event: Callable[[dict], None] | None) -> Iterator[None]:
    """Every event the nodes send while this block runs (in this thread, or threads it starts) also
    goes to ``on_event``."""
    token = EVENT_LISTENER.set(on_event)
    try:
        yield
    finally:
        EVENT_LISTENER.reset(token)


def event_sink() -> Callable[[dict], None] | None:
    """Where this node's events go: the run's custom-event stream (``stream_mode="custom"``: LangGraph
    Studio, ``langgraph-sdk``) and the listener of the front door that runs the graph; None when neither
    listens."""
    try:
        writer = get_stream_writer()
    except RuntimeError:  # outside a run
        writer = None
    listener = EVENT_LISTENER.get()
    sinks = [f for f in (writer, listener) if f is not None]
    if not sinks:
        return None

    def send(event: dict) -> None:
        for sink in sinks:
            sink(event)

    return send


def announce(node: str, iteration: int, text: str, **data: Any) -> None:
    """A one-line account of a node's decision as a custom event (``{"type": "step", ...}``), so a
    streaming client sees what each node decided."""
    send = event_sink()
    if send is not None:
        send({"type": "step", "node": node, "iteration": iteration, "text": text, **data})


STREAM_EVERY_S = 1.0
"""Least seconds between two 'collect' events sent on (tests and checkpoints are always sent)."""


@contextmanager
def progress_reporter(label: str, budget: int, **fields: Any) -> Iterator[ProgressFn]:
    """A callback for the worker's progress lines, sent on as 'training' events (``fields`` identify the
    branch: iteration, algorithm, candidate) and closed by a ``kind: "done"`` event. The node draws
    nothing: the front door that runs the graph (``agent2 run``'s bars) or a streaming client shows them."""
    send = event_sink()
    if send is None:
        yield lambda event: None
        return
    last_sent = [0.0]
    head = {"type": "training", "label": label, "budget_steps": budget, **fields}

    def on_progress(event: dict) -> None:
        if event.get("kind") == "train":  # per-episode returns: the tests say more, less often
            return
        now = time.perf_counter()
        if event.get("kind") == "collect" and now - last_sent[0] < STREAM_EVERY_S:
            return
        last_sent[0] = now
        send({**head, **event})

    try:
        yield on_progress
    finally:
        send({**head, "kind": "done"})
