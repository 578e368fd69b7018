"""A small PettingZoo parallel env whose rewards and observations say whose they are.

Agent ``k`` observes ``[k, t, its last action]`` and earns ``10 * (k + 1) + action`` each step,
so a test can tell from any transition which agent it belongs to. Episodes last ``LENGTH``
steps; with ``die_early`` agent 0 leaves the game after step 3 (its slot must then see zero
reward until the game ends).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

LENGTH = 8


class LabelledAgents(ParallelEnv):
    metadata = {"name": "labelled_agents_v0", "render_modes": []}

    def __init__(self, n_agents: int = 3, die_early: bool = False):
        self.possible_agents = [f"agent_{k}" for k in range(n_agents)]
        self.agents: list[str] = []
        self.die_early = die_early
        self.max_cycles = LENGTH
        self._obs_space = spaces.Box(-1e3, 1e3, (3,), np.float32)
        self._act_space = spaces.Discrete(3)
        self.t = 0

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def _obs(self, agent: str, last: int) -> np.ndarray:
        return np.array([self.possible_agents.index(agent), self.t, last], dtype=np.float32)

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.t = 0
        return {a: self._obs(a, 0) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        obs, rew, term, trunc = {}, {}, {}, {}
        for a in self.agents:
            act = int(actions[a])
            obs[a] = self._obs(a, act)
            rew[a] = float(10 * (self.possible_agents.index(a) + 1) + act)
            term[a] = self.die_early and a == "agent_0" and self.t >= 3
            trunc[a] = self.t >= LENGTH
        infos = {a: {} for a in self.agents}
        self.agents = [a for a in self.agents if not (term[a] or trunc[a])]
        return obs, rew, term, trunc, infos


def make_env() -> LabelledAgents:
    return LabelledAgents()


def make_dying() -> LabelledAgents:
    return LabelledAgents(die_early=True)


class MaskedAgents(LabelledAgents):
    """The same game with action masks: agent 0 may not take action 2 (PettingZoo's ``action_mask``)."""

    action_masks = True

    def _masks(self):
        return {
            a: {"action_mask": np.array([1, 1, 0] if a == "agent_0" else [1, 1, 1], dtype=np.int8)} for a in self.agents
        }

    def reset(self, seed=None, options=None):
        obs, _ = super().reset(seed, options)
        return obs, self._masks()

    def step(self, actions):
        obs, rew, term, trunc, _ = super().step(actions)
        return obs, rew, term, trunc, self._masks()


def make_masked() -> MaskedAgents:
    return MaskedAgents()
