"""Hostile input at every door: every CLI flag and every MCP tool argument with path-like strings,
huge, negative and empty values. For each: no traceback, exit 2 (or a tool error), and nothing written
outside the runs folder (a snapshot of the runs folder's parent before and after).

The CLI runs in-process (``app.cli.main``) from a scratch folder so hundreds of inputs fit in CI;
the doors' behaviour through real subprocesses is in ``test_cli_doors.py``.
"""

from __future__ import annotations

import pytest


def test_runs_root_confines_a_server_client(tmp_path, monkeypatch):
    """On the LangGraph API server a client's runs_dir must lie inside $AGENT2_RUNS_DIR."""
    from langgraph.runtime import Runtime

    from envs.errors import Agent2Error
    from nodes.intake import intake_on_server
    from nodes.state import RunContext, RunRequest

    root = tmp_path / "served"
    monkeypatch.setenv("AGENT2_RUNS_DIR", str(root))
    request = RunRequest(env="CartPole-v1")
    for outside in [str(tmp_path), "/tmp", "../x", str(root) + "/../x", "~", "a\x00b"]:
        with pytest.raises(Agent2Error, match="outside the server's runs root|not a usable path"):
            intake_on_server(request, Runtime(context=RunContext(runs_dir=outside)))
    inside = intake_on_server(request, Runtime(context=RunContext(runs_dir="team-a")))
    assert inside["settings"].runs_dir == str(root / "team-a")
    default = intake_on_server(request, Runtime(context=RunContext()))
    assert default["settings"].runs_dir == str(root)
    assert not root.exists()  # checked, nothing written yet
