"""Parallel candidates: wall time of a K-candidate iteration, and best-of-K against one candidate.

    python bench/candidates.py wall  [--k 4] [--steps 8192] [--tasks CartPole-v1 Pendulum-v1]
    python bench/candidates.py score [--k 4] [--seeds 0] [--tasks ...] [--budget N]

``wall``: one iteration, target unreachable, of 1 candidate with ``--steps`` env steps against one
iteration of K candidates with ``--steps`` each (the work is K times), local executor, as many at
once as cores. Prints the iteration's seconds (first job.json written to last evaluation written:
every candidate's worker start, training and evaluation) and the ratio; goal ≤ 2.3 for K=4 on 2 cores.

``score``: the whole run, default iterations, at the same total env-step budget (each task's quick
budget unless ``--budget``): ``--candidates 1`` against ``--candidates K``; prints both final scores
(mean of 20 evaluation episodes on the original metric) per task and seed.

``--executor ray`` trains the K candidates on the Ray cluster at ``$RAY_ADDRESS``; a two-node cluster
on the loopback only: ``bwrap --dev-bind / / --unshare-net python tests/ray_loopback.py /tmp/rb --
python bench/candidates.py score --executor ray``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import provenance, save_raw  # noqa: E402

SCORE_BUDGETS = {
    "CartPole-v1": 40_000,
    "Acrobot-v1": 60_000,
    "Pendulum-v1": 12_000,
    "MountainCarContinuous-v0": 30_000,
    "LunarLander-v3": 200_000,
}


def agent2(task: str, runs: Path, thread: str, args: list[str]) -> tuple[dict, float]:
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "run",
        "--env",
        task,
        "--runs-dir",
        str(runs),
        "--thread-id",
        thread,
        "--no-progress",
        *args,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "AGENT2_TORCH_THREADS": "1"}
    )
    wall = time.perf_counter() - t0
    out = runs / thread / "result.json"
    if not out.exists():
        raise RuntimeError(f"{task} {thread}: no result.json\n{proc.stderr[-2000:]}")
    return json.loads(out.read_text()), wall


def iteration_seconds(runs: Path, thread: str) -> float:
    """From the first job.json written in iteration 1 (training starts) to its last eval_result.json
    (the last candidate evaluated): the iteration's training and evaluation, every candidate's."""
    it = runs / thread / "iter_1"
    jobs = sorted(p.stat().st_mtime for p in it.rglob("job.json"))
    evals = sorted(p.stat().st_mtime for p in it.rglob("eval_result.json"))
    return evals[-1] - jobs[0]


def wall(tasks: list[str], k: int, steps: int, executor: list[str]) -> list[dict]:
    print(f"| task | 1 candidate: steps, s | {k} candidates: steps, s | ratio (goal ≤ {2.3 if k == 4 else '—'}) |")
    print("|---|---|---|---|")
    rows = []
    for task in tasks:
        with tempfile.TemporaryDirectory(prefix="agent2-cand-") as tmp:
            runs = Path(tmp)
            common = ["--target", "1e9", "--max-iterations", "1", "--eval-episodes", "20", "--seed", "0"]
            one, _ = agent2(task, runs, "one", [*common, "--budget-steps", str(steps)])
            many, _ = agent2(
                task, runs, "many", [*common, "--budget-steps", str(k * steps), "--candidates", str(k), *executor]
            )
            s1, sk = iteration_seconds(runs, "one"), iteration_seconds(runs, "many")
            print(
                f"| {task} | {one['env_steps_total']}, {s1:.1f} | {many['env_steps_total']}, {sk:.1f} | "
                f"{sk / s1:.2f} |",
                flush=True,
            )
            rows.append(
                {
                    "task": task,
                    "k": k,
                    "one": {"env_steps": one["env_steps_total"], "seconds": s1},
                    "many": {"env_steps": many["env_steps_total"], "seconds": sk},
                }
            )
    return rows


def score(tasks: list[str], k: int, seeds: list[int], budget: int | None, executor: list[str]) -> list[dict]:
    print(
        f"| task | budget | seed | 1 candidate: score (iterations) | best of {k}: score (iterations, winners) | "
        "wall s (1 / K) |"
    )
    print("|---|---|---|---|---|---|")
    wins, rows = 0, []
    for task in tasks:
        b = budget or SCORE_BUDGETS.get(task, 50_000)
        for seed in seeds:
            with tempfile.TemporaryDirectory(prefix="agent2-cand-") as tmp:
                runs = Path(tmp)
                common = ["--budget-steps", str(b), "--seed", str(seed)]
                one, w1 = agent2(task, runs, "one", common)
                many, wk = agent2(task, runs, "many", [*common, "--candidates", str(k), *executor])
            s1 = one["best"]["eval_mean"] if one["best"] else float("-inf")
            sk = many["best"]["eval_mean"] if many["best"] else float("-inf")
            wins += sk >= s1
            winners = ", ".join(it["candidates"][0]["label"] for it in many["iterations"] if it["candidates"])
            print(
                f"| {task} | {b} | {seed} | {s1:.1f} ({len(one['iterations'])}) | {sk:.1f} "
                f"({len(many['iterations'])}: {winners}) | {w1:.0f} / {wk:.0f} |",
                flush=True,
            )
            rows.append({"task": task, "budget": b, "seed": seed, "k": k, "one": one, "many": many, "wall": [w1, wk]})
    print(f"\nbest-of-{k} ≥ one candidate in {wins} of {len(tasks) * len(seeds)} runs")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["wall", "score"])
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--tasks", nargs="*")
    ap.add_argument("--steps", type=int, default=8192)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0])
    ap.add_argument("--budget", type=int)
    ap.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where the K candidates train (ray: the cluster at $RAY_ADDRESS); 1 candidate trains locally",
    )
    args = ap.parse_args()
    executor = ["--executor", args.executor]
    prov = provenance()
    if args.mode == "wall":
        rows = wall(args.tasks or ["CartPole-v1", "Pendulum-v1"], args.k, args.steps, executor)
    else:
        rows = score(args.tasks or list(SCORE_BUDGETS), args.k, args.seeds, args.budget, executor)
    save_raw(f"candidates-{args.mode}", prov, {"rows": rows})


if __name__ == "__main__":
    main()
