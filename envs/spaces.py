"""Bring any standard Gymnasium space into the form the learners take.

Observations become one flat float32 vector (Gymnasium's ``FlattenObservation`` one-hot encodes
Discrete and MultiDiscrete parts and flattens Tuple and Dict). Actions stay Discrete or Box;
MultiDiscrete and MultiBinary become one Discrete action over their product when it is small.
"""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.errors import UnsupportedSpaceError

MAX_JOINT_ACTIONS = 1024


class JointDiscreteAction(gym.ActionWrapper):
    """Expose a MultiDiscrete/MultiBinary action space as one Discrete space over all combinations."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.action_space
        nvec = [2] * int(space.n) if isinstance(space, spaces.MultiBinary) else list(space.nvec)
        self._table = np.array(list(itertools.product(*[range(n) for n in nvec])), dtype=np.int64)
        self.action_space = spaces.Discrete(len(self._table))

    def action(self, action):  # type: ignore[override]
        return self._table[int(action)]


def _flat_obs_ok(space: spaces.Space) -> bool:
    return isinstance(space, spaces.Box) and len(space.shape) == 1 and space.dtype == np.float32


def standardize(env: gym.Env, ref: str = "env") -> gym.Env:
    obs_space = env.observation_space
    if not isinstance(obs_space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete,
                                  spaces.MultiBinary, spaces.Tuple, spaces.Dict)):
        raise UnsupportedSpaceError(
            f"env {ref!r}: observation space {obs_space} is not supported "
            "(Box, Discrete, MultiDiscrete, MultiBinary, Tuple or Dict)"
        )
    if not _flat_obs_ok(obs_space):
        if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
            env = gym.wrappers.FlattenObservation(env)
        if env.observation_space.dtype != np.float32:
            env = gym.wrappers.DtypeObservation(env, np.float32)
    act_space = env.action_space
    if isinstance(act_space, (spaces.MultiDiscrete, spaces.MultiBinary)):
        n = int(np.prod(act_space.nvec)) if isinstance(act_space, spaces.MultiDiscrete) else 2 ** int(act_space.n)
        if n > MAX_JOINT_ACTIONS:
            raise UnsupportedSpaceError(
                f"env {ref!r}: action space {act_space} has {n} joint actions "
                f"(more than {MAX_JOINT_ACTIONS}); use a Box or a smaller discrete space"
            )
        env = JointDiscreteAction(env)
    elif not isinstance(act_space, (spaces.Discrete, spaces.Box)):
        raise UnsupportedSpaceError(
            f"env {ref!r}: action space {act_space} is not supported (Discrete, Box, MultiDiscrete, MultiBinary)"
        )
    if isinstance(env.action_space, spaces.Box) and not np.all(np.isfinite(env.action_space.low)):
        raise UnsupportedSpaceError(
            f"env {ref!r}: Box action space {env.action_space} must have finite bounds"
        )
    return env
