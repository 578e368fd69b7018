"""bench/replay.py's ``--endings``: how replayed episodes ended, at the step limit or before it."""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT))

from bench.replay import endings


def test_endings_split_the_returns_at_the_step_limit():
    # two battles lost to the clock (length 100), one won and one lost before it
    e = endings([0.0, 0.0, 1.0, 0.0], [100, 100, 14, 12], limit=100)
    assert e["share_at_limit"] == 0.5
    assert e["mean_return_at_limit"] == 0.0 and e["mean_return_before_limit"] == pytest.approx(0.5)
    assert e["length_quartiles"] == [13.5, 57.0, 100.0]


def test_endings_say_none_where_no_episode_falls():
    e = endings([1.0, 1.0], [14, 15], limit=100)
    assert e["share_at_limit"] == 0.0 and e["mean_return_at_limit"] is None
    assert endings([], [], limit=10)["share_at_limit"] is None
