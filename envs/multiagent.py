"""Multi-agent envs (PettingZoo parallel API) as one Tianshou vector-env slot per agent.

Tianshou's own ``PettingZooEnv`` takes AEC envs turn by turn, which for simultaneous-move envs
such as MPE gives each reward to the wrong agent (``../shared/DESIGN.md``). Here every agent of
every game is a slot of one ``BaseVectorEnv``: the vector env sends all slots their actions
first and only then receives, so the first receive of a round steps the whole game once with
every agent's action, and each slot gets its own observation, reward and end-of-episode flags.
Tianshou's collectors, buffers, GAE and trainers then run unchanged, and the returns they
report are per-agent returns.

The generated MDP applies per agent as a PettingZoo parallel wrapper (``MDPParallelEnv``).
A slot's observation is one flat vector ``[own observations | agent one-hot | state | mask]`` where
the own part is the agent's last ``history`` (MDP-transformed) observations, oldest first (the
MDP's ``history``; 1: the current one), the state every agent's current observation side by side
and the mask the agent's available actions (only for envs with ``action_masks = True``): a
parameter-shared actor reads the first two parts, a centralised (MAPPO) critic the state
(``AgentLayout``).

All of a game's slots start and end their episodes together: an agent that is done early
(e.g. a dead unit) stays in its slot with zero observation and reward until the game ends (with a
history its older frames leave the window one step at a time, zeros taking their place), and its
action is ignored; in evaluation the game's end pays it the env's game-level metric (a won
battle is won for every ally). A slot the collector does not step in a round acts with a no-op (0).
Several games of an env that steps many games in one call (SMAX) are ``envs/stacked_games.py``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import AECEnv, ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper

from envs.errors import EnvLoadError, MDPCodeError, NonFiniteRewardError, UnsupportedSpaceError
from envs.mdp_wrapper import reward_terms

SLOT_INFO_DROPPED = {"action_mask", "agent"}
"""Info keys a slot does not pass on: the mask is in the observation, the id is ``agent_index``."""
DEFAULT_MAX_CYCLES = 1000
"""Step cap for games without an episode limit of their own."""


def as_parallel(env: Any, ref: str) -> ParallelEnv:
    """A PettingZoo parallel env from a parallel or AEC env (AEC via PettingZoo's converter)."""
    if isinstance(env, ParallelEnv):
        return env
    if isinstance(env, AECEnv):
        from pettingzoo.utils.conversions import aec_to_parallel

        return aec_to_parallel(env)
    raise EnvLoadError(f"env {ref!r}: {type(env).__name__} is not a PettingZoo env")


def is_pettingzoo(env: Any) -> bool:
    return isinstance(env, (ParallelEnv, AECEnv))


def game_limit(env: ParallelEnv) -> int | None:
    """The game's own episode limit (mpe2 ``max_cycles``, SMAX ``max_steps``), if it says."""
    for obj in (env, getattr(env, "unwrapped", None), getattr(env, "aec_env", None)):
        for name in ("max_cycles", "max_steps", "episode_limit"):
            value = getattr(obj, name, None)
            if isinstance(value, int) and value > 0:
                return value
    return None


def _agent_spaces(env: ParallelEnv, ref: str) -> tuple[list[str], int, spaces.Space]:
    """Agent ids, the largest flat observation size and the (shared) action space."""
    agents = list(env.possible_agents)
    if not agents:
        raise EnvLoadError(f"env {ref!r} has no agents")
    obs_dims = [int(spaces.flatdim(env.observation_space(a))) for a in agents]
    act = env.action_space(agents[0])
    for a in agents[1:]:
        if env.action_space(a) != act:
            raise UnsupportedSpaceError(
                f"env {ref!r}: agents have different action spaces ({agents[0]}: {act}, "
                f"{a}: {env.action_space(a)}); parameter sharing needs one action space"
            )
    if not isinstance(act, (spaces.Discrete, spaces.Box)):
        raise UnsupportedSpaceError(f"env {ref!r}: agent action space {act} is not Discrete or Box")
    return agents, max(obs_dims), act


def win_metric(agent: str, reward: float, info: dict, over: bool) -> float:
    """A ``metric_reward`` for battles: 1 on the last step of a won one (``info['won']``), so a
    mean evaluation return is the win rate."""
    return 1.0 if over and info.get("won") else 0.0


def _flat(space: spaces.Space, obs: Any, dim: int) -> np.ndarray:
    """One agent's observation as a float32 vector of ``dim`` (zero-padded)."""
    out = np.zeros(dim, dtype=np.float32)
    if obs is not None:
        v = np.asarray(spaces.flatten(space, obs), dtype=np.float32).reshape(-1)
        out[: v.size] = v
    return out


def _noop(space: spaces.Space) -> Any:
    if isinstance(space, spaces.Discrete):
        return int(space.start)
    return np.zeros(space.shape, dtype=space.dtype)


def agent_observation(mdp: Any, raw: np.ndarray, obs_dim: int, agent: Any) -> np.ndarray:
    """The generated MDP's ``observation`` of one agent's raw observation, checked for its size."""
    o = np.asarray(mdp.observation(raw), dtype=np.float32).reshape(-1)
    if o.shape != (obs_dim,):
        raise MDPCodeError(f"observation() returned shape {o.shape} for agent {agent!r}, declared ({obs_dim},)")
    return o


def slot_observations(
    own: np.ndarray, masks: np.ndarray | None, remembered: np.ndarray | None = None, state: np.ndarray | None = None
) -> np.ndarray:
    """Every slot's flat observation ``[own | one-hot | state | mask]`` (``AgentLayout``) from the
    agents' observations ``own`` ``[games, agents, obs_dim]`` and masks ``[games, agents, actions]``
    (None for an env without masks): ``[games, agents, flat_dim]``. ``remembered`` (``AgentFrames``,
    ``[games, agents, history × obs_dim]``) takes the own part's place when the MDP keeps a history;
    ``state`` (``[games, env_state_dim]``, each game's own global state) the state part's."""
    games, n, _ = own.shape
    world = own.reshape(games, -1) if state is None else np.asarray(state, dtype=np.float32).reshape(games, -1)
    parts = [
        own if remembered is None else remembered,
        np.broadcast_to(np.eye(n, dtype=np.float32), (games, n, n)),
        np.broadcast_to(world[:, None, :], (games, n, world.shape[1])),
    ]
    if masks is not None:
        parts.append(np.asarray(masks, dtype=np.float32))
    return np.concatenate(parts, axis=2)


class AgentFrames:
    """Every agent's last ``history`` observations in each of ``games`` games, oldest first: a game
    starts with its first observation repeated (Gymnasium's ``FrameStackObservation`` with
    ``padding_type="reset"``, as the single-agent MDP does); an agent out of the game adds zeros."""

    def __init__(self, games: int, agents: int, obs_dim: int, history: int):
        self.history = history
        self.frames = np.zeros((games, agents, history, obs_dim), dtype=np.float32)

    def start(self, games: Any, own: np.ndarray) -> None:
        """Games ``games`` (indices) begin with observations ``own`` ``[len(games), agents, obs_dim]``."""
        self.frames[games] = np.asarray(own, dtype=np.float32)[:, :, None, :]

    def push(self, games: Any, own: np.ndarray) -> None:
        """Games ``games`` stepped to observations ``own``."""
        kept = self.frames[games]
        self.frames[games] = np.concatenate([kept[:, :, 1:], np.asarray(own, dtype=np.float32)[:, :, None]], axis=2)

    def remembered(self, games: Any) -> np.ndarray:
        f = self.frames[games]
        return f.reshape(*f.shape[:2], -1)


@dataclass(frozen=True)
class AgentLayout:
    """How a slot's flat observation splits: ``[own (obs_dim × history) | one-hot (n_agents) | state
    (obs_dim × n_agents) | mask]``.

    ``history``: the agent's observations remembered in its own part (the MDP's ``history``);
    ``mask_dim`` is the number of discrete actions when the env gives action masks (PettingZoo's
    ``info['action_mask']``, 1 = allowed), else 0. ``env_state_dim``: the size of the env's own global
    state (PettingZoo's ``state()``) when the state part holds it instead (the MDP's ``env_state``), else
    0 (every agent's current observation side by side)."""

    obs_dim: int
    n_agents: int
    mask_dim: int = 0
    history: int = 1
    env_state_dim: int = 0

    @property
    def own_dim(self) -> int:
        return self.obs_dim * self.history

    @property
    def state_dim(self) -> int:
        return self.env_state_dim or self.obs_dim * self.n_agents

    @property
    def flat_dim(self) -> int:
        return self.own_dim + self.n_agents + self.state_dim + self.mask_dim


def env_state_dim(env: ParallelEnv) -> int:
    """The size of the env's own global state (PettingZoo's ``state_space``, read by ``state()``), 0
    when the env declares none."""
    space = getattr(env, "state_space", None)
    return int(np.prod(space.shape)) if isinstance(space, spaces.Box) else 0


def slot_layout(env: ParallelEnv, obs_dim: int, history: int = 1, env_state: bool = False) -> AgentLayout:
    """The layout of ``env``'s slots for an MDP of ``obs_dim`` per observation, ``history``
    observations remembered, and the env's own global state as the state part when ``env_state``."""
    state_dim = env_state_dim(env) if env_state else 0
    if env_state and not state_dim:
        raise UnsupportedSpaceError(f"env_state=True, but {type(env.unwrapped).__name__} declares no state_space")
    return AgentLayout(obs_dim, len(env.possible_agents), mask_dim(env), history, state_dim)


def mask_dim(env: ParallelEnv) -> int:
    """Discrete action count when the env declares ``action_masks = True``, else 0."""
    if not getattr(env.unwrapped, "action_masks", False):
        return 0
    space = env.action_space(env.possible_agents[0])
    return int(space.n) if isinstance(space, spaces.Discrete) else 0


class SoloAgentEnv(gym.Env):
    """One agent's view of a multi-agent game as a plain Gymnasium env; the others act at random.

    Profiling, the MDP smoke check and designers see a multi-agent env through this: the
    observation is the agent's own (flattened), the reward its own; ``info`` adds
    ``team_reward`` (mean over agents) and the agent's id and index.
    """

    metadata = {"render_modes": []}

    def __init__(self, parallel: ParallelEnv, ref: str, agent_index: int = 0):
        self.parallel = parallel
        self.agents, self.obs_dim, self.action_space = _agent_spaces(parallel, ref)
        self.agent = self.agents[agent_index]
        self.index = agent_index
        self.observation_space = spaces.Box(-np.inf, np.inf, (self.obs_dim,), np.float32)
        self.limit = game_limit(parallel)
        self._rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            for i, a in enumerate(self.agents):
                self.parallel.action_space(a).seed(seed + i)
        obs, infos = self.parallel.reset(seed=seed, options=options)
        own = obs.get(self.agent)
        return _flat(self.parallel.observation_space(self.agent), own, self.obs_dim), dict(infos.get(self.agent, {}))

    def step(self, action):
        actions = {
            a: (action if a == self.agent else self.parallel.action_space(a).sample()) for a in self.parallel.agents
        }
        obs, rew, term, trunc, infos = self.parallel.step(actions)
        over = not self.parallel.agents or all(term.get(a, True) or trunc.get(a, True) for a in actions)
        info = dict(infos.get(self.agent, {}))
        info.update(
            agent=self.agent,
            agent_index=self.index,
            team_reward=float(np.mean([float(r) for r in rew.values()])) if rew else 0.0,
        )
        terminated = over and bool(term.get(self.agent, True)) and not bool(trunc.get(self.agent, False))
        return (
            _flat(self.parallel.observation_space(self.agent), obs.get(self.agent), self.obs_dim),
            float(rew.get(self.agent, 0.0)),
            terminated,
            over and not terminated,
            info,
        )

    def render(self):
        return self.parallel.render()

    def close(self):
        self.parallel.close()


class MDPParallelEnv(BaseParallelWrapper):
    """A generated MDP applied per agent, as a PettingZoo parallel env.

    ``observation`` maps each agent's raw observation (flattened, zero-padded to the largest
    agent's size) to a vector of ``obs_dim``; ``action`` maps each agent's action; ``reward``
    (when ``shape_reward``) each agent's transition, with ``info`` carrying ``agent``,
    ``agent_index``, ``team_reward`` (mean over agents), ``terminated`` and ``truncated``.
    Every agent's ``info['original_reward']`` is the env's own reward; with
    ``shape_reward=False`` that is the reward passed on, or the env's ``metric_reward`` when the
    env defines one (SMAX: 1 on a won episode's last step, so a mean return is a win rate).
    """

    def __init__(self, env: ParallelEnv, ref: str, mdp: Any, obs_dim: int, shape_reward: bool):
        super().__init__(env)
        self.ref = ref
        self.mdp = mdp
        self.order, self.raw_dim, _ = _agent_spaces(env, ref)
        self.obs_dim = obs_dim
        self.shape_reward = shape_reward
        self.metric = None if shape_reward else getattr(env.unwrapped, "metric_reward", None)
        self._space = spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self._raw: dict[Any, np.ndarray] = {}

    def observation_space(self, agent):  # type: ignore[override]
        return self._space

    def _observe(self, obs: dict) -> tuple[dict, dict]:
        raw = {a: _flat(self.env.observation_space(a), o, self.raw_dim) for a, o in obs.items()}
        return raw, {a: agent_observation(self.mdp, r, self.obs_dim, a) for a, r in raw.items()}

    def reset(self, seed: int | None = None, options: dict | None = None):  # type: ignore[override]
        obs, infos = self.env.reset(seed=seed, options=options)
        self._raw, out = self._observe(obs)
        return out, infos

    def env_actions(self, actions: dict) -> dict:
        """The generated MDP's ``action`` applied to each agent's action."""
        return {a: self.mdp.action(act) for a, act in actions.items()}

    def agent_reward(
        self, agent: Any, obs: Any, action: Any, next_obs: Any, info: dict, term: bool, trunc: bool, over: bool
    ) -> float:
        """The reward one agent's slot gets: the MDP's ``reward`` (training), else the env's
        ``metric_reward`` or its own (``info['original_reward']``)."""
        original = info["original_reward"]
        if self.shape_reward:
            value, _ = reward_terms(
                self.mdp.reward(obs, action, next_obs, original, {**info, "terminated": term, "truncated": trunc})
            )
            if not math.isfinite(value):
                raise NonFiniteRewardError.of(value, original, f" for agent {agent!r}")
            return value
        return float(self.metric(agent, original, info, over)) if self.metric is not None else original

    def left_agent_metric(self, agent: Any, game_info: dict, over: bool) -> float:
        """What the slot of an agent that left the game earlier gets: 0, except at the end of an
        evaluated game the env's ``metric_reward`` from the game-level ``game_info`` (a battle won is
        won for every ally, the dead ones too, so a mean over agents is the win rate)."""
        if self.shape_reward or self.metric is None or not over:
            return 0.0
        return float(self.metric(agent, 0.0, game_info, over))

    def step(self, actions: dict):  # type: ignore[override]
        env_actions = self.env_actions(actions)
        obs, rew, term, trunc, infos = self.env.step(env_actions)
        raw_next, out = self._observe(obs)
        team = float(np.mean([float(r) for r in rew.values()])) if rew else 0.0
        over = all(term.get(a, False) or trunc.get(a, False) for a in rew) or not self.env.agents
        rewards, new_infos = {}, {}
        for a, r in rew.items():
            info = dict(infos.get(a, {}))
            original = float(r)
            info.update(agent=a, agent_index=self.order.index(a), team_reward=team, original_reward=original)
            zero = np.zeros(self.raw_dim, dtype=np.float32)
            step = (self._raw.get(a, zero), env_actions.get(a), raw_next.get(a, zero))
            ends = (bool(term.get(a, False)), bool(trunc.get(a, False)), over)
            rewards[a], new_infos[a] = self.agent_reward(a, *step, info, *ends), info
        if over and self.metric is not None and not self.shape_reward:
            game_info = {k: v for k, v in next(iter(infos.values()), {}).items() if k != "action_mask"}
            for a in set(self.order) - set(rewards):
                rewards[a] = self.left_agent_metric(a, game_info, over)
                new_infos[a] = {**game_info, "agent": a, "agent_index": self.order.index(a)}
        self._raw = {**self._raw, **raw_next}
        return out, rewards, term, trunc, new_infos


class JointGame:
    """One parallel env stepped with every agent's action at once, its results split per agent.

    The env's observations must already be flat vectors of one size (``MDPParallelEnv``).
    """

    def __init__(self, parallel: ParallelEnv, ref: str, obs_dim: int, history: int = 1, env_state: bool = False):
        self.env = parallel
        self.agents, _, self.action_space = _agent_spaces(parallel, ref)
        self.layout = slot_layout(parallel, obs_dim, history, env_state)
        self.frames = AgentFrames(1, len(self.agents), obs_dim, history) if history > 1 else None
        self.limit = game_limit(parallel) or DEFAULT_MAX_CYCLES
        self._seed: int | None = None
        self._pending: dict[int, Any] = {}
        self._reset_requested = False
        self._results: list[Any] = []
        self._t = 0
        self.closed = False

    # -- the protocol the slot workers use --------------------------------------------------
    def seed(self, seed: int | None) -> None:
        self._seed = seed

    def submit(self, index: int, action: Any, reset_kwargs: dict | None = None) -> None:
        if action is None:
            self._reset_requested = True
            if reset_kwargs and reset_kwargs.get("seed") is not None:
                self._seed = reset_kwargs["seed"]
        else:
            self._pending[index] = action

    def result(self, index: int) -> Any:
        if self._reset_requested:
            self._reset_requested, self._pending = False, {}
            self._results = self._reset()
        elif self._pending:
            actions, self._pending = self._pending, {}
            self._results = self._step(actions)
        return self._results[index]

    # -- the game -----------------------------------------------------------------------------
    def _slot_obs(self, obs: dict, infos: dict, start: bool = False) -> np.ndarray:
        zero = np.zeros(self.layout.obs_dim, dtype=np.float32)
        own = np.stack([np.asarray(obs.get(a, zero), dtype=np.float32) for a in self.agents])[None]
        remembered = None
        if self.frames is not None:
            (self.frames.start if start else self.frames.push)([0], own)
            remembered = self.frames.remembered([0])
        masks = None
        if self.layout.mask_dim:
            allow_all = np.ones(
                self.layout.mask_dim, dtype=np.float32
            )  # an agent out of the game: its action is ignored
            masks = np.stack([np.asarray(infos.get(a, {}).get("action_mask", allow_all)) for a in self.agents])[None]
        state = np.asarray(self.env.state())[None] if self.layout.env_state_dim else None
        return slot_observations(own, masks, remembered, state)[0]

    def _reset(self) -> list[tuple[np.ndarray, dict]]:
        seed, self._seed = self._seed, None
        obs, infos = self.env.reset(seed=seed)
        self._t = 0
        slot_obs = self._slot_obs(obs, infos, start=True)
        return [(slot_obs[k], dict(infos.get(a, {}))) for k, a in enumerate(self.agents)]

    def joint_actions(self, slot_actions: dict[int, Any]) -> dict[Any, Any]:
        """Each live agent's action from its slot's (a slot that did not act: a no-op)."""
        live = set(self.env.agents)
        actions: dict[Any, Any] = {}
        for k, a in enumerate(self.agents):
            if a in live:
                act = slot_actions.get(k, _noop(self.action_space))
                if isinstance(self.action_space, spaces.Discrete):
                    act = int(np.asarray(act).reshape(-1)[0])
                actions[a] = act
        return actions

    def _step(self, slot_actions: dict[int, Any]):
        live = list(self.env.agents)
        obs, rew, term, trunc, infos = self.env.step(self.joint_actions(slot_actions))
        self._t += 1
        over = (
            not self.env.agents or all(term.get(a, False) or trunc.get(a, False) for a in live) or self._t >= self.limit
        )
        slot_obs = self._slot_obs(obs, infos)
        # every slot's info has the same keys (Tianshou stacks them; a missing key becomes NaN)
        keys = {"original_reward", "agent_index"}.union(*(infos.get(a, {}).keys() for a in self.agents))
        out = []
        for k, a in enumerate(self.agents):
            # the mask travels in the observation; the agent id as agent_index (strings would not
            # stack with a left agent's 0)
            info = {key: 0 for key in keys - SLOT_INFO_DROPPED}
            info.update({key: v for key, v in infos.get(a, {}).items() if key not in SLOT_INFO_DROPPED}, agent_index=k)
            terminated = over and bool(term.get(a, a not in live)) and not bool(trunc.get(a, False))
            out.append((slot_obs[k], float(rew.get(a, 0.0)), terminated, over and not terminated, info))
        return out

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.env.close()


class AgentSlot(gym.Env):
    """Slot ``index`` of a ``JointGame`` (a Gymnasium env so Tianshou's vector env accepts it)."""

    def __init__(self, game: JointGame, index: int):
        self.game = game
        self.index = index
        self.action_space = copy.deepcopy(game.action_space)  # seeded per slot
        self.observation_space = spaces.Box(-np.inf, np.inf, (game.layout.flat_dim,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.game.submit(self.index, None, {"seed": seed})
        return self.game.result(self.index)

    def step(self, action):
        self.game.submit(self.index, action)
        return self.game.result(self.index)

    def close(self):
        self.game.close()


def _worker_class():
    from tianshou.env.worker import EnvWorker

    class AgentSlotWorker(EnvWorker):
        """A Tianshou env worker whose ``send`` only records; the game steps on the first ``recv``."""

        def __init__(self, env_fn: Callable[[], AgentSlot]):
            self.slot = env_fn()
            super().__init__(env_fn)

        def get_env_attr(self, key: str) -> Any:
            return getattr(self.slot, key)

        def set_env_attr(self, key: str, value: Any) -> None:
            setattr(self.slot, key, value)

        def reset(self, **kwargs: Any):
            self.send(None, **kwargs)
            return self.recv()

        @staticmethod
        def wait(workers, wait_num, timeout=None):  # type: ignore[override]
            return workers

        def send(self, action: Any, **kwargs: Any) -> None:
            self.slot.game.submit(self.slot.index, action, kwargs)

        def recv(self) -> Any:
            return self.slot.game.result(self.slot.index)

        def seed(self, seed: int | None = None) -> list[int] | None:
            super().seed(seed)
            if self.slot.index == 0:
                self.slot.game.seed(seed)
            return [seed] if seed is not None else None

        def render(self, **kwargs: Any) -> Any:
            return self.slot.game.render() if self.slot.index == 0 else None

        def close_env(self) -> None:
            self.slot.game.close()

    return AgentSlotWorker


ACTION_SEED_STRIDE = 1_000_003
"""Slot ``k`` > 0 of game ``i`` seeds its action space with ``seed + i + k · this``: apart from every
game seed a run uses (those stay below ``tools.run_rules.PLAY_SEED_OFFSET`` + games)."""


def slot_seeds(seed: int, n_games: int, n_agents: int) -> list[int]:
    """Each slot's seed, games × agents. Game ``i`` is seeded ``seed + i`` by its first slot, as the
    ``i``-th of ``n`` single-agent envs is, so the run's seed offsets keep training, test and evaluation
    games apart (games 1000 apart, as before, made test game 50 + j replay evaluation game j). Every
    slot's action space is seeded too, so random actions (an off-policy warm-up) repeat with the seed."""
    return [seed + i + ACTION_SEED_STRIDE * k for i in range(n_games) for k in range(n_agents)]


def make_slot_vector_env(
    make_parallel: Callable[[], ParallelEnv],
    ref: str,
    mdp: Any,
    obs_dim: int,
    n_games: int,
    seed: int,
    shape_reward: bool,
    history: int = 1,
    env_state: bool = False,
):
    """``n_games`` games with the MDP applied, each agent a slot: a Tianshou ``BaseVectorEnv`` of
    ``n_games × agents`` slots; each slot remembers its agent's last ``history`` observations, and
    its state part is the env's own global state when ``env_state`` (``AgentLayout``)."""
    from tianshou.env import BaseVectorEnv

    first = make_parallel()
    if n_games > 1 and hasattr(first.unwrapped, "stacked_games"):  # many games in one call (SMAX)
        from envs.stacked_games import StackedGames

        return StackedGames(first, ref, mdp, obs_dim, n_games, seed, shape_reward, history, env_state)
    games = [
        JointGame(MDPParallelEnv(env, ref, mdp, obs_dim, shape_reward), ref, obs_dim, history, env_state)
        for env in [first, *(make_parallel() for _ in range(n_games - 1))]
    ]
    fns = [(lambda g=g, k=k: AgentSlot(g, k)) for g in games for k in range(len(g.agents))]
    venv = BaseVectorEnv(fns, _worker_class())
    n_agents = len(games[0].agents)
    venv.seed(slot_seeds(seed, n_games, n_agents))
    venv.layout = games[0].layout  # type: ignore[attr-defined]
    return venv
