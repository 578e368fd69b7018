"""Training throughput: Agent²'s worker against the same algorithm and config as a bare Tianshou script.

    python bench/throughput.py [--tasks CartPole-v1 Pendulum-v1] [--budget-steps N]

For each task, in one run: ``agent2 run`` for one iteration with an unreachable target (so it trains
its whole iteration budget unless a plateau stops it), then bench/bare_tianshou.py on that
iteration's job.json (same algorithm, config, seed, envs, tests) with the budget set to the env
steps Agent² trained (a plateau may stop Agent² early; tests grow costlier as the policy improves,
so both must cover the same stretch of training). Agent²'s figure is its worker's
env steps over its training seconds (the worker's wall time after its set-up: collection, updates,
tests, checkpoints, progress lines, the MDP wrapper); the bare figure is env steps over
``run_training``'s seconds. Goal: ratio ≥ 0.95. Peak memory: each process's own maximum RSS.

A second ratio leaves each side's test seconds out (Tianshou's own ``update_speed`` does the same):
both sides run the same number of test episodes, but an episode lasts as long as the policy keeps
the pole up, so the side that learns faster (Agent²'s standardised observations) pays for longer
tests; that is not overhead. Both ratios are printed; every pair is written to
bench/results/throughput-<commit>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import provenance, save_raw  # noqa: E402

DEFAULT = {"CartPole-v1": 50_000, "Pendulum-v1": 6_000}


def agent2_rate(task: str, budget: int, runs: Path) -> tuple[dict, Path]:
    env = {**os.environ, "AGENT2_TORCH_THREADS": "1"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "run",
            "--env",
            task,
            "--budget-steps",
            str(budget),
            "--target",
            "1e9",
            "--max-iterations",
            "1",
            "--runs-dir",
            str(runs),
            "--thread-id",
            "t",
            "--no-progress",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
    )
    it = runs / "t" / "iter_1"
    train = json.loads((it / "train_result.json").read_text())
    starts = [json.loads(x) for x in (it / "progress.jsonl").read_text().splitlines() if '"start"' in x]
    setup = starts[0]["wall"] if starts else 0.0
    seconds = train["wall_seconds"] - setup
    return {
        "env_steps": train["env_steps"],
        "train_seconds": seconds,
        "steps_per_second": train["env_steps"] / seconds,
        "test_seconds": train["time_test"],
        "peak_rss_mb": train.get("peak_rss_mb"),
        "setup_seconds": setup,
    }, it / "job.json"


def untested_rate(r: dict) -> float:
    """Training steps/s with the tests' seconds left out (Tianshou's own ``update_speed``)."""
    return r["env_steps"] / (r["train_seconds"] - r["test_seconds"])


def measure(task: str, budget: int) -> tuple[dict, dict, str]:
    with tempfile.TemporaryDirectory(prefix="agent2-tp-") as tmp:
        ours, job = agent2_rate(task, budget, Path(tmp))
        same = json.loads(job.read_text())  # the bare script trains as many steps as Agent² did
        same["algo"]["budget_steps"] = ours["env_steps"]
        job = Path(tmp) / "bare_job.json"
        job.write_text(json.dumps(same))
        bare_out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "bare_tianshou.py"), str(job)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return ours, json.loads(bare_out.strip().splitlines()[-1]), same["algo"]["algorithm"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", nargs="*", default=list(DEFAULT))
    ap.add_argument("--budget-steps", type=int)
    ap.add_argument("--repeats", type=int, default=3, help="pairs per task; the table shows the median pair")
    args = ap.parse_args()
    prov, raw = provenance(), []
    print(
        "| task | algorithm | Agent²: steps, s (tests), steps/s | bare Tianshou: steps, s (tests), steps/s | "
        "ratio (median; all pairs) | ratio without tests (all pairs) | peak MB Agent² worker / bare |"
    )
    print("|---|---|---|---|---|---|---|")
    for task in args.tasks:
        pairs = [measure(task, args.budget_steps or DEFAULT.get(task, 50_000)) for _ in range(args.repeats)]
        raw.append({"task": task, "algorithm": pairs[0][2], "pairs": [{"agent2": o, "bare": b} for o, b, _ in pairs]})
        ratios = [o["steps_per_second"] / b["steps_per_second"] for o, b, _ in pairs]
        ours, bare, algo = pairs[sorted(range(len(pairs)), key=lambda i: ratios[i])[len(pairs) // 2]]
        ratio = ours["steps_per_second"] / bare["steps_per_second"]
        untested = sorted(untested_rate(o) / untested_rate(b) for o, b, _ in pairs)
        print(
            f"| {task} | {algo} | {ours['env_steps']}, {ours['train_seconds']:.1f} ({ours['test_seconds']:.1f}), "
            f"{ours['steps_per_second']:.0f} | {bare['env_steps']}, {bare['train_seconds']:.1f} "
            f"({bare['test_seconds']:.1f}), {bare['steps_per_second']:.0f} | {ratio:.2f}; "
            f"{', '.join(f'{r:.2f}' for r in ratios)} | {untested[len(untested) // 2]:.2f}; "
            f"{', '.join(f'{r:.2f}' for r in untested)} | {ours['peak_rss_mb'] or 0:.0f} / {bare['peak_rss_mb']:.0f} |",
            flush=True,
        )
    save_raw("throughput", prov, {"tasks": raw})


if __name__ == "__main__":
    main()
