"""Tianshou's collector, with unbiased episode collection and the true length of each episode.

Two corrections to Tianshou 2.0.1's ``Collector``, both about what its statistics say:

- **Each env plays the same number of episodes.** Asked for more episodes than it has envs, Tianshou's
  collector keeps every env running and stops at the n-th episode to end, so the envs whose episodes
  end sooner hand in more of them, and the mean leans toward short episodes (its own docstring: only
  the last ``env_num`` episodes are collected evenly). In a task where a crash ends an episode early
  and a success late, tests read low. ``EpisodeLengthCollector`` collects such a request in rounds
  of one episode per env.
- **An episode's length is its number of steps.** Tianshou measures it as the size of the buffer
  slice the episode spans (``CollectStats.update_at_episode_done``). On a buffer shorter than the
  episode, per env (the 16-entry rings of the test and evaluation collectors, an on-policy buffer of
  a few hundred steps per env), that slice wraps, and the size is the length modulo the ring. The
  buffer's ``add`` counts each episode's steps as it goes, whatever its size
  (``tools.buffers.EpisodeLengths``); this collector reports those counts.

The evaluation, ``agent2 play`` and the TensorBoard ``train/`` and ``test/`` figures read these stats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tianshou.data import Collector, CollectStats


class EpisodeLengthCollector(Collector[CollectStats]):
    """``Collector`` that collects ``n_episode`` in rounds of one episode per env, and whose stats hold
    each episode's length as counted by the buffer's ``add`` (a buffer without ``take_lengths``, see
    ``EpisodeLengths``, keeps Tianshou's lengths)."""

    def _collect(self, n_step: int | None = None, n_episode: int | None = None, **kwargs: Any) -> CollectStats:
        if not n_episode or n_episode <= self.env_num:
            return self._collect_once(n_step=n_step, n_episode=n_episode, **kwargs)
        rounds: list[CollectStats] = []
        while (left := n_episode - sum(s.n_collected_episodes for s in rounds)) > 0:
            # Tianshou resets every env after an n_episode collection, so each round starts afresh
            rounds.append(self._collect_once(n_episode=min(left, self.env_num), **kwargs))
        stds = [s.pred_dist_std_array for s in rounds if s.pred_dist_std_array is not None]
        return CollectStats(
            n_collected_episodes=sum(s.n_collected_episodes for s in rounds),
            n_collected_steps=sum(s.n_collected_steps for s in rounds),
            returns=np.concatenate([s.returns for s in rounds]),
            lens=np.concatenate([s.lens for s in rounds]),
            pred_dist_std_array=np.concatenate(stds) if stds else None,
        )  # the caller, Collector.collect, sets the time and the summary stats

    def _collect_once(self, **kwargs: Any) -> CollectStats:
        take = getattr(self.buffer, "take_lengths", None)
        if take is None:
            return super()._collect(**kwargs)
        take()  # lengths of episodes added to the buffer outside a collection are not this one's
        stats = super()._collect(**kwargs)
        lengths = take()
        if len(lengths) != len(stats.lens):
            raise RuntimeError(
                f"the buffer counted {len(lengths)} episode ends in a collection of {len(stats.lens)} episodes"
            )
        stats.lens = np.asarray(lengths, dtype=int)
        return stats
