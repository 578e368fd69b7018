"""The collector's statistics: every env plays its share of the episodes, and an episode's length is
its number of steps whatever the buffer's size."""

import gymnasium as gym
import numpy as np
from tianshou.data import Batch
from tianshou.env import DummyVectorEnv

from tools.algorithms import build_algorithm
from tools.buffers import STATS_SLOT_SIZE, stats_buffer
from tools.collector import EpisodeLengthCollector
from tools.schemas import AlgoConfig


class Corridor(gym.Env):
    """An episode of exactly ``length`` steps, a reward of 1 each: its return is its length."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,))
    action_space = gym.spaces.Discrete(2)

    def __init__(self, length: int):
        self.length, self.t = length, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(1, np.float32), 1.0, self.t >= self.length, False, {}


def _collector(envs, buffer) -> EpisodeLengthCollector:
    space = envs.observation_space[0]
    algorithm = build_algorithm(AlgoConfig(algorithm="PPO", hidden_sizes=[8]), space.shape[0], envs.action_space[0])
    collector = EpisodeLengthCollector(algorithm, envs, buffer)
    collector.reset()
    return collector


def test_more_episodes_than_envs_come_evenly_from_every_env():
    """Tianshou's own collector stops at the n-th episode to end, so a 5-step env hands in nearly all
    of 10 episodes beside a 50-step one (mean ~9.5 instead of 27.5)."""
    envs = DummyVectorEnv([lambda: Corridor(5), lambda: Corridor(50)])
    collector = _collector(envs, stats_buffer(len(envs)))
    for n in (10, 7):
        stats = collector.collect(n_episode=n)
        assert stats.n_collected_episodes == n and len(stats.returns) == n
        assert sorted(stats.returns.tolist()) == sorted([5.0] * (n - n // 2) + [50.0] * (n // 2))
        assert stats.n_collected_steps == 5 * (n - n // 2) + 50 * (n // 2)
        assert stats.lens.tolist() == stats.returns.astype(int).tolist()  # 50 steps on a 16-entry ring
        assert stats.returns_stat is not None and stats.returns_stat.mean == np.mean(stats.returns)
    envs.close()


def test_episode_lengths_on_a_ring_shorter_than_the_episode_are_the_true_lengths():
    """Tianshou 2.0.1's collector takes an episode's length from the buffer slice it spans, which on
    the 16-entry ring is the length modulo 16 (``agent2 play`` printed "mean length 13" for CartPole
    episodes of 77 and 93 steps). ``EpisodeLengthCollector`` reports the buffer's own count: in
    CartPole, one step per reward of 1."""
    envs = DummyVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(2)])
    envs.seed(3)
    buffer = stats_buffer(len(envs))
    collector = _collector(envs, buffer)
    ended = Batch(obs=np.zeros((2, 4)), act=np.zeros(2, int), rew=np.ones(2), terminated=np.ones(2, bool))
    ended.update(truncated=np.zeros(2, bool), obs_next=np.zeros((2, 4)), info=Batch())
    buffer.add(ended)  # episodes that ended outside a collection are not its episodes
    lengths: list[int] = []
    for _ in range(10):
        stats = collector.collect(n_episode=2, random=True)
        assert stats.lens.tolist() == [int(r) for r in stats.returns]  # same episodes, same order
        assert stats.lens_stat is not None and stats.lens_stat.mean == np.mean(stats.lens)
        lengths += stats.lens.tolist()
    assert max(lengths) > STATS_SLOT_SIZE  # random CartPole episodes: ~10-60 steps
    stats = collector.collect(n_step=8, random=True)  # n_step collection: episodes may end or not
    assert stats.lens.tolist() == [int(r) for r in stats.returns]
    envs.close()
