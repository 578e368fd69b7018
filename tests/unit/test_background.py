"""Where a background run stands, from its files (``app/background.py``)."""

import pytest

from app import background
from tools.run_folders import run_folder
from tools.run_store import RESULT

TID = "CartPole-v1-20261201-000000-0001"


@pytest.mark.parametrize(
    ("alive", "has_result", "expected"),
    [(True, False, "running"), (False, False, "failed"), (True, True, "finished"), (False, True, "finished")],
)
def test_a_snapshot_without_next_nodes_is_finished_only_with_its_result(
    tmp_path, monkeypatch, alive, has_result, expected
):
    """A starting run's snapshot has no next node for a moment (its input's start task has written,
    the first node's checkpoint is not there yet): that is not a finished run (an MCP client polling
    ``run_status`` read 'finished', then ``run_result`` had nothing)."""
    folder = run_folder(tmp_path, TID)
    folder.mkdir(parents=True)
    if has_result:
        (folder / RESULT).write_text("{}")
    monkeypatch.setattr(background, "run_state", lambda *_: {"values": {}, "next": [], "interrupts": []})
    monkeypatch.setattr(background, "_alive", lambda *_: alive)
    assert background.describe(TID, tmp_path)["state"] == expected
