"""Shared helpers for the benchmark scripts: run the real CLI, read what a run left behind."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_agent2(env: str, runs_dir: Path, thread_id: str, seed: int = 0, budget: int | None = None,
               extra: list[str] | None = None) -> dict:
    """Run ``agent2 run`` and return its result.json plus the wall time seen from outside."""
    cmd = [sys.executable, "-m", "graph.cli", "run", "--env", env, "--seed", str(seed), "--runs-dir",
           str(runs_dir), "--thread-id", thread_id, "--no-progress", *(extra or [])]
    if budget is not None:
        cmd += ["--budget-steps", str(budget)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    result_file = runs_dir / thread_id / "result.json"
    if not result_file.exists():
        raise RuntimeError(f"agent2 run on {env} left no result.json:\n{proc.stderr[-2000:]}")
    result = json.loads(result_file.read_text())
    result["outside_wall_seconds"] = wall
    result["work_seconds"] = work_seconds(runs_dir / thread_id)
    return result


def work_seconds(run_dir: Path) -> dict:
    """Time the workers spent in env steps (training collection, tests, evaluation) and updates."""
    totals = {"collect": 0.0, "update": 0.0, "test": 0.0, "eval": 0.0}
    for it in sorted(run_dir.glob("iter_*")):
        tr, ev = it / "train_result.json", it / "eval_result.json"
        if tr.exists():
            t = json.loads(tr.read_text())
            totals["collect"] += t["time_collect"]
            totals["update"] += t["time_update"]
            totals["test"] += t["time_test"]
        if ev.exists():
            totals["eval"] += json.loads(ev.read_text())["wall_seconds"]
    return totals
