"""Many games of a multi-agent env stepped in one call, as one Tianshou vector env of agent slots.

A vector env of several games whose PettingZoo env offers ``stacked_games(n) -> batch`` (SMAX: one
jitted, vmapped step for every game) is a ``StackedGames`` instead of one ``JointGame`` per game. The
slot contract is ``envs/multiagent.py``'s, unchanged: games × agents slots, each observation
``[own | one-hot | state | mask]``; an agent out of the game keeps a zero observation and reward (and
an all-allowed mask) until the game ends; all of a game's slots end together; a slot the collector
does not step acts with a no-op. The generated MDP applies per agent through ``MDPParallelEnv``'s own
methods, so rewards, observations and errors are the same as a game's on its own.

What differs is the cost: a round is one call for every game and array work, and the infos the
collector gets are empty while training (Tianshou stacks one dict per slot and step, which costs more
than the games' step). Evaluation slots carry the game-level infos (SMAX: ``won``, ``battle_over``).

The batch protocol: ``batch.reset({index: seed or None}) -> (obs [n, agents, dim], masks [n, agents,
actions])`` (no seed: the game goes on from its own random state) and ``batch.step(actions [games,
agents], stepped [games]) -> StackedStep``. A batch whose env declares a global state
(``state_space``) must keep every game's current one in ``batch.world`` ``[games, state_dim]`` for an MDP
whose critic reads it (``env_state``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from tianshou.env import BaseVectorEnv

from envs.errors import UnsupportedSpaceError
from envs.multiagent import (
    DEFAULT_MAX_CYCLES,
    AgentFrames,
    MDPParallelEnv,
    agent_observation,
    game_limit,
    slot_layout,
    slot_observations,
    slot_seeds,
)


@dataclass
class StackedStep:
    """One round of a batch of games: a row per game (the rows of games not stepped mean nothing)."""

    obs: np.ndarray
    """``[games, agents, dim]``: every agent's observation after the step."""
    rew: np.ndarray
    """``[games, agents]``: the env's own rewards."""
    term: np.ndarray
    """``[games, agents]``: the env's terminated flags (of the agents in ``live``)."""
    trunc: np.ndarray
    live: np.ndarray
    """``[games, agents]``: the agents in the game before the step (those whose actions counted)."""
    alive: np.ndarray
    """``[games, agents]``: the agents still in the game after it."""
    masks: np.ndarray | None
    """``[games, agents, actions]``: the available actions after the step (None: no masks)."""
    infos: dict[str, np.ndarray]
    """Game-level values, ``[games]`` each (SMAX: ``won``, ``battle_over``)."""


class StackedGames(BaseVectorEnv):
    """``n_games`` games of one stacked-games batch as ``n_games × agents`` Tianshou slots."""

    def __init__(
        self,
        env: ParallelEnv,
        ref: str,
        mdp: Any,
        obs_dim: int,
        n_games: int,
        seed: int,
        shape_reward: bool,
        history: int = 1,
        env_state: bool = False,
    ):
        # BaseVectorEnv's bookkeeping without its workers: every slot is served from the arrays here
        self.rules = MDPParallelEnv(env, ref, mdp, obs_dim, shape_reward)
        self.batch = env.unwrapped.stacked_games(n_games)
        self.agents = list(self.rules.order)
        n_agents = len(self.agents)
        self.layout = slot_layout(env, obs_dim, history, env_state)
        if self.layout.env_state_dim and not hasattr(self.batch, "world"):
            raise UnsupportedSpaceError(
                f"env_state=True, but {type(self.batch).__name__} keeps no world states (batch.world) "
                "for the env's declared state_space"
            )
        self.frames = AgentFrames(n_games, n_agents, obs_dim, history) if history > 1 else None
        self.limit = game_limit(env) or DEFAULT_MAX_CYCLES
        self.n_games, self.env_num = n_games, n_games * n_agents
        self.wait_num, self.timeout, self.is_async = self.env_num, None, False
        self.waiting_conn, self.waiting_id, self.ready_id = [], [], list(range(self.env_num))
        self.is_closed = False
        act_space = env.action_space(self.agents[0])
        self._spaces = {
            "action_space": [copy.deepcopy(act_space) for _ in range(self.env_num)],  # seeded per slot
            "observation_space": [spaces.Box(-np.inf, np.inf, (self.layout.flat_dim,), np.float32)] * self.env_num,
        }
        self._noop = np.zeros(act_space.shape, dtype=act_space.dtype)
        self._discrete = isinstance(act_space, spaces.Discrete)
        self._raw = np.zeros((n_games, n_agents, self.rules.raw_dim), dtype=np.float32)
        self._own = np.zeros((n_games, n_agents, obs_dim), dtype=np.float32)
        self._masks = np.ones((n_games, n_agents, self.layout.mask_dim), dtype=np.float32)
        self._alive = np.zeros((n_games, n_agents), dtype=bool)
        self._t = np.zeros(n_games, dtype=np.int64)
        self._seeds: list[int | None] = [None] * n_games
        self.seed(slot_seeds(seed, n_games, n_agents))

    # -- BaseVectorEnv ----------------------------------------------------------------------------
    def get_env_attr(self, key: str, id: Any = None) -> list[Any]:
        ids = self._wrap_id(id)
        if key in self._spaces:
            return [self._spaces[key][j] for j in ids]
        return [getattr(self.rules, key)] * len(ids)

    def set_env_attr(self, key: str, value: Any, id: Any = None) -> None:
        raise NotImplementedError(f"the slots of stacked games share one env: cannot set {key!r} per slot")

    def seed(self, seed: Any = None) -> list[Any]:
        """Per slot, as Tianshou's vector envs take it; a game's seed is its first slot's."""
        if seed is None or isinstance(seed, int):
            seed = [None if seed is None else seed + j for j in range(self.env_num)]
        for j, s in enumerate(seed):
            self._spaces["action_space"][j].seed(s)
            if j % len(self.agents) == 0:
                self._seeds[j // len(self.agents)] = s
        return [[s] if s is not None else None for s in seed]

    def render(self, **kwargs: Any) -> list[Any]:
        return [None] * self.env_num

    def close(self) -> None:
        self.is_closed = True

    def reset(self, env_id: Any = None, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(self._wrap_id(env_id), dtype=np.int64)
        games = np.unique(ids // len(self.agents))
        seed = kwargs.get("seed")  # a reset's own seed beats the one ``seed()`` left for the game
        seeds = {int(g): seed if seed is not None else self._seeds[g] for g in games}
        for g in games:
            self._seeds[g] = None  # later resets go on with the game's own random state
        obs, masks = self.batch.reset(seeds)
        for row, g in enumerate(games):
            self._raw[g] = self._padded(obs[row])
            rows = zip(self._raw[g], self.agents, strict=True)
            self._own[g] = [agent_observation(self.rules.mdp, r, self.layout.obs_dim, a) for r, a in rows]
            if self.layout.mask_dim:
                self._masks[g] = masks[row]
        if self.frames is not None:
            self.frames.start(games, self._own[games])
        self._alive[games], self._t[games] = True, 0
        return self._slots(ids), info_array([{}] * len(ids))

    def step(self, action: Any, id: Any = None) -> tuple[np.ndarray, ...]:
        rules, mdp, n_agents, n_games = self.rules, self.rules.mdp, len(self.agents), self.n_games
        ids = np.asarray(self._wrap_id(id), dtype=np.int64)
        stepped = np.zeros(n_games, dtype=bool)
        stepped[ids // n_agents] = True
        acts = np.empty(n_games * n_agents, dtype=object)  # a slot the collector did not step: a no-op
        acts[:] = [self._noop] * len(acts)
        acts[ids] = list(action)
        noop = self._noop
        env_actions = np.zeros((n_games, n_agents, *noop.shape), dtype=noop.dtype)
        chosen: dict[tuple[int, int], Any] = {}  # each agent's action after the MDP's ``action``
        for g, k in zip(*(i.tolist() for i in np.nonzero(self._alive & stepped[:, None])), strict=True):
            act = acts[g * n_agents + k]
            if self._discrete:
                act = int(np.asarray(act).reshape(-1)[0])
            chosen[g, k] = env_actions[g, k] = mdp.action(act)
        out = self.batch.step(env_actions, stepped)
        rew, term, trunc = self._ends(out, stepped, chosen)
        if rules.shape_reward:  # training slots carry no infos (see the module's docstring)
            infos = [{}] * len(ids)
        else:
            infos = [{k: bool(v[j // n_agents]) for k, v in out.infos.items()} for j in ids.tolist()]
        return self._slots(ids), rew.reshape(-1)[ids], term.reshape(-1)[ids], trunc.reshape(-1)[ids], info_array(infos)

    def _ends(self, out: StackedStep, stepped: np.ndarray, chosen: dict) -> tuple[np.ndarray, ...]:
        """The slot rewards and ends of the ``stepped`` games after ``out``, as ``MDPParallelEnv``
        and ``JointGame`` make them; the games' observations and masks are updated in place."""
        rules, mdp, agents, obs_dim = self.rules, self.rules.mdp, self.agents, self.layout.obs_dim
        live, left = out.live & stepped[:, None], ~out.live & stepped[:, None]
        self._t[stepped] += 1
        ended = out.term | out.trunc
        over = ~out.alive.any(axis=1) | np.all(ended | ~out.live, axis=1)  # the MDP wrapper's "over"
        game_over = over | (self._t >= self.limit)  # the joint game's: also its step cap
        raw_next = self._padded(out.obs)
        n_live = out.live.sum(axis=1)
        team = np.where(n_live > 0, (out.rew * out.live).sum(axis=1) / np.maximum(n_live, 1), 0.0)
        rew = np.zeros(live.shape)
        own, raw, masks = self._own, self._raw, self._masks
        # plain Python values once per round: indexing numpy scalars per agent costs more than the MDP
        columns = [v.tolist() for v in out.infos.values()]
        game_infos = [dict(zip(out.infos, values, strict=True)) for values in zip(*columns, strict=True)] or [
            {} for _ in range(len(over))
        ]
        term_l, trunc_l, over_l = out.term.tolist(), out.trunc.tolist(), over.tolist()
        team_l, rew_l = team.tolist(), out.rew.tolist()
        no_masks = out.masks is None
        for g, k in zip(*(i.tolist() for i in np.nonzero(live)), strict=True):
            a = agents[k]
            info = {
                **game_infos[g],
                "action_mask": None if no_masks else out.masks[g, k],
                "agent": a,
                "agent_index": k,
                "team_reward": team_l[g],
                "original_reward": rew_l[g][k],
            }
            ends = (term_l[g][k], trunc_l[g][k], over_l[g])
            rew[g, k] = rules.agent_reward(a, raw[g, k], chosen[g, k], raw_next[g, k], info, *ends)
            own[g, k] = agent_observation(mdp, raw_next[g, k], obs_dim, a)
        for g, k in zip(*(i.tolist() for i in np.nonzero(left & over[:, None])), strict=True):
            rew[g, k] = rules.left_agent_metric(agents[k], game_infos[g], True)  # evaluation: a won game is won by all
        own[left] = 0.0  # out of the game: zero observation, all actions allowed
        masks[left] = 1.0
        if out.masks is not None and self.layout.mask_dim:
            masks[live] = out.masks[live]
        raw[live] = raw_next[live]
        if self.frames is not None:
            self.frames.push(np.nonzero(stepped)[0], own[stepped])
        self._alive[stepped] = out.alive[stepped]
        term = game_over[:, None] & np.where(out.live, out.term & ~out.trunc, True)
        return rew, term, game_over[:, None] & ~term

    def _padded(self, obs: np.ndarray) -> np.ndarray:
        """Observations ``[..., agents, dim]`` zero-padded to the largest agent's size."""
        if obs.shape[-1] == self.rules.raw_dim:
            return np.asarray(obs, dtype=np.float32)
        out = np.zeros((*obs.shape[:-1], self.rules.raw_dim), dtype=np.float32)
        out[..., : obs.shape[-1]] = obs
        return out

    def _slots(self, ids: np.ndarray) -> np.ndarray:
        """The slot observations of ``ids``."""
        n_agents = len(self.agents)
        games = np.unique(ids // n_agents)
        masks = self._masks[games] if self.layout.mask_dim else None
        remembered = None if self.frames is None else self.frames.remembered(games)
        state = self.batch.world[games] if self.layout.env_state_dim else None
        flat = slot_observations(self._own[games], masks, remembered, state).reshape(len(games) * n_agents, -1)
        return flat[np.searchsorted(games, ids // n_agents) * n_agents + ids % n_agents]


def info_array(dicts: list[dict]) -> np.ndarray:
    """Per-slot info dicts as the object array Tianshou's collector takes."""
    out = np.empty(len(dicts), dtype=object)
    out[:] = dicts
    return out
