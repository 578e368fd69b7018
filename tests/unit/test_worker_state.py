"""What a worker's checkpoint keeps of its algorithm beyond Tianshou's ``state_dict``."""

from __future__ import annotations

import gymnasium as gym
import pytest

from tools.algorithms import build_algorithm
from tools.schemas import AlgoConfig
from tools.train_worker import algorithm_state, load_algorithm_state


@pytest.mark.parametrize(
    ("algorithm", "space", "counter"),
    [("DQN", gym.spaces.Discrete(2), "_iter"), ("TD3", gym.spaces.Box(-1.0, 1.0, (1,)), "_cnt")],
)
def test_update_counters_survive_a_checkpoint(algorithm, space, counter):
    """DQN syncs its target network every ``target_update_freq`` updates and TD3 updates its actor every
    ``update_actor_freq``, counted outside ``state_dict``: a resumed DQN synced its target at once."""
    cfg = AlgoConfig(algorithm=algorithm, hidden_sizes=[8])
    trained = build_algorithm(cfg, 3, space)
    setattr(trained, counter, 123)
    resumed = build_algorithm(cfg, 3, space)
    load_algorithm_state(resumed, algorithm_state(trained))
    assert getattr(resumed, counter) == 123
