"""bench/common.py's ``save_raw``: a raw result already on disk is never overwritten."""

from __future__ import annotations

import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT))

import bench.common as common


def test_a_second_record_at_the_same_commit_keeps_the_first(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "ROOT", tmp_path)
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(common, "commit", lambda: "abc1234")
    prov = {"commit": "abc1234", "command": "python bench/x.py", "machine": {}, "started": "t0"}
    first = common.save_raw("probe", prov, {"score": 1.0})
    second = common.save_raw("probe", prov, {"score": 2.0})
    third = common.save_raw("probe", prov, {"score": 3.0})
    assert [p.name for p in (first, second, third)] == [
        "probe-abc1234.json",
        "probe-abc1234-2.json",
        "probe-abc1234-3.json",
    ]
    assert [json.loads(p.read_text())["score"] for p in (first, second, third)] == [1.0, 2.0, 3.0]
    assert "spans_commits" not in json.loads(first.read_text())
