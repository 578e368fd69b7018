"""Replay trained policies on episodes they never saw: a second, larger evaluation of a finished run.

    python bench/replay.py smax_3m-agent2=RUNS/smax_3m-agent2-b1000000-s0/iter_1 [NAME=ITER_DIR ...] \
        [--episodes 100] [--seed 123]

Each ``NAME=ITER_DIR`` is an iteration folder with ``job.json`` and ``best_policy.pt`` (an Agent²
iteration or a fixed run's ``--folder``). The policy plays ``--episodes`` deterministic episodes on the
original reward from seed ``--seed`` (the worker's own ``evaluate_policy``, no adaptive growth); the
mean and its 95 % interval over episodes are printed and written to bench/results/replay-<commit>.json.
A run's own evaluation picks its best test checkpoint on that same noise, so a replay is the fairer
figure where the evaluation was short (20 SMAX battles swing by ±0.1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import provenance, save_raw
from tools.schemas import TrainJob
from tools.train_worker import evaluate_policy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("policies", nargs="+", metavar="NAME=ITER_DIR")
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=123)
    args = ap.parse_args()
    torch.set_num_threads(1)
    prov, rows = provenance(), {}
    for item in args.policies:
        name, sep, folder = item.partition("=")
        if not sep or not (Path(folder) / "best_policy.pt").exists():
            raise SystemExit(f"{item!r}: expected NAME=ITER_DIR with a best_policy.pt in ITER_DIR")
        job = TrainJob.model_validate_json((Path(folder) / "job.json").read_text())
        ev = evaluate_policy(job, Path(folder) / "best_policy.pt", args.episodes, seed=args.seed, adaptive=False)
        rows[name] = {"folder": folder, "episodes": ev.episodes, "mean": ev.mean, "ci95": [ev.ci_low, ev.ci_high]}
        print(f"{name}: {ev.mean:.3f} [{ev.ci_low:.3f}, {ev.ci_high:.3f}] over {ev.episodes} episodes", flush=True)
    save_raw("replay", prov, {"seed": args.seed, "replays": rows})


if __name__ == "__main__":
    main()
