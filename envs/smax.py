"""SMAX (JAX re-implementation of SMAC, from ``jaxmarl``) as a PettingZoo parallel env.

Install with ``pip install -e .[smax]``. The allies are the learning agents; the enemies follow
SMAX's built-in heuristic. One jitted function does a whole step (key split, step, stacking
the per-agent arrays) so a step costs one device call and one transfer back.

The metric is the win rate: ``metric_reward`` is 1 on the last step of a won battle (every
enemy dead, at least one ally alive) and 0 otherwise, so a mean evaluation return is the win
rate. Training uses SMAX's own dense reward (damage dealt, plus a bonus for winning).

Every ally stays in the game until the battle ends, dead or not, as SMAX itself keeps them: a dead
unit's only available action is "stop" and it is still paid its team's reward ("to allow for noble
sacrifice", SMAX's own words; JaxMARL's MAPPO trains it so). An ally's episode is the battle. Ending a
unit's episode at its death (as this adapter did until session 7) cut its return there: the team's
later damage and win bonus never reached a unit that died for them, which taught allies to hang back.

The global state (PettingZoo's ``state()``, for a centralised critic that reads it: the MDP's
``env_state``) is SMAX's world state, every unit's features and team, positions in map widths.
"""

from __future__ import annotations

import functools
import importlib.util
import sys

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.caches import cache_dir
from envs.errors import EnvLoadError
from envs.multiagent import win_metric
from envs.stacked_games import StackedStep

SMAX_MAPS = ("3m", "8m", "2s3z", "3s5z", "25m", "5m_vs_6m", "10m_vs_11m", "3s_vs_5z", "6h_vs_8z")


def _bare_package(name: str) -> None:
    """Register package ``name`` without running its ``__init__`` yet: its submodules import on their
    own, and the ``__init__`` runs the first time a name it defines is asked for (``from jaxmarl import
    make`` still works)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"No module named {name!r}", name=name)
    module = importlib.util.module_from_spec(spec)

    def run_init(attr: str):
        del module.__getattr__
        spec.loader.exec_module(module)
        return getattr(module, attr)

    module.__getattr__ = run_init
    sys.modules[name] = module


def _jax():
    """jax, jax.numpy, SMAX's heuristic-enemy env class and its map table. jaxmarl's package
    ``__init__`` imports every env it ships (STORM, Overcooked, JaxNav, ...: 10-15 s a process here);
    SMAX needs three of its modules, so the two packages above them are registered bare."""
    try:
        import jax
        import jax.numpy as jnp

        if "jaxmarl" not in sys.modules:
            _bare_package("jaxmarl")
            _bare_package("jaxmarl.environments")
        from jaxmarl.environments.smax.heuristic_enemy_smax_env import HeuristicEnemySMAX
        from jaxmarl.environments.smax.smax_env import map_name_to_scenario
    except ImportError as e:
        raise EnvLoadError(f"SMAX needs the optional extra: pip install -e '.[smax]' ({e})") from e
    return jax, jnp, HeuristicEnemySMAX, map_name_to_scenario


@functools.lru_cache(maxsize=16)
def _compiled(map_name: str, max_steps: int):
    """The SMAX env and its jitted functions over a batch of games, built once per process and map
    (every batch shares them, so each compiles once per batch size; the compilation cache keeps them
    across runs). Both work on every game of a batch at once (``jax.vmap``) and change only the
    games their ``sel`` mask selects: ``reset(keys, states, new_keys, sel)`` starts those games from
    their new keys, ``step(keys, states, actions, sel)`` advances them one step."""
    jax, jnp, smax_class, map_name_to_scenario = _jax()
    cache = cache_dir() / "jax"
    cache.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache))
    try:
        scenario = map_name_to_scenario(map_name)
    except KeyError:
        raise EnvLoadError(f"unknown SMAX map {map_name!r}; maps: {', '.join(SMAX_MAPS)}") from None
    env = smax_class(scenario=scenario, max_steps=max_steps)
    agents, allies = list(env.agents), int(env.num_allies)

    def masks(state):
        avail = env.get_avail_actions(state)
        return jnp.stack([avail[a] for a in agents])

    smax, units = env._env, allies + int(env.num_enemies)  # SMAX itself, under the heuristic enemy

    def world(state):
        """SMAX's world state (``get_world_state``: every unit's features, then every unit's team and
        type), each unit's features as a unit sees its own (health share, position in map widths,
        weapon cooldown as a share of its full one, type bits): values of unit order, where
        ``get_world_state``'s raw cooldown runs down below -20 in a battle."""
        s = state.state
        feats = jax.vmap(lambda i: smax._get_own_features(s, i))(jnp.arange(units))
        return jnp.concatenate([feats.reshape(-1), s.unit_teams.astype(jnp.float32), s.unit_types.astype(jnp.float32)])

    def reset_one(key):
        key, sub = jax.random.split(key)
        obs, state = env.reset(sub)
        return key, state, jnp.stack([obs[a] for a in agents]), masks(state), world(state)

    def step_one(key, state, actions):
        key, sub = jax.random.split(key)
        # step_env: the plain step, without jaxmarl's auto-reset (which would hide the final state)
        obs, state, rew, dones, _ = env.step_env(sub, state, {a: actions[i] for i, a in enumerate(agents)})
        alive = state.state.unit_alive
        won = jnp.all(~alive[allies:]) & jnp.any(alive[:allies])
        return (
            key,
            state,
            jnp.stack([obs[a] for a in agents]),
            jnp.stack([rew[a] for a in agents]),
            dones["__all__"],
            won,
            state.state.step,
            masks(state),
            world(state),
        )

    def selected(keys, states, out, sel):
        """``out`` (key, state, results...) for the selected games; the others keep key and state."""

        def keep(new, old):
            return jnp.where(sel.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)

        return (keep(out[0], keys), jax.tree_util.tree_map(keep, out[1], states), *out[2:])

    def packed(out):
        """key, state and every result as one float32 array ``[games, ...]`` (one transfer back:
        each array brought back costs ~50 µs here, more than the arithmetic of a round)."""
        rows = [jnp.reshape(x, (x.shape[0], -1)).astype(jnp.float32) for x in out[2:]]
        return out[0], out[1], jnp.concatenate(rows, axis=1)

    def reset(keys, states, seed_keys, own, sel):
        new_keys = jnp.where(own[:, None], keys, seed_keys)  # own: go on from the game's key
        return packed(selected(keys, states, jax.vmap(reset_one)(new_keys), sel))

    def step(keys, states, actions, sel):
        return packed(selected(keys, states, jax.vmap(step_one)(keys, states, actions), sel))

    def step_all(keys, states, actions):  # every game stepped (a training round): nothing to select
        return packed(jax.vmap(step_one)(keys, states, actions))

    return env, jax.jit(jax.vmap(reset_one)), jax.jit(reset), jax.jit(step), jax.jit(step_all)


class SMAXBatch:
    """``size`` games of one map stepped together: one jitted, vmapped call and one transfer back
    per round for every game (``envs/stacked_games.py`` turns a batch into agent slots).

    Each game keeps its own random key, split exactly as a game on its own splits it, so a game's
    rewards, masks and wins are the same whether it runs alone or in a batch."""

    def __init__(self, map_name: str, max_steps: int, size: int):
        jax, jnp, _, _ = _jax()
        self.env, start, self._reset, self._step, self._step_all = _compiled(map_name, max_steps)
        self.size, self.n_agents, self.max_steps = size, len(self.env.agents), max_steps
        first = self.env.agents[0]
        self.obs_dim = int(self.env.observation_space(first).shape[0])
        self.n_actions = int(self.env.action_space(first).n)
        key = jax.random.PRNGKey(0)  # a game never seeded starts from key 0, alone or in a batch
        self.keys = jnp.stack([key] * size)
        # a template state for every game; each game's own reset replaces it
        _, self.states, _, _, _ = start(self.keys)
        self.alive = np.zeros((size, self.n_agents), dtype=bool)
        self.state_dim = int(self.env.state_size)  # get_world_state's size, as ``world`` keeps it
        self.world = np.zeros((size, self.state_dim), dtype=np.float32)
        """Every game's world state (``_compiled``'s ``world``) as it stands: the batch protocol's."""
        self._jax, self._jnp = jax, jnp

    def reset(self, games: dict[int, int | None]) -> tuple[np.ndarray, np.ndarray]:
        """Start each game in ``games`` (index → seed; None: from the game's own key as it stands);
        their observations ``[n, agents, dim]`` and action masks ``[n, agents, actions]`` in the order
        of ``games``. One jitted call whatever the games, their keys built in numpy."""
        rows = list(games)
        sel, own = np.zeros(self.size, dtype=bool), np.zeros(self.size, dtype=bool)
        sel[rows] = True
        seed_keys = np.zeros((self.size, 2), dtype=np.uint32)
        for i, seed in games.items():
            if seed is None:
                own[i] = True
            else:
                seed_keys[i] = np.asarray(self._jax.random.PRNGKey(seed))
        self.keys, self.states, out = self._reset(self.keys, self.states, seed_keys, own, sel)
        out = np.asarray(out)[rows]
        obs, masks = self._split(out, (self.obs_dim,), (self.n_actions,))
        self.world[rows] = out[:, -self.state_dim :]
        self.alive[rows] = True
        return obs, masks.astype(np.int8)

    def _split(self, packed: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
        """The per-agent arrays ``[games, agents, *shape]`` packed side by side in ``packed``."""
        out, at = [], 0
        for shape in shapes:
            width = self.n_agents * int(np.prod(shape))
            out.append(packed[:, at : at + width].reshape(len(packed), self.n_agents, *shape))
            at += width
        return out

    def step(self, actions: np.ndarray, stepped: np.ndarray) -> StackedStep:
        """Step the games ``stepped`` selects with ``actions`` ``[size, agents]`` (a dead unit's
        action is ignored); every game's results (the rows of games not stepped mean nothing).

        Every agent's episode ends with the battle (a dead unit stays in it, see the module's
        docstring); a battle cut by the step limit without a win is truncated for every agent."""
        actions = np.asarray(actions, dtype=np.int32)
        if stepped.all():
            self.keys, self.states, out = self._step_all(self.keys, self.states, actions)
        else:
            self.keys, self.states, out = self._step(self.keys, self.states, actions, stepped)
        out = np.asarray(out)  # one transfer for every game
        obs, rew = self._split(out, (self.obs_dim,), ())
        base = self.n_agents * (self.obs_dim + 1)
        over, won, t = out[:, base] > 0, out[:, base + 1] > 0, out[:, base + 2]
        (masks,) = self._split(out[:, base + 3 : -self.state_dim], (self.n_actions,))
        self.world[stepped] = out[stepped, -self.state_dim :]
        cut = (over & (t >= self.max_steps) & ~won)[:, None]
        live = self.alive.copy()
        self.alive[stepped] = (live & ~over[:, None])[stepped]
        ends = np.broadcast_to(over[:, None], live.shape)
        return StackedStep(
            obs=np.asarray(obs, dtype=np.float32),
            rew=np.asarray(rew, dtype=np.float64),
            term=ends & ~cut,
            trunc=np.broadcast_to(cut, live.shape),
            live=live,
            alive=self.alive.copy(),
            masks=np.asarray(masks, dtype=np.int8),
            infos={"won": won, "battle_over": over},
        )


class SMAXParallelEnv(ParallelEnv):
    metadata = {"name": "smax", "render_modes": []}
    action_masks = True
    """``info['action_mask']``: SMAX's available actions (attack only enemies in range)."""

    def __init__(self, map_name: str = "3m", max_steps: int = 100):
        self.map_name = map_name
        self.max_steps = max_steps
        self._batch = SMAXBatch(map_name, max_steps, 1)
        env = self._batch.env
        self.possible_agents = list(env.agents)
        self.agents: list[str] = []
        self.num_allies = int(env.num_allies)
        n_act = int(env.action_space(self.possible_agents[0]).n)
        obs_dim = int(env.observation_space(self.possible_agents[0]).shape[0])
        self._act_space = spaces.Discrete(n_act)
        self._obs_space = spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.state_space = spaces.Box(-np.inf, np.inf, (self._batch.state_dim,), np.float32)
        """PettingZoo's global state: SMAX's world state (``_compiled``'s ``world``)."""

    def stacked_games(self, n: int) -> SMAXBatch:
        """``n`` games of this map in one batch that steps them together (``envs/stacked_games.py``)."""
        return SMAXBatch(self.map_name, self.max_steps, n)

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        # without a seed the game goes on with its own key, as it stands after its last step
        obs, masks = self._batch.reset({0: seed})
        self.agents = list(self.possible_agents)
        return (
            {a: obs[0, i] for i, a in enumerate(self.possible_agents)},
            {a: {"action_mask": masks[0, i]} for i, a in enumerate(self.agents)},
        )

    def step(self, actions: dict):
        acts = np.asarray([[int(actions.get(a, 0)) for a in self.possible_agents]], dtype=np.int32)
        out = self._batch.step(acts, np.ones(1, dtype=bool))
        live = [(i, a) for i, a in enumerate(self.possible_agents) if out.live[0, i]]
        infos = {k: bool(v[0]) for k, v in out.infos.items()}
        self.agents = [a for i, a in enumerate(self.possible_agents) if out.alive[0, i]]
        return (
            {a: out.obs[0, i] for i, a in live},
            {a: float(out.rew[0, i]) for i, a in live},
            {a: bool(out.term[0, i]) for i, a in live},
            {a: bool(out.trunc[0, i]) for i, a in live},
            {a: {**infos, "action_mask": out.masks[0, i]} for i, a in live},
        )

    def state(self) -> np.ndarray:
        return self._batch.world[0].copy()

    metric_reward = staticmethod(win_metric)

    def close(self) -> None:
        pass


def make_smax(map_name: str = "3m") -> SMAXParallelEnv:
    return SMAXParallelEnv(map_name)
