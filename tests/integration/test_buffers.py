"""The replay buffer's null check after each collection reads only the entries that collection added."""

import numpy as np
from tianshou.data import Batch

from tools.buffers import CheckedVectorReplayBuffer


def _step(n: int, rew: float) -> Batch:
    return Batch(
        obs=np.zeros((n, 3)),
        act=np.zeros(n, dtype=np.int64),
        rew=np.full(n, rew),
        terminated=np.zeros(n, bool),
        truncated=np.zeros(n, bool),
        obs_next=np.zeros((n, 3)),
        info=Batch(),
    )


def test_the_null_check_reads_only_new_entries_and_still_finds_a_nan(monkeypatch):
    buf = CheckedVectorReplayBuffer(1000, 2)
    for _ in range(300):
        buf.add(_step(2, 1.0))
    read: list[int] = []
    plain_getitem = type(buf).__getitem__

    def spy(self, index):
        read.append(len(self) if isinstance(index, slice) else len(np.atleast_1d(index)))
        return plain_getitem(self, index)

    monkeypatch.setattr(type(buf), "__getitem__", spy)
    assert not buf.hasnull()
    assert read == [600]  # the first check sees everything added so far
    buf.add(_step(2, 1.0))
    assert not buf.hasnull() and read[-1] == 2  # then only what the last collection added
    buf.add(_step(2, float("nan")))
    assert buf.hasnull()
    assert not buf.hasnull()  # each entry is checked once
