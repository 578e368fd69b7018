"""Replay buffers whose null check after each collection reads only what that collection added.

Tianshou 2.0.1's online trainer calls ``buffer.hasnull()`` after every collection step, and
``ReplayBuffer.hasnull`` copies and scans the whole buffer (``self[:]``). An off-policy learner
collects a few steps at a time into a buffer of up to a million, so the check's cost grows with
the buffer and training slows down as it fills (thu-ml/tianshou#1265): profiled here, 55% of a DQN
worker's time on Taxi at 30k steps. ``NewEntriesNullCheck`` keeps the guard (a NaN anywhere in what
was collected still stops training) but checks each entry once, when it is added.
"""

from __future__ import annotations

import numpy as np
from tianshou.data import VectorReplayBuffer


class NewEntriesNullCheck:
    """Mixin for a Tianshou buffer (before it in the bases): ``hasnull`` checks the entries added
    since the last call."""

    def add(self, batch, buffer_ids=None):  # type: ignore[no-untyped-def]
        out = super().add(batch, buffer_ids)  # type: ignore[misc]
        unchecked = self.__dict__.setdefault("_unchecked", [])
        unchecked.append(np.asarray(out[0]).reshape(-1))
        return out

    def reset(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.__dict__["_unchecked"] = []  # what was added before a reset is gone
        return super().reset(*args, **kwargs)  # type: ignore[misc]

    def hasnull(self) -> bool:
        unchecked = self.__dict__.get("_unchecked") or []
        if not unchecked:
            return False
        self.__dict__["_unchecked"] = []
        return bool(self[np.concatenate(unchecked)].hasnull())  # type: ignore[index]


class CheckedVectorReplayBuffer(NewEntriesNullCheck, VectorReplayBuffer):
    """Tianshou's ``VectorReplayBuffer`` with the per-collection null check on new entries only."""
