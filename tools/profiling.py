"""Measure an env under random play: spaces, episode length, reward scale and sparsity.

The expert designer's rules read these measured properties, never the env's id.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np

from envs.errors import EnvLoadError, EnvTimeoutError
from envs.loading import (
    call_limit,
    env_source,
    env_traits,
    episode_limit,
    is_multi_agent,
    make_env,
    make_parallel_env,
    make_raw_env,
)
from envs.multiagent import env_state_dim
from envs.spaces import describe_observation, goal_slices, image_slices
from tools.schemas import EnvProfile, GoalSlices, ImageSlice, SpaceInfo

PROFILE_EPISODE_CAP = 2000
"""Profiling cuts an episode here when the env has no time limit of its own."""


def _action_info(space: gym.Space) -> SpaceInfo:
    if isinstance(space, gym.spaces.Discrete):
        return SpaceInfo(kind="discrete", n=int(space.n))
    assert isinstance(space, gym.spaces.Box)
    return SpaceInfo(
        kind="continuous",
        shape=list(space.shape),
        low=[float(x) for x in space.low.reshape(-1)],
        high=[float(x) for x in space.high.reshape(-1)],
    )


def _finite(values: np.ndarray, fill: float) -> list[float]:
    return [float(v) if np.isfinite(v) else fill for v in values.reshape(-1)]


def is_sparse(returns: np.ndarray) -> bool:
    """Random play gives (almost) the same return every episode: no learning signal to follow.

    Needs three episodes or more to say so."""
    return len(returns) >= 3 and bool(np.std(returns) <= 0.05 * abs(float(np.mean(returns))) + 1e-8)


def profile_env(
    ref: str, seed: int = 0, episodes: int = 10, max_steps: int = 20_000, max_seconds: float = 60.0
) -> EnvProfile:
    """Run a random policy for a few episodes and summarise what it saw.

    Raises ``EnvLoadError`` naming the call (reset or step) when the env raises, ``EnvTimeoutError``
    naming it when one call does not return within ``$AGENT2_ENV_CALL_TIMEOUT`` seconds (main thread).
    """
    with call_limit(ref, "its factory"):
        raw = make_raw_env(ref)  # closed before the next is made: some simulators allow one per process
    raw_obs_space, raw_act_space = str(raw.observation_space), str(raw.action_space)
    encoding = describe_observation(raw.observation_space)
    images = [ImageSlice(**d) for d in image_slices(raw.observation_space)]
    goal = goal_slices(raw.observation_space, raw)
    raw.close()
    with call_limit(ref, "its factory"):
        env = make_env(ref)
    spec = env.spec
    max_episode_steps = episode_limit(env)
    cap = max_episode_steps or PROFILE_EPISODE_CAP
    env.action_space.seed(seed)
    returns, lengths, rewards, observations = [], [], [], []
    start = time.perf_counter()
    steps = 0
    for ep in range(episodes):
        try:
            with call_limit(ref, "reset()"):
                obs, _ = env.reset(seed=seed + ep)
        except EnvTimeoutError:
            raise
        except Exception as e:
            raise EnvLoadError(f"env {ref!r} raised in reset(): {type(e).__name__}: {e}") from e
        observations.append(obs)
        total, n = 0.0, 0
        while True:
            try:
                with call_limit(ref, "step()"):
                    obs, r, terminated, truncated, _ = env.step(env.action_space.sample())
            except EnvTimeoutError:
                raise
            except Exception as e:
                raise EnvLoadError(f"env {ref!r} raised in step(): {type(e).__name__}: {e}") from e
            r = float(r)
            if not np.isfinite(r):
                raise EnvLoadError(f"env {ref!r} returned a non-finite reward {r!r} from step()")
            observations.append(obs)
            rewards.append(r)
            total += r
            n += 1
            steps += 1
            if terminated or truncated or n >= cap:
                break
        returns.append(total)
        lengths.append(n)
        if steps >= max_steps or time.perf_counter() - start > max_seconds:
            break
    elapsed = time.perf_counter() - start
    env.close()
    ret, rew, obs_arr = np.array(returns), np.array(rewards), np.array(observations, dtype=np.float64)
    obs_space = env.observation_space
    return EnvProfile(
        env=ref,
        raw_observation_space=raw_obs_space,
        observation_encoding=encoding,
        raw_action_space=raw_act_space,
        obs_dim=int(obs_space.shape[0]),
        images=[i for i in images if i.offset + i.size <= int(obs_space.shape[0])],
        goal=GoalSlices(**goal) if goal else None,
        obs_low=_finite(obs_space.low, -1e9),
        obs_high=_finite(obs_space.high, 1e9),
        obs_mean=[float(x) for x in obs_arr.mean(axis=0)],
        obs_std=[float(x) for x in obs_arr.std(axis=0)],
        action=_action_info(env.action_space),
        max_episode_steps=max_episode_steps,
        reward_threshold=spec.reward_threshold if spec is not None else None,
        random_return_mean=float(ret.mean()),
        random_return_std=float(ret.std()),
        random_return_max=float(ret.max()),
        random_episode_length=float(np.mean(lengths)),
        reward_step_mean=float(rew.mean()),
        reward_step_std=float(rew.std()),
        reward_nonzero_fraction=float(np.mean(rew != 0)),
        reward_distinct_values=int(len(np.unique(np.round(rew, 6)))),
        reward_min=float(rew.min()),
        reward_max=float(rew.max()),
        reward_abs_median=float(np.median(np.abs(rew))),
        distinct_observations=len({row.tobytes() for row in obs_arr}) / len(obs_arr),
        sparse_reward=is_sparse(ret),
        episodes_profiled=len(returns),
        steps_per_second=steps / max(elapsed, 1e-9),
        source=env_source(ref),
        one_per_process=env_traits(ref)[0],
        **_agents(ref),
    )


def _agents(ref: str) -> dict:
    """A multi-agent env's agent ids, the size of its global state and that of all its agents'
    observations side by side (``EnvProfile``'s fields)."""
    if not is_multi_agent(ref):
        return {}
    game = make_parallel_env(ref)
    try:
        return {
            "agents": [str(a) for a in game.possible_agents],
            "state_dim": env_state_dim(game),
            "joint_obs_dim": sum(gym.spaces.flatdim(game.observation_space(a)) for a in game.possible_agents),
        }
    finally:
        game.close()
