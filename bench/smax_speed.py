"""SMAX collection speed: joint steps (one step of one game) per second through Tianshou's collector.

    python bench/smax_speed.py [--env smax_3m] [--games 8 32 64] [--steps 20000]

For each number of games: the vector env as the training worker builds it (identity MDP, one slot per
agent), with the games stepped in one jitted, vmapped call (``StackedGames``, "batched") and one call
per game ("alone"), collecting with the expert's MAPPO policy (one torch thread) into the worker's
on-policy buffer; and the collector's own floor: the same collection from a vector env whose reset
and step cost nothing (they hand back the first observations). Issue 16's goal: ≥ 20k joint steps/s
on smax_3m with ≥ 32 games. Writes bench/results/smax-speed-<commit>.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tianshou.data import Collector, CollectStats

from bench.common import provenance, save_raw
from bench.fixed_run import expert_config
from envs.smax import SMAXParallelEnv
from envs.stacked_games import StackedGames, info_array
from nodes.design_mdp import ORIGINAL_MDP_CODE
from tools.algorithms import build_algorithm
from tools.buffers import CheckedVectorReplayBuffer
from tools.profiling import profile_env
from tools.schemas import MDPDesign
from tools.vector_envs import make_vector_env


class CostsNothing(StackedGames):
    """A stacked-games vector env whose reset and step only hand back its first observations (every
    episode 50 steps long): what is left of a collection is Tianshou's collector, policy and buffer."""

    def __init__(self, base: StackedGames):
        self.__dict__.update(base.__dict__)
        self.first, _ = base.reset()
        self.t = 0

    def reset(self, env_id=None, **kwargs):  # type: ignore[no-untyped-def]
        ids = np.asarray(self._wrap_id(env_id))
        return self.first[ids], info_array([{}] * len(ids))

    def step(self, action, id=None):  # type: ignore[no-untyped-def]
        ids = np.asarray(self._wrap_id(id))
        self.t += 1
        ends = np.full(len(ids), self.t % 50 == 0)
        return self.first[ids], np.zeros(len(ids)), ends, np.zeros(len(ids), dtype=bool), info_array([{}] * len(ids))


def joint_steps_per_second(env: str, games: int, steps: int, batched: bool, floor: bool = False) -> dict:
    p = profile_env(env, episodes=1)
    mdp = MDPDesign(code=ORIGINAL_MDP_CODE, obs_dim=p.obs_dim, summary="original MDP")
    hidden = SMAXParallelEnv.__dict__.get("stacked_games")
    if not batched:
        delattr(SMAXParallelEnv, "stacked_games")
    try:
        venv = make_vector_env(env, mdp, games, seed=0, shape_reward=True)
    finally:
        if not batched:
            SMAXParallelEnv.stacked_games = hidden
    if floor:
        venv = CostsNothing(venv)
    layout = venv.layout
    cfg = expert_config(env, "MAPPO", 1_000_000, [])
    algorithm = build_algorithm(cfg, mdp.input_dim, venv.get_env_attr("action_space", 0)[0], layout)
    # the worker's on-policy buffer: one collection of every slot
    buffer = CheckedVectorReplayBuffer(max(cfg.collect_steps * layout.n_agents, len(venv)), len(venv))
    collector = Collector[CollectStats](algorithm, venv, buffer)
    collector.reset()
    collector.collect(n_step=len(venv) * 20)  # warm-up: compilation, first episodes
    t0 = time.perf_counter()
    stats = collector.collect(n_step=steps * layout.n_agents)
    seconds = time.perf_counter() - t0
    venv.close()
    joint = stats.n_collected_steps / layout.n_agents
    return {
        "games": games,
        "batched": batched,
        "env": "costs nothing (collector floor)" if floor else env,
        "joint_steps": joint,
        "seconds": seconds,
        "joint_steps_per_second": joint / seconds,
        "episodes": stats.n_collected_episodes,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", default="smax_3m")
    ap.add_argument("--games", nargs="*", type=int, default=[8, 32, 64])
    ap.add_argument("--steps", type=int, default=20_000, help="joint steps timed per setting")
    args = ap.parse_args()
    torch.set_num_threads(1)
    prov, rows = provenance(), []
    for games in args.games:
        for what, batched, floor in (
            ("batched", True, False),
            ("one call per game", False, False),
            ("floor", True, True),
        ):
            r = joint_steps_per_second(args.env, games, args.steps, batched, floor)
            rows.append(r)
            print(
                f"{args.env} {games} games, {what}: "
                f"{r['joint_steps_per_second']:.0f} joint steps/s ({r['joint_steps']:.0f} in {r['seconds']:.1f} s)",
                flush=True,
            )
    save_raw("smax-speed", prov, {"env": args.env, "rows": rows})


if __name__ == "__main__":
    main()
