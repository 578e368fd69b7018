"""Replay trained policies on episodes they never saw: a second, larger evaluation of a finished run.

    python bench/replay.py smax_3m-agent2=RUNS/smax_3m-agent2-b1000000-s0/iter_1 [NAME=ITER_DIR ...] \
        [--episodes 100] [--seed 123]

Each ``NAME=ITER_DIR`` is an iteration folder with ``job.json`` and ``best_policy.pt`` (an Agent²
iteration or a fixed run's ``--folder``); ``NAME=ITER_DIR/checkpoint.pt`` replays the iteration's last
training checkpoint instead. The policy plays ``--episodes`` deterministic episodes on the
original reward from seed ``--seed`` (the worker's own ``evaluate_policy``, no adaptive growth); the
mean and its 95 % interval over episodes are printed and written to bench/results/replay-<commit>.json.
A run's own evaluation picks its best test checkpoint on that same noise, so a replay is the fairer
figure where the evaluation was short (20 SMAX battles swing by ±0.1).

``--endings``: also how the episodes ended: each episode's return and length are kept in the raw file,
and the share that ran to the env's step limit is printed beside the mean return of those that did and
of those that ended before it (SMAX: a battle lost by annihilation or by the clock; MetaDrive: a drive
cut short by a crash or by the horizon).

``--actions``: also how often each action is taken over 20 more episodes, by the deterministic policy
and by the sampling one training uses (a policy that still samples near-uniformly has learnt little).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tianshou.data import Collector, VectorReplayBuffer

from bench.common import provenance, save_raw
from tools.schemas import TrainJob
from tools.train_worker import episode_cap, evaluate_policy, load_policy, make_vector_env

ACTION_EPISODES = 20


def action_shares(job: TrainJob, policy_file: Path, seed: int) -> dict[str, list[float]]:
    """The share of each discrete action over ``ACTION_EPISODES`` episodes (every agent's steps),
    deterministic and sampled."""
    algorithm, rms = load_policy(job, policy_file)
    envs = make_vector_env(job.env, job.mdp, 10, seed, shape_reward=False, obs_rms=rms)
    layout = getattr(envs, "layout", None)
    agents = layout.n_agents if layout else 1
    n_actions = int(envs.action_space[0].n)
    out = {}
    for mode in ("deterministic", "sampled"):
        algorithm.policy.deterministic_eval = mode == "deterministic"
        buffer = VectorReplayBuffer(1_000_000, len(envs))
        collector = Collector(algorithm, envs, buffer)
        collector.reset()
        collector.collect(n_episode=ACTION_EPISODES * agents)
        counts = np.bincount(np.asarray(buffer.sample(0)[0].act, dtype=int), minlength=n_actions)
        out[mode] = (counts / counts.sum()).round(3).tolist()
    envs.close()
    return out


def endings(returns: list[float], lengths: list[float], limit: int) -> dict:
    """How episodes ended: the share that ran to the step limit ``limit`` and the mean return of
    the episodes at it and before it (None where there are none)."""
    ret, length = np.asarray(returns, dtype=float), np.asarray(lengths, dtype=float)
    at = length >= limit

    def mean(sel: np.ndarray) -> float | None:
        return float(ret[sel].mean()) if sel.any() else None

    return {
        "step_limit": limit,
        "share_at_limit": float(at.mean()) if len(at) else None,
        "mean_return_at_limit": mean(at),
        "mean_return_before_limit": mean(~at),
        "length_quartiles": np.percentile(length, [25, 50, 75]).tolist() if len(length) else [],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("policies", nargs="+", metavar="NAME=ITER_DIR")
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--actions", action="store_true", help="also the share of each action (discrete actions)")
    ap.add_argument("--endings", action="store_true", help="also how episodes ended: at the step limit or before")
    args = ap.parse_args()
    torch.set_num_threads(1)
    prov, rows = provenance(), {}
    for item in args.policies:
        name, sep, where = item.partition("=")
        policy = Path(where) if where.endswith(".pt") else Path(where) / "best_policy.pt"
        folder = str(policy.parent)
        if not sep or not policy.exists() or not (policy.parent / "job.json").exists():
            raise SystemExit(
                f"{item!r}: expected NAME=ITER_DIR (with job.json and best_policy.pt) or NAME=ITER_DIR/FILE.pt"
            )
        job = TrainJob.model_validate_json((policy.parent / "job.json").read_text())
        ev = evaluate_policy(job, policy, args.episodes, seed=args.seed, adaptive=False)
        rows[name] = {
            "folder": folder,
            "policy": policy.name,
            "episodes": ev.episodes,
            "mean": ev.mean,
            "ci95": [ev.ci_low, ev.ci_high],
        }
        print(f"{name}: {ev.mean:.3f} [{ev.ci_low:.3f}, {ev.ci_high:.3f}] over {ev.episodes} episodes", flush=True)
        if args.endings:
            rows[name]["returns"], rows[name]["lengths"] = ev.returns, ev.lengths
            rows[name]["endings"] = e = endings(ev.returns, ev.lengths, episode_cap(job.env))
            at, before = (
                f"{x:.3f}" if x is not None else "none"
                for x in (e["mean_return_at_limit"], e["mean_return_before_limit"])
            )
            print(
                f"  {e['share_at_limit']:.3f} of episodes ran to the step limit ({e['step_limit']}): mean return {at} there,"
                f" {before} for those that ended before; length quartiles {e['length_quartiles']}",
                flush=True,
            )
        if args.actions:
            rows[name]["action_shares"] = shares = action_shares(job, policy, args.seed)
            for mode, share in shares.items():
                print(f"  {mode} actions: {' '.join(f'{x:.2f}' for x in share)}", flush=True)
    save_raw("replay", prov, {"seed": args.seed, "replays": rows})


if __name__ == "__main__":
    main()
