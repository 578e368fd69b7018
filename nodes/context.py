"""Helpers every node shares: where the run lives, the designer, the design context."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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


def stream_writer():
    """The run's custom-event writer (``stream_mode="custom"``), or None outside a streamed run."""
    try:
        return get_stream_writer()
    except RuntimeError:
        return None


def announce(node: str, iteration: int, text: str, **data: Any) -> None:
    """A one-line account of a node's decision as a custom event (``{"type": "step", ...}``), so a
    streaming client (LangGraph Studio, ``langgraph-sdk``) sees what each node decided."""
    writer = stream_writer()
    if writer is not None:
        writer({"type": "step", "node": node, "iteration": iteration, "text": text, **data})


STREAM_EVERY_S = 1.0
"""Least seconds between two streamed 'collect' events (tests and checkpoints always stream)."""


@contextmanager
def progress_reporter(label: str, budget: int, **fields: Any) -> Iterator[ProgressFn]:
    """A callback for the worker's progress lines, sent on as 'training' custom events (``fields``
    identify the branch: iteration, algorithm, candidate) and closed by a ``kind: "done"`` event. The
    node draws nothing: a front door that streams the run (``agent2 run``'s bars) or a streaming client
    shows them."""
    writer = stream_writer()
    if writer is None:
        yield lambda event: None
        return
    last_streamed = [0.0]
    head = {"type": "training", "label": label, "budget_steps": budget, **fields}

    def on_progress(event: dict) -> None:
        if event.get("kind") == "train":  # per-episode returns: the tests say more, less often
            return
        now = time.perf_counter()
        if event.get("kind") == "collect" and now - last_streamed[0] < STREAM_EVERY_S:
            return
        last_streamed[0] = now
        writer({**head, **event})

    try:
        yield on_progress
    finally:
        writer({**head, "kind": "done"})
