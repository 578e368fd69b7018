"""Fault injection for the reliability suite: kill -9 a run (its CLI, or its training worker) at a
seeded random moment, resume it, and check what it left behind.

Used by ``tests/test_faults.py`` (a few trials in CI) and ``bench/reliability.py`` (20+ trials).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ["--env", "CartPole-v1", "--budget-steps", "6000", "--target", "1e9", "--max-iterations", "2", "--eval-episodes", "3",
       "--no-progress"]


@dataclass
class Trial:
    seed: int
    target: str
    """``cli`` (the agent2 process and everything under it) or ``worker`` (the training worker only)."""
    delay: float = 0.0
    killed: bool = False
    resumes: int = 0
    problems: list[str] = field(default_factory=list)
    wall: float = 0.0


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "graph.cli", *args]


def _workers(runs_dir: Path) -> list[int]:
    """Pids of training workers (and their bubblewrap parents) whose folder is under ``runs_dir``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tools.train_worker" in cmd and any(str(runs_dir).encode() in part for part in cmd):
            pids.append(int(entry.name))
    return pids


def run_trial(seed: int, target: str, runs_dir: Path, max_delay: float = 25.0) -> Trial:
    rng = random.Random(seed)
    trial = Trial(seed=seed, target=target, delay=rng.uniform(1.0, max_delay))
    thread = f"fault-{target}-{seed}"
    t0 = time.perf_counter()
    proc = subprocess.Popen(_cli("run", *RUN, "--seed", str(seed % 3), "--runs-dir", str(runs_dir),
                                 "--thread-id", thread),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.perf_counter() + trial.delay
    while time.perf_counter() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is None:
        if target == "cli":
            os.killpg(proc.pid, signal.SIGKILL)
            trial.killed = True
        else:
            for pid in _workers(runs_dir):
                try:
                    os.kill(pid, signal.SIGKILL)
                    trial.killed = True
                except ProcessLookupError:
                    pass
    _, err = proc.communicate(timeout=600)
    code = proc.returncode
    while code != 0 and trial.resumes < 3:  # a killed CLI: resume until the run ends
        trial.resumes += 1
        done = subprocess.run(_cli("resume", thread, "--runs-dir", str(runs_dir)), cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        code, err = done.returncode, done.stderr.encode()
    if code != 0:
        trial.problems.append(f"run did not finish (exit {code}): {err.decode(errors='replace')[-500:]}")
    trial.problems += check_run(runs_dir, thread)
    trial.wall = time.perf_counter() - t0
    return trial


def check_run(runs_dir: Path, thread: str) -> list[str]:
    """What is wrong with a finished run's records (empty when it is valid)."""
    problems = []
    result_file = runs_dir / thread / "result.json"
    try:
        result = json.loads(result_file.read_text())
    except (OSError, ValueError) as e:
        return [f"result.json unreadable: {e}"]
    if result["status"] not in ("target_met", "budget_exhausted") or result["best"] is None:
        problems.append(f"status {result['status']}, best {result['best']}")
    numbers = [it["iteration"] for it in result["iterations"]]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"result iterations {numbers}")
    for db_name in ("agent2.db", "checkpoints.sqlite"):
        with sqlite3.connect(runs_dir / db_name) as db:
            check = db.execute("pragma integrity_check").fetchone()[0]
            if check != "ok":
                problems.append(f"{db_name}: {check}")
    with sqlite3.connect(runs_dir / "agent2.db") as db:
        rows = [r[0] for r in db.execute("select iteration from iterations where thread_id = ? order by iteration",
                                         [thread])]
        run = db.execute("select status, iterations from runs where thread_id = ?", [thread]).fetchone()
    if rows != numbers:
        problems.append(f"database iterations {rows} != result {numbers}")
    if run is None or run[0] != result["status"] or run[1] != len(numbers):
        problems.append(f"database run row {run} != result ({result['status']}, {len(numbers)})")
    from tools.checkpoint_io import load_checkpoint

    for ckpt in sorted((runs_dir / thread).glob("iter_*/**/checkpoint.pt")):
        if load_checkpoint(ckpt) is None:
            problems.append(f"{ckpt.relative_to(runs_dir / thread)} does not load")
    for it in result["iterations"]:  # K candidates: one database row each, every one ranked once
        if it.get("candidates"):
            with sqlite3.connect(runs_dir / "agent2.db") as db:
                listed = [r[0] for r in db.execute("select candidate from candidates where thread_id = ? and "
                                                   "iteration = ? order by candidate", [thread, it["iteration"]])]
            ranked = sorted(c["index"] for c in it["candidates"])
            if listed != ranked or ranked != list(range(len(ranked))):
                problems.append(f"iteration {it['iteration']}: candidates ranked {ranked}, in the database {listed}")
    agent = result.get("agent_dir")
    if not agent or not (Path(agent) / "policy.pt").exists():
        problems.append(f"no exported policy in {agent}")
    return problems
