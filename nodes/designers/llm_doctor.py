"""``agent2 doctor``: is the model endpoint reachable, is the model listed, which structured-output
method works."""

from __future__ import annotations

import openai
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, Field

from nodes.designers.llm_config import METHODS, LLMSettings, api_key


class Sum(BaseModel):
    """The sum asked for."""

    answer: int = Field(description="the sum as an integer")


def try_method(settings: LLMSettings, method: str) -> tuple[bool, str]:
    from nodes.designers.llm import LLMDesigner  # langchain-openai loads only when a model is checked

    llm = LLMDesigner(settings.model_copy(update={"method": method, "retries": 0})).chat_model()
    try:
        out = llm.with_structured_output(Sum, method=method, include_raw=True).invoke(
            [HumanMessage("What is 2 + 3? Put the number in `answer`.")]
        )
    except openai.OpenAIError as e:
        return False, f"{type(e).__name__}: {str(e)[:200]}"
    if out.get("parsed") is None:
        return False, f"unparseable answer: {str(out.get('parsing_error'))[:200]}"
    return True, f"answer={out['parsed'].answer}"


def check_endpoint(settings: LLMSettings) -> list[tuple[str, bool]]:
    where = settings.base_url or "https://api.openai.com/v1"
    client = openai.OpenAI(
        base_url=settings.base_url, api_key=api_key(), timeout=min(settings.timeout, 30), max_retries=0
    )
    try:
        models = [m.id for m in client.models.list()]
    except openai.OpenAIError as e:
        return [(f"endpoint {where} unreachable: {type(e).__name__}: {str(e)[:200]}", False)]
    lines = [(f"endpoint {where} reachable ({len(models)} model(s) listed)", True)]
    lines.append(
        (
            f"model {settings.model!r} listed"
            if settings.model in models
            else f"model {settings.model!r} not listed (listed: {', '.join(models[:5])})",
            settings.model in models or len(models) == 1,
        )
    )
    if settings.model not in models and len(models) == 1:
        lines[-1] = (lines[-1][0] + "; the endpoint serves one model, which answers any name", True)
    working = []
    for method in METHODS:
        ok, detail = try_method(settings, method)
        mark = " (configured)" if method == settings.method else ""
        lines.append(
            (
                f"structured output via {method}{mark}: {'works' if ok else 'fails'} — {detail}",
                ok or method != settings.method,
            )
        )
        if ok:
            working.append(method)
    if settings.method not in working and working:
        lines.append((f"use --structured-method {working[0]} (or AGENT2_STRUCTURED_METHOD={working[0]})", False))
    return lines
