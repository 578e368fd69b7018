"""The fault-injection sweep of the reliability suite: kill -9 at seeded random moments, resume, check.

    python bench/reliability.py [--trials 20] [--first-seed 0]

Trial k (seed k) kills, by k mod 3: the agent2 CLI (and everything under it) at a random moment
(1–11 s into a CartPole run, any phase); the CLI while a worker trains past a checkpoint, at a step
drawn from the seed; or only the training worker at such a step. A killed CLI is resumed with
``agent2 resume``; then the run's records are checked (tests/faults.py: result, run database rows,
SQLite integrity, each checkpoint file itself, exported policy) and, where the kill interrupted
training, that the iteration continued from its checkpoint (resumed_at_step > 0, not crashed) within
1.1x the env steps of an uninterrupted iteration.
Prints a line per trial and the counts, and writes bench/results/reliability-<commit>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from faults import TARGETS, run_trial  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0)
    args = ap.parse_args()
    trials = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agent2-faults-") as tmp:
        for seed in range(args.first_seed, args.first_seed + args.trials):
            trial = run_trial(seed, TARGETS[seed % len(TARGETS)], Path(tmp) / "runs", max_delay=11.0)
            trials.append(trial.__dict__)
            resumed = (
                ""
                if trial.killed_in is None
                else f", training resumed at step {trial.resumed_at_step}, {trial.replayed_steps} steps replayed "
                f"({trial.steps_ratio or 0:.3f}x an uninterrupted run)"
            )
            print(
                f"trial {seed:3d} kill {trial.target:12s} at {trial.delay:5.1f} s: "
                f"{'killed' if trial.killed else 'ended first'}{resumed}, {trial.resumes} resume(s)"
                f"{f' ({trial.restarts} started again: killed before it was recorded)' if trial.restarts else ''}, "
                f"{'OK' if not trial.problems else 'PROBLEMS: ' + '; '.join(trial.problems)} ({trial.wall:.0f} s)",
                flush=True,
            )
    killed = sum(t["killed"] for t in trials)
    failed = sum(bool(t["problems"]) for t in trials)
    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"reliability-{sha}.json").write_text(json.dumps({"commit": sha, "trials": trials}, indent=1))
    kinds = ", ".join(f"{sum(t['target'] == k for t in trials)} {k}" for k in TARGETS)
    during = sum(t["killed_in"] is not None for t in trials)
    print(
        f"\n{len(trials)} trials ({kinds}), {killed} faults injected ({during} during training), "
        f"{sum(t['resumes'] for t in trials)} resumes, "
        f"{failed} with problems, {time.perf_counter() - t0:.0f} s; commit {sha}"
    )


if __name__ == "__main__":
    main()
