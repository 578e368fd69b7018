"""The run's state as plain data (dicts, lists, numbers, strings) on the LangGraph API server path.

The CLI's checkpointer knows the state's pydantic types (``graph/runner.py`` registers them with its
serializer). A LangGraph API server brings its own checkpointer, whose serializer does not: it logs
"Deserializing unregistered type" for each of them, and with ``LANGGRAPH_STRICT_MSGPACK=true`` (the
documented hardening of langgraph-checkpoint 4.x) refuses them, breaking a run at its first resume.
So on the server every node and router is wrapped: what it reads is validated into the state's
types (``GeneratorState``, ``CandidateBranch``), what it writes (updates, ``Send`` payloads) is dumped
to plain data before LangGraph stores it. The nodes themselves are the same on both paths.
"""

from __future__ import annotations

import functools
from typing import Any, get_type_hints

from langgraph.types import Send
from pydantic import BaseModel, TypeAdapter

from nodes.state import CandidateBranch, GeneratorState

ADAPTERS: dict[str, TypeAdapter] = {
    key: TypeAdapter(hint)
    for schema in (GeneratorState, CandidateBranch)
    for key, hint in get_type_hints(schema).items()
}
"""Each state key's type (the same key has the same type in both schemas)."""


def revive(state: Any) -> Any:
    """Plain state → the state's types (a value that is already typed passes unchanged)."""
    if not isinstance(state, dict):
        return state  # e.g. intake's RunRequest, which LangGraph builds itself
    return {k: ADAPTERS[k].validate_python(v) if k in ADAPTERS and v is not None else v for k, v in state.items()}


def plain(value: Any) -> Any:
    """Models, lists and ``Send`` payloads → plain data (numbers, including inf, stay floats)."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="python"))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Send):
        return Send(value.node, plain(value.arg))
    return value


def plain_io(fn):
    """``fn`` (a node or a router) reading typed state and writing plain data."""

    @functools.wraps(fn)
    def wrapper(state: Any, *args: Any, **kwargs: Any) -> Any:
        return plain(fn(revive(state), *args, **kwargs))

    return wrapper
