"""Environments of the generality suite that no installed package provides, written the way a user
hands one to Agent² (``--env bench/generality_envs.py:make_...``), plus factories for packages
whose envs need a call before ``gym.make`` (MinAtar).

Each is small, seeded through ``reset(seed=...)``, and has a known best return, so a target can be
set without guessing:

- ``HiddenVelocityCartPole``: CartPole that shows only the cart position and pole angle; the
  velocities must be inferred from consecutive observations (a memory task).
- ``TextGoalRoom``: a 5×5 room, a Dict observation with the agent's position and a text mission
  ("go to the red corner" / "... blue ..."); only the mission says which corner pays.
- ``MultiSwitch``: a MultiDiscrete action (three dials of three settings) must match a pattern shown
  in the observation, ten times an episode.
- ``ImageGoal``: a 12×12 RGB image (uint8, H×W×C) of a grid with the agent and a goal; reach the goal.
- ``BitFlip``: the HER paper's goal-conditioned bit flipping (12 bits), reward -1 until the goal.
- ``PointGoal``: goal-conditioned continuous reaching with ``observation`` / ``achieved_goal`` /
  ``desired_goal`` and ``compute_reward``, sparse reward (-1 a step until within 0.1 of the goal).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class HiddenVelocityCartPole(gym.ObservationWrapper):
    def __init__(self, env: gym.Env):
        super().__init__(env)
        high = np.array([4.8, 0.42], dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)

    def observation(self, observation):
        return np.asarray(observation, dtype=np.float32)[[0, 2]]


def make_hidden_velocity_cartpole() -> gym.Env:
    return gym.wrappers.TimeLimit(HiddenVelocityCartPole(CartPoleEnv()), 500)


class TextGoalRoom(gym.Env):
    """The right corner pays +1, the wrong one -1, each step costs 0.01; both corners are four steps
    from the start, so the best return is 0.96."""

    SIZE = 5
    CORNERS = {"red": (0, 0), "blue": (4, 4)}

    def __init__(self):
        self.observation_space = spaces.Dict(
            {
                "position": spaces.Box(0, self.SIZE - 1, (2,), np.float32),
                "mission": spaces.Text(max_length=40, charset="abcdefghijklmnopqrstuvwxyz "),
            }
        )
        self.action_space = spaces.Discrete(4)
        self.pos = np.zeros(2, dtype=np.int64)
        self.goal = "red"

    def _obs(self):
        return {"position": self.pos.astype(np.float32), "mission": f"go to the {self.goal} corner"}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = np.array([2, 2])
        self.goal = "red" if self.np_random.random() < 0.5 else "blue"
        return self._obs(), {}

    def step(self, action):
        move = [(-1, 0), (1, 0), (0, -1), (0, 1)][int(action)]
        self.pos = np.clip(self.pos + move, 0, self.SIZE - 1)
        for colour, corner in self.CORNERS.items():
            if tuple(self.pos) == corner:
                return self._obs(), (1.0 if colour == self.goal else -1.0) - 0.01, True, False, {}
        return self._obs(), -0.01, False, False, {}


def make_text_goal_room() -> gym.Env:
    return gym.wrappers.TimeLimit(TextGoalRoom(), 50)


class MultiSwitch(gym.Env):
    """Best return 10 (all three dials right at each of the ten steps)."""

    DIALS, SETTINGS, STEPS = 3, 3, 10

    def __init__(self):
        self.observation_space = spaces.MultiDiscrete([self.SETTINGS] * self.DIALS)
        self.action_space = spaces.MultiDiscrete([self.SETTINGS] * self.DIALS)
        self.pattern = np.zeros(self.DIALS, dtype=np.int64)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.pattern = self.np_random.integers(0, self.SETTINGS, self.DIALS)
        return self.pattern.copy(), {}

    def step(self, action):
        reward = float(np.mean(np.asarray(action) == self.pattern))
        self.t += 1
        self.pattern = self.np_random.integers(0, self.SETTINGS, self.DIALS)
        return self.pattern.copy(), reward, self.t >= self.STEPS, False, {}


def make_multi_switch() -> gym.Env:
    return MultiSwitch()


class ImageGoal(gym.Env):
    """A 6×6 grid drawn at 2 px a cell: agent red, goal green. +1 at the goal, -0.01 a step; best
    return about 0.95 (at most 10 steps apart)."""

    CELLS, PX = 6, 2

    def __init__(self):
        side = self.CELLS * self.PX
        self.observation_space = spaces.Box(0, 255, (side, side, 3), np.uint8)
        self.action_space = spaces.Discrete(4)
        self.agent = np.zeros(2, dtype=np.int64)
        self.goal = np.zeros(2, dtype=np.int64)

    def _image(self):
        img = np.zeros(self.observation_space.shape, dtype=np.uint8)
        for cell, channel in ((self.goal, 1), (self.agent, 0)):
            r, c = cell * self.PX
            img[r : r + self.PX, c : c + self.PX, channel] = 255
        return img

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.agent = self.np_random.integers(0, self.CELLS, 2)
        self.goal = self.agent
        while np.array_equal(self.goal, self.agent):
            self.goal = self.np_random.integers(0, self.CELLS, 2)
        return self._image(), {}

    def step(self, action):
        move = [(-1, 0), (1, 0), (0, -1), (0, 1)][int(action)]
        self.agent = np.clip(self.agent + move, 0, self.CELLS - 1)
        if np.array_equal(self.agent, self.goal):
            return self._image(), 0.99, True, False, {}
        return self._image(), -0.01, False, False, {}


def make_image_goal() -> gym.Env:
    return gym.wrappers.TimeLimit(ImageGoal(), 50)


class PointGoal(gym.Env):
    """A point in the unit square moves by up to 0.1 per axis a step toward a goal drawn at reset.
    Reward -1 a step until the point is within 0.1 of the goal (0, episode ends); 50 steps at most.
    Best return about -5 (goals are at most ~1.4 away)."""

    TOL, SPEED = 0.1, 0.1

    def __init__(self):
        box = spaces.Box(0.0, 1.0, (2,), np.float32)
        self.observation_space = spaces.Dict({"observation": box, "achieved_goal": box, "desired_goal": box})
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.point = np.zeros(2, dtype=np.float32)
        self.goal = np.zeros(2, dtype=np.float32)

    def compute_reward(self, achieved_goal, desired_goal, info):
        d = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -(d > self.TOL).astype(np.float32)

    def _obs(self):
        return {"observation": self.point.copy(), "achieved_goal": self.point.copy(), "desired_goal": self.goal.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.point = self.np_random.uniform(0, 1, 2).astype(np.float32)
        self.goal = self.np_random.uniform(0, 1, 2).astype(np.float32)
        return self._obs(), {}

    def step(self, action):
        self.point = np.clip(self.point + self.SPEED * np.clip(action, -1, 1), 0, 1).astype(np.float32)
        reward = float(self.compute_reward(self.point, self.goal, {}))
        return self._obs(), reward, reward == 0.0, False, {"is_success": reward == 0.0}


def make_point_goal() -> gym.Env:
    return gym.wrappers.TimeLimit(PointGoal(), 50)


class BitFlip(gym.Env):
    """The HER paper's bit flipping (Andrychowicz et al. 2017): ``n`` bits, an action flips one; the
    episode ends when the bits equal the goal drawn at reset, or after ``n`` steps. Reward -1 a step
    until then, 0 on the step that reaches the goal. Random play almost never reaches a goal for
    ``n`` ≥ 10; the best return is 1 - (bits that differ), about -n/2 + 1."""

    def __init__(self, n: int = 12):
        self.n = n
        box = spaces.Box(0.0, 1.0, (n,), np.float32)
        self.observation_space = spaces.Dict({"observation": box, "achieved_goal": box, "desired_goal": box})
        self.action_space = spaces.Discrete(n)
        self.bits = np.zeros(n, np.float32)
        self.goal = np.zeros(n, np.float32)
        self.t = 0

    def compute_reward(self, achieved_goal, desired_goal, info):
        return -np.any(np.asarray(achieved_goal) != np.asarray(desired_goal), axis=-1).astype(np.float32)

    def _obs(self):
        return {"observation": self.bits.copy(), "achieved_goal": self.bits.copy(), "desired_goal": self.goal.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.bits = self.np_random.integers(0, 2, self.n).astype(np.float32)
        self.goal = self.np_random.integers(0, 2, self.n).astype(np.float32)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.bits[int(action)] = 1.0 - self.bits[int(action)]
        self.t += 1
        reward = float(self.compute_reward(self.bits, self.goal, None))
        return self._obs(), reward, reward == 0.0, self.t >= self.n, {"is_success": reward == 0.0}


def make_bit_flip() -> gym.Env:
    return BitFlip(12)


def make_minatar_breakout() -> gym.Env:
    """MinAtar's Breakout (10×10×4 boolean image); MinAtar registers its ids only on request."""
    from minatar.gym import register_envs

    if "MinAtar/Breakout-v1" not in gym.registry:
        register_envs()
    return gym.make("MinAtar/Breakout-v1")


def make_doorkey() -> gym.Env:
    """MiniGrid's DoorKey 5×5, handed over in a file as the issue's user did."""
    import minigrid  # noqa: F401  - registers the MiniGrid ids

    return gym.make("MiniGrid-DoorKey-5x5-v0")
