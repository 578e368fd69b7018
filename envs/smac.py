"""SMAC (StarCraft II micromanagement, ``smac``'s ``StarCraft2Env``) as a PettingZoo parallel env.

Real SMAC needs the StarCraft II game and its maps, which cannot be installed here; for users
who have them: ``pip install git+https://github.com/oxwhirl/smac.git`` (the ``smac`` package on
PyPI is SMAC3, an unrelated optimiser), set ``SC2PATH``, then ``agent2 run --env smac_3m``.
Without the game, the same maps run through SMAX (``envs/smax.py``).

SMAC rejects an action that is not available to a unit (dead units may only take no-op 0). The
available actions go out as ``info['action_mask']`` (the learners mask their logits with it);
an unavailable action that still arrives becomes the unit's first available one. The reward is SMAC's shared team reward, given to
every agent; ``metric_reward`` is 1 on the last step of a won battle (``info['battle_won']``),
so a mean evaluation return is the win rate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.errors import EnvLoadError
from envs.multiagent import win_metric

SMAC_MAPS = ("3m", "8m", "2s3z", "1c3s5z", "3s5z", "5m_vs_6m", "MMM2", "corridor")


def _starcraft_env_class() -> Callable[..., Any]:
    try:
        from smac.env import StarCraft2Env
    except ImportError as e:
        raise EnvLoadError(
            "SMAC needs StarCraft II and the smac package: pip install git+https://github.com/oxwhirl/smac.git "
            f"and set SC2PATH; without the game use the SMAX maps (agent2 tasks) ({e})"
        ) from e
    return StarCraft2Env


class SMACParallelEnv(ParallelEnv):
    metadata = {"name": "smac", "render_modes": []}
    action_masks = True
    """``info['action_mask']``: the unit's available actions (``get_avail_agent_actions``)."""

    def __init__(self, map_name: str = "3m", env_class: Callable[..., Any] | None = None, **kwargs: Any):
        cls = env_class or _starcraft_env_class()
        self.map_name = map_name
        self._env = cls(map_name=map_name, **kwargs)
        info = self._env.get_env_info()
        self.possible_agents = [f"agent_{k}" for k in range(int(info["n_agents"]))]
        self.agents: list[str] = []
        self.max_cycles = int(info["episode_limit"])
        self._obs_space = spaces.Box(-np.inf, np.inf, (int(info["obs_shape"]),), np.float32)
        self._act_space = spaces.Discrete(int(info["n_actions"]))
        self.state_space = spaces.Box(-np.inf, np.inf, (int(info["state_shape"]),), np.float32)
        """SMAC's global state (``get_state``), for a centralised critic that reads it."""
        self._seed: int | None = None

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def state(self) -> np.ndarray:
        return np.asarray(self._env.get_state(), dtype=np.float32)

    def _observe(self, agents: list[str]) -> dict:
        obs = self._env.get_obs()
        return {a: np.asarray(obs[int(a.split("_")[1])], dtype=np.float32) for a in agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None and hasattr(self._env, "_seed"):
            self._env._seed = seed
        self._env.reset()
        self.agents = list(self.possible_agents)
        return self._observe(self.agents), {a: {"action_mask": self._mask(a)} for a in self.agents}

    def _mask(self, agent: str) -> np.ndarray:
        return np.asarray(self._env.get_avail_agent_actions(int(agent.split("_")[1])), dtype=np.int8)

    def legal_action(self, k: int, action: int) -> int:
        avail = np.asarray(self._env.get_avail_agent_actions(k))
        if 0 <= action < len(avail) and avail[action]:
            return int(action)
        return int(np.flatnonzero(avail)[0])

    def step(self, actions: dict):
        joint = [self.legal_action(k, int(actions.get(a, 0))) for k, a in enumerate(self.possible_agents)]
        reward, over, info = self._env.step(joint)
        live = self.agents
        won = bool(info.get("battle_won", False))
        timeout = bool(info.get("episode_limit", False))
        obs = self._observe(live)
        dead = {a for k, a in enumerate(self.possible_agents) if self._env.get_unit_by_id(k).health <= 0}
        term = {a: (over and not timeout) or a in dead for a in live}
        trunc = {a: over and timeout for a in live}
        rewards = {a: float(reward) for a in live}
        infos = {a: {"won": won, "battle_over": bool(over), "action_mask": self._mask(a)} for a in live}
        self.agents = [] if over else [a for a in live if a not in dead]
        return obs, rewards, term, trunc, infos

    metric_reward = staticmethod(win_metric)

    def close(self) -> None:
        self._env.close()


def make_smac(map_name: str = "3m") -> SMACParallelEnv:
    return SMACParallelEnv(map_name)
