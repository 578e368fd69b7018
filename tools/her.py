"""Hindsight experience replay (Andrychowicz et al. 2017) on Agent²'s flat observations.

Tianshou's ``HERReplayBuffer`` relabels goals in place in the buffer (so n-step returns and target
values read the relabelled transitions) but expects a Dict observation kept as a Batch with
``achieved_goal`` / ``desired_goal`` fields. Agent²'s MDP hands the learner one flat vector, with the
goals at known offsets (``GoalSlices``); this subclass overrides only how a sampled episode's goals
and rewards are rewritten, and keeps Tianshou's sampling, caching and restoring.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tianshou.data import HERReplayBuffer, ReplayBuffer
from tianshou.data.buffer.manager import HERReplayBufferManager

from tools.buffers import EpisodeLengths, NewEntriesNullCheck
from tools.schemas import GoalSlices


class FlatHERReplayBuffer(HERReplayBuffer):
    def __init__(
        self,
        size: int,
        compute_reward_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
        horizon: int,
        future_k: float,
        goal: GoalSlices,
        **kwargs,
    ):
        super().__init__(size, compute_reward_fn=compute_reward_fn, horizon=horizon, future_k=future_k, **kwargs)
        self.achieved = slice(goal.achieved_offset, goal.achieved_offset + goal.size)
        self.desired = slice(goal.desired_offset, goal.desired_offset + goal.size)

    def sample_indices(self, batch_size: int | None) -> np.ndarray:
        """Relabel only what training samples: ``batch_size`` 0 or None means "every index" (what
        ``buf[:]`` and Tianshou's ``hasnull`` check after each collection ask for), which would
        otherwise relabel the whole buffer at every step."""
        if batch_size is None or batch_size <= 0:
            self._restore_cache()
            return ReplayBuffer.sample_indices(self, batch_size)
        return super().sample_indices(batch_size)

    def rewrite_transitions(self, indices: np.ndarray) -> None:
        """The 'future' strategy: for a share ``1 - 1/k`` of the sampled episodes, every transition's
        desired goal becomes the goal achieved at one random later step of its episode, and its reward
        is recomputed by the env's ``compute_reward``. Written to the buffer until the next write or
        sample (Tianshou's ``_restore_cache``), as in ``HERReplayBuffer``."""
        if indices.size == 0:
            return
        indices = indices.copy()
        indices[indices < self._insertion_idx] += self.maxsize  # chronological order
        indices = np.sort(indices)
        indices[indices >= self.maxsize] -= self.maxsize
        steps = [indices]
        for _ in range(self.horizon - 1):
            steps.append(self.next(steps[-1]))
        trajectory = np.stack(steps)  # (horizon, sampled): each sample's episode from it onwards
        current, terminal = trajectory[0], trajectory[-1]
        length = (terminal - current + self.maxsize) % self.maxsize
        future_t = (current + np.round(np.random.uniform(size=len(current)) * length).astype(int)) % self.maxsize
        opens = np.sort(np.unique(terminal, return_index=True)[1])  # one (longest) trajectory per episode
        episodes = trajectory[:, opens]
        closes = np.hstack([(opens - 1)[1:], len(terminal) - 1])
        relabel = np.random.choice(len(opens), size=int(len(opens) * self.future_p), replace=False)
        self._altered_indices = episodes.copy()
        self._original_meta = self._meta[self._altered_indices].copy()
        obs, obs_next = self._meta.obs[episodes].copy(), self._meta.obs_next[episodes].copy()
        rew = self._meta.rew[episodes].copy()
        new_goal = self._meta.obs_next[future_t[closes]][:, self.achieved]  # (episodes, goal size)
        obs[:, relabel, self.desired] = new_goal[None, relabel]
        obs_next[:, relabel, self.desired] = new_goal[None, relabel]
        flat_next = obs_next.reshape(-1, obs_next.shape[-1])
        recomputed = np.asarray(
            self.compute_reward_fn(flat_next[:, self.achieved], flat_next[:, self.desired]), dtype=np.float64
        ).reshape(episodes.shape)
        rew[:, relabel] = recomputed[:, relabel]
        self._meta.obs[episodes] = obs
        self._meta.obs_next[episodes] = obs_next
        self._meta.rew[episodes] = rew


class FlatHERVectorReplayBuffer(EpisodeLengths, NewEntriesNullCheck, HERReplayBufferManager):
    """``buffer_num`` ``FlatHERReplayBuffer``s sharing one memory, as ``HERVectorReplayBuffer``."""

    def __init__(self, total_size: int, buffer_num: int, **kwargs):
        size = int(np.ceil(total_size / buffer_num))
        super().__init__([FlatHERReplayBuffer(size, **kwargs) for _ in range(buffer_num)])


def env_reward_fn(env) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The env's ``compute_reward(achieved, desired, info)`` over a batch of goals."""
    compute = env.unwrapped.compute_reward
    return lambda achieved, desired: np.asarray(compute(achieved, desired, None), dtype=np.float64)
