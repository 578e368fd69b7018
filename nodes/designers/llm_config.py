"""Settings of the LLM designer: environment variables, overridden by CLI flags.

The API key is never part of these settings (nor of the checkpointed state): it is read from the
environment at call time, and generated code runs in processes without it.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]
METHODS: tuple[str, ...] = ("json_schema", "function_calling", "json_mode")
MAX_RETRIES = 10
"""The most re-asks (and HTTP retries) a setting may ask for: each is a whole prompt and answer."""

ENV_VARS = {
    "model": "AGENT2_MODEL",
    "base_url": "OPENAI_BASE_URL",
    "temperature": "AGENT2_TEMPERATURE",
    "method": "AGENT2_STRUCTURED_METHOD",
    "timeout": "AGENT2_TIMEOUT",
    "retries": "AGENT2_RETRIES",
    "max_tokens": "AGENT2_MAX_TOKENS",
    "token_budget": "AGENT2_TOKEN_BUDGET",
}


class LLMSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field("gpt-4o-mini", description="Model name the endpoint serves.")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (None: api.openai.com).")
    temperature: float = Field(0.6, ge=0, le=2)
    method: StructuredMethod = Field("json_schema", description="How structured answers are requested.")
    timeout: float = Field(120.0, gt=0, description="Seconds per request.")
    retries: int = Field(3, ge=0, le=MAX_RETRIES, description="Re-asks after an invalid answer; also HTTP retries.")
    max_tokens: int = Field(2048, gt=0, le=65536, description="Most tokens per answer.")
    token_budget: int = Field(500_000, gt=0, description="Most tokens (prompt + answer) per run.")

    @classmethod
    def from_env(cls, **overrides: object) -> LLMSettings:
        values: dict[str, object] = {}
        for field, var in ENV_VARS.items():
            if os.environ.get(var):
                values[field] = os.environ[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)


def api_key() -> str:
    """The key for the endpoint; local servers accept any placeholder."""
    return os.environ.get("OPENAI_API_KEY") or "not-needed"


def endpoint_configured() -> bool:
    return bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))
