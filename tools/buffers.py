"""Replay buffers whose null check after each collection reads only what that collection added.

Tianshou 2.0.1's online trainer calls ``buffer.hasnull()`` after every collection step, and
``ReplayBuffer.hasnull`` copies and scans the whole buffer (``self[:]``). An off-policy learner
collects a few steps at a time into a buffer of up to a million, so the check's cost grows with
the buffer and training slows down as it fills (thu-ml/tianshou#1265): profiled here, 55% of a DQN
worker's time on Taxi at 30k steps. ``NewEntriesNullCheck`` keeps the guard (a NaN anywhere in what
was collected still stops training) but checks each entry once, when it is added.

``ReplayBufferManager.add`` updates each sub-buffer's episode bookkeeping in a Python loop, one call
per slot and step (~16 µs each here): with many slots (a multi-agent vector env of 64 games × 3
agents) that loop costs more than the games' step. ``ArrayBookkeeping`` does the same bookkeeping
with arrays over all the slots of a collection step.
"""

from __future__ import annotations

import numpy as np
from tianshou.data import Batch, VectorReplayBuffer
from tianshou.data.batch import alloc_by_keys_diff, create_value
from tianshou.data.buffer.buffer_base import MalformedBufferError


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


class ArrayBookkeeping:
    """Mixin for Tianshou's ``ReplayBufferManager`` (before it in the bases): ``add`` does every
    sub-buffer's state update (insertion index, size, episode return, length and start) with arrays.
    The results and each sub-buffer's state are those of Tianshou's per-buffer loop."""

    STATE = ("_insertion_idx", "_size", "_ep_return", "_ep_len", "_ep_start_idx")

    def add(self, batch, buffer_ids=None):  # type: ignore[no-untyped-def]
        ids = np.arange(self.buffer_num) if buffer_ids is None else np.asarray(buffer_ids)  # type: ignore[attr-defined]
        if len(np.unique(ids)) != len(ids) or np.ndim(batch.rew) != 1:  # rare shapes: Tianshou's loop
            return super().add(batch, buffer_ids)  # type: ignore[misc]
        new = Batch()
        for key in set(self._reserved_keys).intersection(batch.get_keys()):  # type: ignore[attr-defined]
            new.__dict__[key] = batch[key]
        new.__dict__["done"] = np.logical_or(new.terminated, new.truncated)
        if self._save_only_last_obs:  # type: ignore[attr-defined]
            new.obs = new.obs[:, -1]
        if not self._save_obs_next:  # type: ignore[attr-defined]
            new.pop("obs_next", None)
        elif self._save_only_last_obs:  # type: ignore[attr-defined]
            new.obs_next = new.obs_next[:, -1]
        bufs = self.buffers[ids]  # type: ignore[attr-defined]
        ins, size, ep_ret, ep_len, start = (np.array([b.__dict__[k] for b in bufs]) for k in self.STATE)
        maxsize = np.array([b.maxsize for b in bufs])
        size = np.minimum(size + 1, maxsize)
        if np.any(start > size):
            raise MalformedBufferError(f"episode start indices {start[start > size]} outside the buffers' samples")
        nxt = (ins + 1) % maxsize
        ep_ret, ep_len = ep_ret + np.asarray(new.rew, dtype=float), ep_len + 1
        done = np.asarray(new.done, dtype=bool)
        offset = self._offset[ids]  # type: ignore[attr-defined]
        out = (ins + offset, np.where(done, ep_ret, 0.0), np.where(done, ep_len, 0), start + offset)
        for j, b in enumerate(bufs):
            b.last_index[0] = ins[j]
            b.__dict__.update(
                _insertion_idx=int(nxt[j]),
                _size=int(size[j]),
                _ep_return=0.0 if done[j] else ep_ret[j],
                _ep_len=0 if done[j] else int(ep_len[j]),
                _ep_start_idx=int(nxt[j]) if done[j] else int(start[j]),
            )
        self.last_index[ids] = out[0]  # type: ignore[attr-defined]
        self._lengths[ids] = size  # type: ignore[attr-defined]
        try:
            self._meta[out[0]] = new  # type: ignore[attr-defined]
        except ValueError:  # the first add, or a new key: allocate, as Tianshou's manager does
            new.rew, new.done = new.rew.astype(float), new.done.astype(bool)
            new.terminated, new.truncated = new.terminated.astype(bool), new.truncated.astype(bool)
            if len(self._meta.get_keys()) == 0:  # type: ignore[attr-defined]
                self._meta = create_value(new, self.maxsize, stack=False)  # type: ignore[attr-defined]
            else:
                alloc_by_keys_diff(self._meta, new, self.maxsize, False)  # type: ignore[attr-defined]
            self._set_batch_for_children()  # type: ignore[attr-defined]
            self._meta[out[0]] = new  # type: ignore[attr-defined]
        return out


class EpisodeLengths:
    """Mixin for a Tianshou buffer (before it in the bases): keeps the length of every episode that
    ends in ``add``, in the order they end, for ``take_lengths``.

    Tianshou 2.0.1's collector reports an episode's length as the size of the buffer slice from its
    start to its end (``CollectStats.update_at_episode_done``), which on a ring shorter than the
    episode is the length modulo the ring: 77- and 93-step CartPole episodes read 13 and 13 on
    ``stats_buffer``'s 16-entry ring (and an on-policy buffer of 128 steps per env misreads a
    1000-step episode the same way). ``add``'s own count, like its return, does not depend on the
    buffer's size; ``tools.collector.EpisodeLengthCollector`` reports it."""

    def add(self, batch, buffer_ids=None):  # type: ignore[no-untyped-def]
        out = super().add(batch, buffer_ids)  # type: ignore[misc]
        ends = np.asarray(out[2]).reshape(-1)  # an episode's length where it ended, 0 elsewhere
        self.__dict__.setdefault("_ended", []).extend(int(n) for n in ends[ends > 0])
        return out

    def take_lengths(self) -> list[int]:
        """The lengths of the episodes that ended since the last call, oldest first."""
        ended, self.__dict__["_ended"] = self.__dict__.get("_ended", []), []
        return ended


STATE_SAMPLE = 1024
"""Observations a buffer hands to ``tools.dead_units`` (and keeps across a reset)."""


def state_sample(buffer, n: int = STATE_SAMPLE) -> np.ndarray | None:
    """Up to ``n`` stored observations, drawn by a generator of their own (training's random streams
    stay as they were); None when the buffer is empty or its observations are not one array."""
    if len(buffer) == 0:
        return None
    stored = buffer.sample_indices(0)  # every stored entry, in order; draws nothing
    picked = np.random.default_rng(len(buffer)).choice(stored, min(n, len(stored)), replace=False)
    obs = buffer[picked].obs
    return obs if isinstance(obs, np.ndarray) else None


class KeepsStates:
    """Keeps a sample of the observations a reset discards: an on-policy buffer is emptied after
    every update, before the test at which the worker measures its policy's live units."""

    kept_states: np.ndarray | None = None

    def reset(self, keep_statistics: bool = False) -> None:  # type: ignore[no-untyped-def]
        if len(self) > 0:  # type: ignore[arg-type]
            self.kept_states = state_sample(self)
        super().reset(keep_statistics=keep_statistics)  # type: ignore[misc]

    def states(self) -> np.ndarray | None:
        """Stored observations, else those kept at the last reset."""
        return state_sample(self) if len(self) > 0 else self.kept_states  # type: ignore[arg-type]


class CheckedVectorReplayBuffer(KeepsStates, EpisodeLengths, NewEntriesNullCheck, ArrayBookkeeping, VectorReplayBuffer):
    """Tianshou's ``VectorReplayBuffer`` with the per-collection null check on new entries only, the
    bookkeeping of ``add`` in arrays, and the lengths of the episodes that end in it."""


class EpisodeStatsBuffer(EpisodeLengths, VectorReplayBuffer):
    """Tianshou's ``VectorReplayBuffer`` that also keeps the lengths of the episodes that end in it."""


STATS_SLOT_SIZE = 16
"""Entries per env of ``stats_buffer``: a ring far shorter than an episode is enough (see there)."""


def stats_buffer(n_envs: int) -> EpisodeStatsBuffer:
    """A small ring buffer for a collector whose transitions nobody reads (tests, plain evaluation).
    Tianshou's collector counts episode returns in a buffer's bookkeeping, not from its data, and
    without one allocates 10,000 entries per env: for SMAX 8m's 10 test games × 8 agents of 1,866
    floats that is 800,000 × 2 observations, ~11 GiB. Collect with ``EpisodeLengthCollector``: Tianshou's
    own collector misreads episode lengths on a ring shorter than the episode (``EpisodeLengths``)."""
    return EpisodeStatsBuffer(STATS_SLOT_SIZE * n_envs, n_envs)
