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


class StatefulAgents(LabelledAgents):
    """The same game with a global state (PettingZoo's ``state()``): ``[t, sum of the last actions]``,
    smaller than the 9 values of the three observations side by side."""

    state_space = spaces.Box(-1e3, 1e3, (2,), np.float32)

    def reset(self, seed=None, options=None):
        self.last_sum = 0
        return super().reset(seed, options)

    def step(self, actions):
        self.last_sum = sum(int(actions[a]) for a in self.agents)
        return super().step(actions)

    def state(self) -> np.ndarray:
        return np.array([self.t, self.last_sum], dtype=np.float32)


def make_stateful() -> StatefulAgents:
    return StatefulAgents()


class BlinkingAgents(ParallelEnv):
    """Each of two agents is shown its own cue (+1 or -1) at the first step only, then zeros; on the
    third step its action must match its cue (+1 reward, else -1). A memoryless policy earns 0 on
    average; one that remembers its last 3 observations sees the cue (the multi-agent ``blink``)."""

    metadata = {"name": "blinking_agents_v0", "render_modes": []}

    def __init__(self):
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self.max_cycles = 3
        self._obs_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._act_space = spaces.Discrete(2)
        self._rng = np.random.default_rng()
        self.cues: dict[str, float] = {}
        self.t = 0

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def reset(self, seed=None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.agents, self.t = list(self.possible_agents), 0
        self.cues = {a: float(self._rng.choice([-1.0, 1.0])) for a in self.agents}
        return {a: np.array([c, 0.0], dtype=np.float32) for a, c in self.cues.items()}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        over = self.t >= 3
        obs = {a: np.array([0.0, self.t / 3], dtype=np.float32) for a in self.agents}
        rew = {a: (1.0 if (int(actions[a]) == 1) == (self.cues[a] > 0) else -1.0) if over else 0.0 for a in self.agents}
        ends = {a: over for a in self.agents}
        infos = {a: {} for a in self.agents}
        self.agents = [] if over else self.agents
        return obs, rew, ends, {a: False for a in ends}, infos


def make_blinking() -> BlinkingAgents:
    return BlinkingAgents()
