"""Apply a generated MDP (observation, action and reward functions) to an env.

The code is untrusted: only the training/evaluation worker and the sandboxed smoke check
execute it, each in its own process with limits (see ``tools/sandbox.py``).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import FlattenObservation, FrameStackObservation

from envs.errors import MDPCodeError, NonFiniteRewardError

REQUIRED_FUNCTIONS = ("observation", "action", "reward")


def load_mdp_module(code: str, filename: str = "mdp.py") -> SimpleNamespace:
    """Execute MDP code into a fresh namespace and return its three functions."""
    namespace: dict[str, Any] = {"__name__": "agent2_mdp", "np": np, "math": math}
    try:
        exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - sandboxed by the caller
    except SyntaxError as e:
        raise MDPCodeError(f"{filename}:{e.lineno}: syntax error: {e.msg}") from e
    except Exception as e:  # noqa: BLE001
        raise MDPCodeError(f"{filename}: running the module raised {type(e).__name__}: {e}") from e
    missing = [f for f in REQUIRED_FUNCTIONS if not callable(namespace.get(f))]
    if missing:
        raise MDPCodeError(f"{filename}: missing function(s) {', '.join(missing)}")
    return SimpleNamespace(**{f: namespace[f] for f in REQUIRED_FUNCTIONS})


class MDPWrapper(gym.Wrapper):
    """Observation transform, action transform and (optionally) shaped reward.

    ``info['original_reward']`` always carries the env's own reward, so the original metric
    stays measurable. With ``shape_reward=False`` the reward passed on is the original one
    (evaluation and early-stopping tests use that).
    """

    def __init__(self, env: gym.Env, code: str, obs_dim: int, shape_reward: bool = True):
        super().__init__(env)
        self.fns = load_mdp_module(code)
        self.shape_reward = shape_reward
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self._last_raw_obs: np.ndarray | None = None

    def _obs(self, raw: np.ndarray) -> np.ndarray:
        out = np.asarray(self.fns.observation(raw), dtype=np.float32).reshape(-1)
        if out.shape != self.observation_space.shape:
            raise MDPCodeError(
                f"observation() returned shape {out.shape}, declared {self.observation_space.shape}"
            )
        return out

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        raw, info = self.env.reset(seed=seed, options=options)
        self._last_raw_obs = raw
        return self._obs(raw), info

    def step(self, action):
        env_action = self.fns.action(action)
        raw_next, rew, terminated, truncated, info = self.env.step(env_action)
        info = dict(info)
        info["original_reward"] = original = float(rew)
        if self.shape_reward:
            rew = float(self.fns.reward(
                self._last_raw_obs, env_action, raw_next, original,
                {**info, "terminated": bool(terminated), "truncated": bool(truncated)},
            ))
            if not math.isfinite(rew):
                raise NonFiniteRewardError.of(rew, original)
        self._last_raw_obs = raw_next
        return self._obs(raw_next), rew, terminated, truncated, info


def make_mdp_env(env_ref: str, code: str, obs_dim: int, shape_reward: bool,
                 render_mode: str | None = None, history: int = 1) -> gym.Env:
    """The env behind ``env_ref`` with a generated MDP applied; with ``history`` > 1 each
    observation is the last ``history`` ones, oldest first, flattened (Gymnasium's frame stack,
    padded with the first observation after a reset)."""
    from envs.loading import make_env

    env: gym.Env = MDPWrapper(make_env(env_ref, render_mode=render_mode), code, obs_dim, shape_reward=shape_reward)
    if history > 1:
        env = FlattenObservation(FrameStackObservation(env, history, padding_type="reset"))
    return env
