"""The graph's state types lived here before they moved to ``nodes/state.py``; checkpoints written
then name this module, so it stays to read them (``graph/runner.py`` allows these names). Nothing new
imports it."""

from nodes.state import RunContext, RunRequest, RunSettings

__all__ = ["RunContext", "RunRequest", "RunSettings"]
