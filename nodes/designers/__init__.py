"""Designers: who fills in each design decision. One contract (``base.Designer``), two makers."""

from __future__ import annotations

from collections.abc import Callable

from nodes.designers.base import DesignContext, Designer
from nodes.designers.llm_config import LLMSettings

DESIGNERS = ("expert", "llm")


def get_designer(
    name: str, llm: LLMSettings | None = None, recorder: Callable[[dict], None] | None = None, tokens_used: int = 0
) -> Designer:
    if name == "expert":
        from nodes.designers.expert import ExpertDesigner  # the designers import this package: load on use

        return ExpertDesigner()
    if name == "llm":
        from nodes.designers.llm import LLMDesigner  # langchain-openai loads only for the LLM designer

        return LLMDesigner(llm or LLMSettings.from_env(), recorder=recorder, tokens_used=tokens_used)
    raise ValueError(f"unknown designer {name!r}; choose one of {', '.join(DESIGNERS)}")


__all__ = ["DESIGNERS", "DesignContext", "Designer", "LLMSettings", "get_designer"]
