"""Shared helpers for the benchmark scripts: run the real CLI, read what a run left behind."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def commit() -> str:
    """The checkout's short commit, with ``-dirty`` when tracked files differ from it (the raw
    results under bench/results/ do not count: a suite writes them as it goes)."""
    sha = (
        subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        or "unknown"
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return sha + ("-dirty" if dirty else "")


def machine() -> dict:
    """What the figures were measured on."""
    model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(), "platform": platform.platform()}


def provenance() -> dict:
    """Where a raw result comes from: read when the measurement starts, so the commit is the one
    measured; ``finish`` adds the end and says so when the checkout moved on meanwhile."""
    return {
        "commit": commit(),
        "command": shlex.join(["python", *sys.argv]),
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def finish(prov: dict) -> dict:
    end = commit()
    return {
        **prov,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **({"spans_commits": [prov["commit"], end]} if end != prov["commit"] else {}),
    }


def save_raw(name: str, prov: dict, payload: dict) -> Path:
    """Write a bench script's raw results to bench/results/<name>-<commit>.json and return the path.
    A file already there (the same script run again at the same commit, or a stopped run's first
    sitting) is kept: the new one goes to <name>-<commit>-2.json, -3, and so on."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps({**finish(prov), **payload}, indent=1, default=str)
    n = 1
    while True:
        path = RESULTS / (f"{name}-{prov['commit']}.json" if n == 1 else f"{name}-{prov['commit']}-{n}.json")
        try:
            with path.open("x") as f:  # exclusive: two runs ending at once do not share a name
                f.write(text)
            break
        except FileExistsError:
            n += 1
    print(f"raw results: {path.relative_to(ROOT)}", file=sys.stderr)
    return path


def run_agent2(
    env: str, runs_dir: Path, thread_id: str, seed: int = 0, budget: int | None = None, extra: list[str] | None = None
) -> dict:
    """Run ``agent2 run`` and return its result.json plus the wall time seen from outside."""
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "run",
        "--env",
        env,
        "--seed",
        str(seed),
        "--runs-dir",
        str(runs_dir),
        "--thread-id",
        thread_id,
        "--no-progress",
        *(extra or []),
    ]
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
    result["overhead"] = overhead_split(runs_dir / thread_id, wall)
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


def overhead_split(run_dir: Path, outside_wall: float) -> dict:
    """Split the time outside env steps and updates into Agent²'s own (CLI, graph, profiling, checks,
    worker start-up and set-up, export) and the bookkeeping inside Tianshou's trainer loop."""
    worker_loop, setup = 0.0, 0.0
    for it in sorted(run_dir.glob("iter_*")):
        tr = it / "train_result.json"
        if not tr.exists():
            continue
        t = json.loads(tr.read_text())
        starts = [json.loads(x) for x in (it / "progress.jsonl").read_text().splitlines() if '"start"' in x]
        first = starts[0]["wall"] if starts else 0.0
        setup += first
        worker_loop += t["wall_seconds"] - first - t["time_collect"] - t["time_update"] - t["time_test"]
    work = sum(work_seconds(run_dir).values())
    agent2 = outside_wall - work - worker_loop
    return {
        "agent2_seconds": agent2,
        "agent2_share": agent2 / outside_wall,
        "tianshou_loop_seconds": worker_loop,
        "tianshou_loop_share": worker_loop / outside_wall,
        "worker_setup_seconds": setup,
    }
