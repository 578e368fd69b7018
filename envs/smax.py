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
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.errors import EnvLoadError
from tools.run_files import cache_dir
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
    """The SMAX env and its jitted reset/step, built once per process and map (every game of a
    vector env shares them, so each compiles once; the compilation cache keeps it across runs)."""
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

    def step(key, state, actions):
        key, sub = jax.random.split(key)
        # step_env: the plain step, without jaxmarl's auto-reset (which would hide the final state)
        obs, state, rew, dones, _ = env.step_env(sub, state, {a: actions[i] for i, a in enumerate(agents)})
        alive = state.state.unit_alive
        won = jnp.all(~alive[allies:]) & jnp.any(alive[:allies])
        return (key, state, jnp.stack([obs[a] for a in agents]), jnp.stack([rew[a] for a in agents]),
                jnp.stack([dones[a] for a in agents]), dones["__all__"], won, state.state.step, masks(state))

    return env, jax.jit(reset), jax.jit(step)


class SMAXParallelEnv(ParallelEnv):
    metadata = {"name": "smax", "render_modes": []}
    action_masks = True
    """``info['action_mask']``: SMAX's available actions (attack only enemies in range)."""

    def __init__(self, map_name: str = "3m", max_steps: int = 100):
        jax, jnp, _, _ = _jax()
        self.map_name = map_name
        self._env, self._reset, self._step = _compiled(map_name, max_steps)
        self.possible_agents = list(self._env.agents)
        self.agents: list[str] = []
        self.max_steps = max_steps
        self.num_allies = int(self._env.num_allies)
        n_act = int(self._env.action_space(self.possible_agents[0]).n)
        obs_dim = int(self._env.observation_space(self.possible_agents[0]).shape[0])
        self._act_space = spaces.Discrete(n_act)
        self._obs_space = spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self._key = jax.random.PRNGKey(0)
        self._state: Any = None
        self._jnp = jnp

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            import jax

            self._key = jax.random.PRNGKey(seed)
        self._key, self._state, obs, masks = self._reset(self._key)
        obs, masks = np.asarray(obs, dtype=np.float32), np.asarray(masks, dtype=np.int8)
        self.agents = list(self.possible_agents)
        return ({a: obs[i] for i, a in enumerate(self.possible_agents)},
                {a: {"action_mask": masks[i]} for i, a in enumerate(self.agents)})

    def step(self, actions: dict):
        acts = self._jnp.asarray([int(actions.get(a, 0)) for a in self.possible_agents], dtype=self._jnp.int32)
        self._key, self._state, obs, rew, done, over, won, t, masks = self._step(self._key, self._state, acts)
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
        self._state = None


def make_smax(map_name: str = "3m") -> SMAXParallelEnv:
    return SMAXParallelEnv(map_name)
