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


def test_array_bookkeeping_adds_exactly_as_tianshous_per_buffer_loop():
    """Random steps into 6 small sub-buffers (episodes ending at random, buffers wrapping around, a
    step for a subset of them): the same returned indices and episode figures, the same sub-buffer
    states and the same stored data and episode walks as Tianshou's own ``VectorReplayBuffer``."""
    from tianshou.data import VectorReplayBuffer

    ours, theirs = CheckedVectorReplayBuffer(60, 6), VectorReplayBuffer(60, 6)
    rng = np.random.default_rng(0)
    for t in range(200):
        ids = np.arange(6) if t % 3 else np.sort(rng.choice(6, 3, replace=False))
        step = _step(len(ids), 0.0)
        step.rew = rng.normal(size=len(ids))
        step.terminated = rng.random(len(ids)) < 0.1
        step.truncated = rng.random(len(ids)) < 0.05
        step.obs = rng.normal(size=(len(ids), 3))
        for a, b in zip(ours.add(step, ids), theirs.add(step, ids), strict=True):
            assert np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    for mine, tian in zip(ours.buffers, theirs.buffers, strict=True):
        for key in ("_insertion_idx", "_size", "_ep_len", "_ep_start_idx", "last_index"):
            assert np.array_equal(getattr(mine, key), getattr(tian, key)), key
        assert np.isclose(mine._ep_return, tian._ep_return)
    assert np.array_equal(ours.last_index, theirs.last_index) and np.array_equal(ours._lengths, theirs._lengths)
    all_ours, all_theirs = ours.sample_indices(0), theirs.sample_indices(0)
    assert np.array_equal(all_ours, all_theirs)
    assert np.array_equal(ours.obs[all_ours], theirs.obs[all_theirs])
    assert np.array_equal(ours.prev(all_ours), theirs.prev(all_theirs))
    assert np.array_equal(ours.next(all_ours), theirs.next(all_theirs))


def test_a_stats_buffer_far_shorter_than_an_episode_counts_returns_as_a_full_one():
    """The test and evaluation collectors get a 16-entry ring per env (``stats_buffer``). ``add``
    counts episode returns and lengths in its bookkeeping: with episodes far longer than the ring they
    are those of Tianshou's 10,000-entry default."""
    from tianshou.data import VectorReplayBuffer

    from tools.buffers import STATS_SLOT_SIZE, stats_buffer

    small, full = stats_buffer(3), VectorReplayBuffer(10_000 * 3, 3)
    rng = np.random.default_rng(1)
    lengths: set[int] = set()
    for _ in range(400):
        step = _step(3, 0.0)
        step.rew = rng.normal(size=3)
        step.terminated = rng.random(3) < 1 / 30
        _, r1, l1, _ = small.add(step)
        _, r2, l2, _ = full.add(step)
        assert np.allclose(r1, r2) and np.array_equal(l1, l2)
        lengths.update(l2[l2 > 0].tolist())
    assert max(lengths) > 3 * STATS_SLOT_SIZE
