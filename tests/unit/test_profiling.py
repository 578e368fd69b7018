import pytest
from conftest import ENV_FILE

from envs.errors import EnvLoadError
from tools.profiling import profile_env


def test_sparse_reward_is_measured_not_looked_up():
    assert profile_env("MountainCarContinuous-v0", episodes=3).sparse_reward
    assert not profile_env("CartPole-v1", episodes=5).sparse_reward
    p = profile_env("Pendulum-v1", episodes=3)
    assert not p.sparse_reward and p.action.kind == "continuous" and p.max_episode_steps == 200


def test_env_that_raises_is_named_with_the_call():
    with pytest.raises(EnvLoadError, match=r"raised in step\(\): RuntimeError: simulator exploded"):
        profile_env(f"{ENV_FILE}:RaisesOnStep")
    with pytest.raises(EnvLoadError, match=r"raised in reset\(\): ValueError: no scenario loaded"):
        profile_env(f"{ENV_FILE}:RaisesOnReset")
