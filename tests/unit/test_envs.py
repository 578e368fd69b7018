import gymnasium as gym
import numpy as np
import pytest
from conftest import ENV_FILE

from envs.errors import EnvLoadError
from envs.loading import make_env, resolve_factory


@pytest.mark.parametrize(
    "factory,dim", [("dict_obs", 5), ("tuple_obs", 7), ("multidiscrete_obs_and_action", 5), ("image_like_obs", 32)]
)
def test_every_observation_space_becomes_a_flat_float_vector(factory, dim):
    env = make_env(f"{ENV_FILE}:{factory}")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (dim,) and obs.dtype == np.float32
    assert env.observation_space.shape == (dim,)
    obs, *_ = env.step(env.action_space.sample())
    assert obs.shape == (dim,)


def test_multidiscrete_action_becomes_one_discrete_over_combinations():
    env = make_env(f"{ENV_FILE}:multidiscrete_obs_and_action")
    assert isinstance(env.action_space, gym.spaces.Discrete) and env.action_space.n == 6
    env.reset(seed=0)
    for a in range(6):  # the wrapped env asserts every joint action is valid
        env.step(a)


def test_gymnasium_id_and_builtin_and_default_factory():
    assert make_env("CartPole-v1").action_space.n == 2
    assert make_env("FrozenLake-v1").observation_space.shape == (16,)  # one-hot Discrete
    assert make_env(str(ENV_FILE)).observation_space.shape == (1,)  # make_env by default


def test_unknown_id_suggests_close_names():
    with pytest.raises(EnvLoadError, match=r"unknown env 'CartPol-v1'; did you mean CartPole-v1"):
        resolve_factory("CartPol-v1")


def test_missing_file_and_missing_factory_are_named():
    with pytest.raises(EnvLoadError, match="does not exist"):
        resolve_factory("no/such/file.py:make_env")
    with pytest.raises(EnvLoadError, match=r"defines no factory 'make_enf' \(did you mean make_env"):
        resolve_factory(f"{ENV_FILE}:make_enf")


def test_factory_that_returns_no_env():
    with pytest.raises(EnvLoadError, match="returned int, not a gymnasium.Env"):
        make_env(f"{ENV_FILE}:not_an_env")


def test_env_without_time_limit_gets_one():
    from envs.loading import DEFAULT_MAX_EPISODE_STEPS, episode_limit

    env = make_env(f"{ENV_FILE}:Endless")
    env.reset(seed=0)
    for t in range(1, DEFAULT_MAX_EPISODE_STEPS + 1):  # noqa: B007 - t counts the steps, read after the loop
        *_, terminated, truncated, _ = env.step(0)
        if truncated:
            break
    assert t == DEFAULT_MAX_EPISODE_STEPS == episode_limit(env)


@pytest.mark.parametrize(
    "factory,dim,said",
    [
        ("image_direction_mission_obs", 4 + 75 + 32, "mission: MissionLike of text → 32 hashed word counts"),
        (
            "one_mission_obs",
            4 + 75,
            "mission: MissionLike of one text only ('use the key to open the door and "
            "then ge'): dropped (it tells nothing)",
        ),
        ("text_obs", 32, "text → 32 hashed word counts"),
        ("sequence_obs", 3, "sequence → its length and mean element (3 values)"),
        ("graph_obs", 7, "graph → node and edge counts, mean node and edge features (7 values)"),
        ("oneof_obs", 4, "OneOf(Discrete(3), Box(-1.0, 1.0, (2,), float32)) → 4 values"),
        ("tuple_with_opaque_obs", 2, "[1]: Opaque: dropped (its values are neither text nor numbers)"),
    ],
)
def test_spaces_gymnasium_cannot_flatten_are_encoded_or_dropped_and_said(factory, dim, said):
    from tools.profiling import profile_env

    env = make_env(f"{ENV_FILE}:{factory}")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (dim,) and obs.dtype == np.float32 and np.all(np.isfinite(obs))
    for _ in range(3):
        obs, *_ = env.step(env.action_space.sample())
        assert obs.shape == (dim,)
    profile = profile_env(f"{ENV_FILE}:{factory}", episodes=2)
    assert profile.obs_dim == dim and said in profile.observation_encoding


def test_an_observation_with_nothing_to_encode_is_one_line():
    from envs.errors import UnsupportedSpaceError

    with pytest.raises(UnsupportedSpaceError, match="no part of observation space .* can be encoded .*dropped"):
        make_env(f"{ENV_FILE}:opaque_obs")
