"""SMAX (JAX re-implementation of SMAC, from ``jaxmarl``) as a PettingZoo parallel env.

Install with ``pip install -e .[smax]``. The allies are the learning agents; the enemies follow
SMAX's built-in heuristic. One jitted function does a whole step (key split, step, stacking
the per-agent arrays) so a step costs one device call and one transfer back.

The metric is the win rate: ``metric_reward`` is 1 on the last step of a won battle (every
enemy dead, at least one ally alive) and 0 otherwise, so a mean evaluation return is the win
rate. Training uses SMAX's own dense reward (damage dealt, plus a bonus for winning).
"""

from __future__ import annotations

import contextlib
import functools
import io

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.caches import cache_dir
from envs.errors import EnvLoadError
from envs.multiagent import win_metric

SMAX_MAPS = ("3m", "8m", "2s3z", "3s5z", "25m", "5m_vs_6m", "10m_vs_11m", "3s_vs_5z", "6h_vs_8z")


def _jax():
    try:
        import jax
        import jax.numpy as jnp

        with contextlib.redirect_stdout(io.StringIO()):  # jaxmarl prints about its git submodules
            from jaxmarl import make
            from jaxmarl.environments.smax import map_name_to_scenario
    except ImportError as e:
        raise EnvLoadError(f"SMAX needs the optional extra: pip install -e '.[smax]' ({e})") from e
    return jax, jnp, make, map_name_to_scenario


@functools.lru_cache(maxsize=16)
def _compiled(map_name: str, max_steps: int):
    """The SMAX env and its jitted functions over a batch of games, built once per process and map
    (every batch shares them, so each compiles once per batch size; the compilation cache keeps them
    across runs). ``reset(key) -> (key, state, obs, masks)`` is one game's; ``step`` and ``put`` work
    on every game of a batch at once (``jax.vmap``): ``step`` advances the games its ``live`` mask
    selects and leaves the others as they are, ``put`` writes one game's key and state."""
    jax, jnp, make, map_name_to_scenario = _jax()
    cache = cache_dir() / "jax"
    cache.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache))
    try:
        scenario = map_name_to_scenario(map_name)
    except KeyError:
        raise EnvLoadError(f"unknown SMAX map {map_name!r}; maps: {', '.join(SMAX_MAPS)}") from None
    env = make("HeuristicEnemySMAX", scenario=scenario, max_steps=max_steps)
    agents, allies = list(env.agents), int(env.num_allies)

    def masks(state):
        avail = env.get_avail_actions(state)
        return jnp.stack([avail[a] for a in agents])

    def reset(key):
        key, sub = jax.random.split(key)
        obs, state = env.reset(sub)
        return key, state, jnp.stack([obs[a] for a in agents]), masks(state)

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
            jnp.stack([dones[a] for a in agents]),
            dones["__all__"],
            won,
            state.state.step,
            masks(state),
        )

    def step(keys, states, actions, live):
        out = jax.vmap(step_one)(keys, states, actions)

        def keep(new, old):  # games not stepped this round keep their key and state
            return jnp.where(live.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)

        return (keep(out[0], keys), jax.tree_util.tree_map(keep, out[1], states), *out[2:])

    def put(keys, states, i, key, state):
        return keys.at[i].set(key), jax.tree_util.tree_map(lambda s, x: s.at[i].set(x), states, state)

    return env, jax.jit(reset), jax.jit(step), jax.jit(put)


class SMAXBatch:
    """The games of one vector env, stepped together: one jitted, vmapped call and one transfer back
    per round instead of one per game (``envs.multiagent.GameBatch`` collects the round's actions).

    Each game keeps its own random key, split exactly as a game on its own splits it, so a game's
    rewards, masks and wins are the same whether it runs alone or in a batch."""

    def __init__(self, map_name: str, max_steps: int, size: int):
        jax, jnp, _, _ = _jax()
        self.env, self._reset, self._step, self._put = _compiled(map_name, max_steps)
        self.size, self.n_agents = size, len(self.env.agents)
        key = jax.random.PRNGKey(0)  # a game never seeded starts from key 0, alone or in a batch
        # a template state for every slot of the batch; each game's own reset replaces it
        _, state, _, _ = self._reset(key)
        self.keys = jnp.stack([key] * size)
        self.states = jax.tree_util.tree_map(lambda x: jnp.stack([x] * size), state)
        self.results: dict[int, tuple] = {}
        self._jax, self._jnp = jax, jnp

    def reset(self, index: int, key) -> tuple:
        key, state, obs, masks = self._reset(key)
        self.keys, self.states = self._put(self.keys, self.states, index, key, state)
        self.results.pop(index, None)
        return obs, masks

    def step(self, actions: dict[int, np.ndarray]) -> None:
        """Step the games in ``actions`` (index → each agent's action) at once; ``take`` hands each
        game its results."""
        acts = np.zeros((self.size, self.n_agents), dtype=np.int32)
        live = np.zeros(self.size, dtype=bool)
        for i, a in actions.items():
            acts[i], live[i] = a, True
        self.keys, self.states, *outs = self._step(
            self.keys, self.states, self._jnp.asarray(acts), self._jnp.asarray(live)
        )
        outs = self._jax.device_get(outs)  # one transfer for every game
        for i in actions:
            self.results[i] = (acts[i].copy(), tuple(o[i] for o in outs))

    def take(self, index: int, actions: np.ndarray) -> tuple:
        """Game ``index``'s results for ``actions``: those of this round's batched step, or (a game
        stepped on its own, e.g. outside a vector env) a step of that game alone."""
        ready = self.results.pop(index, None)
        if ready is None or not np.array_equal(ready[0], actions):
            self.step({index: actions})
            ready = self.results.pop(index)
        return ready[1]

    def ready(self, index: int) -> bool:
        return index in self.results


class SMAXParallelEnv(ParallelEnv):
    metadata = {"name": "smax", "render_modes": []}
    action_masks = True
    """``info['action_mask']``: SMAX's available actions (attack only enemies in range)."""

    def __init__(self, map_name: str = "3m", max_steps: int = 100):
        jax, _, _, _ = _jax()
        self.map_name = map_name
        self.max_steps = max_steps
        self._batch, self._index = SMAXBatch(map_name, max_steps, 1), 0
        env = self._batch.env
        self.possible_agents = list(env.agents)
        self.agents: list[str] = []
        self.num_allies = int(env.num_allies)
        n_act = int(env.action_space(self.possible_agents[0]).n)
        obs_dim = int(env.observation_space(self.possible_agents[0]).shape[0])
        self._act_space = spaces.Discrete(n_act)
        self._obs_space = spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self._jax = jax

    @staticmethod
    def batch_games(envs: list[SMAXParallelEnv]) -> SMAXBatch:
        """Put ``envs`` (same map, not yet reset) in one batch that steps them together."""
        first = envs[0]
        shared = SMAXBatch(first.map_name, first.max_steps, len(envs))
        for i, env in enumerate(envs):
            if (env.map_name, env.max_steps) != (first.map_name, first.max_steps):
                raise ValueError(f"one SMAX batch needs one map: {env.map_name!r} beside {first.map_name!r}")
            env._batch, env._index = shared, i
        return shared

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        # without a seed the game goes on with its own key, as it stands after its last step
        key = self._jax.random.PRNGKey(seed) if seed is not None else self._batch.keys[self._index]
        obs, masks = self._batch.reset(self._index, key)
        obs, masks = np.asarray(obs, dtype=np.float32), np.asarray(masks, dtype=np.int8)
        self.agents = list(self.possible_agents)
        return (
            {a: obs[i] for i, a in enumerate(self.possible_agents)},
            {a: {"action_mask": masks[i]} for i, a in enumerate(self.agents)},
        )

    def joint_actions(self, actions: dict) -> np.ndarray:
        return np.asarray([int(actions.get(a, 0)) for a in self.possible_agents], dtype=np.int32)

    def step(self, actions: dict):
        obs, rew, done, over, won, t, masks = self._batch.take(self._index, self.joint_actions(actions))
        obs, rew, done = np.asarray(obs, dtype=np.float32), np.asarray(rew), np.asarray(done)
        masks = np.asarray(masks, dtype=np.int8)
        over, won, timeout = bool(over), bool(won), int(t) >= self.max_steps
        live = self.agents
        idx = {a: i for i, a in enumerate(self.possible_agents)}
        out_obs = {a: obs[idx[a]] for a in live}
        rewards = {a: float(rew[idx[a]]) for a in live}
        term = {a: (bool(done[idx[a]]) or over) and not (over and timeout and not won) for a in live}
        trunc = {a: over and timeout and not won for a in live}
        infos = {a: {"won": won, "battle_over": over, "action_mask": masks[idx[a]]} for a in live}
        self.agents = [] if over else [a for a in live if not done[idx[a]]]
        return out_obs, rewards, term, trunc, infos

    metric_reward = staticmethod(win_metric)

    def close(self) -> None:
        pass


def make_smax(map_name: str = "3m") -> SMAXParallelEnv:
    return SMAXParallelEnv(map_name)
