"""Fault injection for the reliability suite: kill -9 a run (its CLI, or its training worker) at a
seeded random moment, resume it, and check what it left behind.

Used by ``tests/e2e/test_faults.py`` (a few trials in CI) and ``bench/reliability.py`` (20+ trials).
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

from conftest import seal_environment

from tools.run_rules import AGENT_KEPT

ROOT = Path(__file__).resolve().parent.parent
seal_environment()  # the CLI runs below see none of the caller's OPENAI_*/AGENT2_*/RAY_ADDRESS settings
BUDGET = 12_000
"""One CartPole iteration of 12 PPO epochs (1024 steps each): a kill loses at most one epoch, which keeps
a resumed run within 1.1x the env steps of an uninterrupted one."""
RUN = [
    "--env",
    "CartPole-v1",
    "--budget-steps",
    str(BUDGET),
    "--target",
    "1e9",
    "--max-iterations",
    "2",
    "--eval-episodes",
    "3",
    "--no-progress",
]
TARGETS = ("cli", "cli-training", "worker")
UNINTERRUPTED_STEPS = 12_288
"""Env steps an uninterrupted run of ``RUN`` trains on (iterations of 8192 and 4096 steps)."""
REPLAY_ALLOWANCE = 1.1
"""A run killed once may collect at most this many times the env steps of an uninterrupted run."""


@dataclass
class Trial:
    seed: int
    target: str
    """``cli``: the agent2 process and everything under it, at a random moment; ``cli-training``: the same,
    while a worker trains past a checkpoint; ``worker``: only the training worker, past a checkpoint."""
    delay: float = 0.0
    killed: bool = False
    killed_in: str | None = None
    """The iteration folder whose training the kill interrupted (None: no worker was past a checkpoint)."""
    resumes: int = 0
    restarts: int = 0
    """Of the resumes: runs killed before they were recorded, started again with the same thread id."""
    resumed_at_step: int | None = None
    replayed_steps: int | None = None
    """Env steps the interrupted iteration collected twice (after a restart from its checkpoint)."""
    steps_ratio: float | None = None
    """The run's env steps over an uninterrupted run's, if the replayed steps came on top of it."""
    problems: list[str] = field(default_factory=list)
    wall: float = 0.0


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


def _workers(runs_dir: Path) -> dict[int, Path]:
    """Training workers (and their bubblewrap parents) under ``runs_dir``: pid -> iteration folder."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tools.train_worker" in cmd and b"train" in cmd:
            folder = cmd[cmd.index(b"train") + 1].decode()
            if folder.startswith(str(runs_dir)):
                found[int(entry.name)] = Path(folder)
    return found


def _training_past_checkpoint(runs_dir: Path, share: float) -> dict[int, Path]:
    """Workers whose iteration has a checkpoint, no result yet, and progress past ``share`` of its budget."""
    from tools.run_files import CHECKPOINT, JOB, PROGRESS, TRAIN_RESULT
    from tools.training import steps_seen

    found = {}
    for pid, f in _workers(runs_dir).items():
        try:
            budget = json.loads((f / JOB).read_text())["algo"]["budget_steps"]
        except (OSError, ValueError, KeyError):
            continue
        if (f / CHECKPOINT).exists() and not (f / TRAIN_RESULT).exists() and steps_seen(f / PROGRESS) >= share * budget:
            found[pid] = f
    return found


def run_trial(seed: int, target: str, runs_dir: Path, max_delay: float = 25.0) -> Trial:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    rng = random.Random(seed)
    trial = Trial(seed=seed, target=target, delay=rng.uniform(1.0, max_delay))
    kill_after_share = rng.uniform(0.15, 0.75)  # of the iteration's budget
    thread = f"fault-{target}-{seed}"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        _cli("run", *RUN, "--seed", str(seed % 3), "--runs-dir", str(runs_dir), "--thread-id", thread),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.perf_counter() + (trial.delay if target == "cli" else 300.0)
    training: dict[int, Path] = {}
    while time.perf_counter() < deadline and proc.poll() is None:
        training = _training_past_checkpoint(runs_dir, 0.0 if target == "cli" else kill_after_share)
        if training and target != "cli":
            break
        time.sleep(0.05)
    if proc.poll() is None:
        trial.delay = time.perf_counter() - t0
        if training:
            trial.killed_in = str(next(iter(training.values())))
        if target.startswith("cli"):
            os.killpg(proc.pid, signal.SIGKILL)
            trial.killed = True
        else:
            for pid in training:
                try:
                    os.kill(pid, signal.SIGKILL)
                    trial.killed = True
                except ProcessLookupError:
                    pass
    _, err = proc.communicate(timeout=600)
    code = proc.returncode
    while code != 0 and trial.resumes < 3:  # a killed CLI: resume until the run ends
        from graph.runner import thread_recorded

        trial.resumes += 1
        if thread_recorded(thread, runs_dir):
            again = _cli("resume", thread, "--runs-dir", str(runs_dir))
        else:  # killed while starting (profiling), before the run was recorded: a user starts it again
            trial.restarts += 1
            again = _cli("run", *RUN, "--seed", str(seed % 3), "--runs-dir", str(runs_dir), "--thread-id", thread)
        done = subprocess.run(again, cwd=ROOT, capture_output=True, text=True, timeout=600)
        code, err = done.returncode, done.stderr.encode()
    if code != 0:
        trial.problems.append(f"run did not finish (exit {code}): {err.decode(errors='replace')[-500:]}")
    trial.problems += check_run(runs_dir, thread)
    if trial.killed_in is not None:
        trial.problems += check_resumed(trial, Path(trial.killed_in))
    trial.wall = time.perf_counter() - t0
    return trial


def kill_once_written(cmd: list[str], cwd: Path, written: Path, timeout: float = 240) -> None:
    """Start ``cmd`` (an agent2 command line), kill -9 it and everything under it once ``written`` exists."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    while not written.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert written.exists(), f"{written} was not written before the kill"


def check_resumed(trial: Trial, iter_dir: Path) -> list[str]:
    """The interrupted iteration continued from its checkpoint (not from zero, not crashed) and replayed at
    most one checkpoint interval (epoch) per restart, which keeps the run within ``REPLAY_ALLOWANCE`` times
    the env steps of an uninterrupted run."""
    from tools.run_files import JOB, PROGRESS, TRAIN_RESULT
    from tools.training import steps_consumed

    try:
        train = json.loads((iter_dir / TRAIN_RESULT).read_text())
        epoch = json.loads((iter_dir / JOB).read_text())["algo"]["epoch_steps"]
    except (OSError, ValueError, KeyError) as e:
        return [f"{iter_dir.name}: no training result after the kill ({e})"]
    problems = []
    trial.resumed_at_step = train["resumed_at_step"]
    if train["stop_reason"] == "crash":
        problems.append(f"{iter_dir.name}: the killed iteration crashed: {(train.get('error') or '')[:300]}")
    if not train["resumed_at_step"] > 0:
        problems.append(f"{iter_dir.name}: training restarted from step 0 after the kill, not from its checkpoint")
    restarts = (iter_dir / PROGRESS).read_text().count('"kind": "start"') - 1
    replayed = steps_consumed(iter_dir) - train["env_steps"]
    trial.replayed_steps = replayed
    trial.steps_ratio = (UNINTERRUPTED_STEPS + replayed) / UNINTERRUPTED_STEPS
    if replayed > max(1, restarts) * epoch or trial.steps_ratio > REPLAY_ALLOWANCE:
        problems.append(
            f"{iter_dir.name}: {replayed} env steps collected twice after {restarts} restart(s) "
            f"(more than one {epoch}-step epoch each, or over {REPLAY_ALLOWANCE}x an uninterrupted run)"
        )
    return problems


def check_run(runs_dir: Path, thread: str) -> list[str]:
    """What is wrong with a finished run's records (empty when it is valid)."""
    problems = []
    result_file = runs_dir / thread / "result.json"
    try:
        result = json.loads(result_file.read_text())
    except (OSError, ValueError) as e:
        return [f"result.json unreadable: {e}"]
    if result["status"] not in AGENT_KEPT or result["best"] is None:
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
        rows = [
            r[0]
            for r in db.execute("select iteration from iterations where thread_id = ? order by iteration", [thread])
        ]
        run = db.execute("select status, iterations from runs where thread_id = ?", [thread]).fetchone()
    if rows != numbers:
        problems.append(f"database iterations {rows} != result {numbers}")
    if run is None or run[0] != result["status"] or run[1] != len(numbers):
        problems.append(f"database run row {run} != result ({result['status']}, {len(numbers)})")
    from tools.checkpoint_io import load_checkpoint

    for ckpt in sorted((runs_dir / thread).glob("iter_*/**/checkpoint.pt")):
        if load_checkpoint(ckpt, fallback=False) is None:  # the file itself: a torn one is reported torn
            problems.append(f"{ckpt.relative_to(runs_dir / thread)} is torn: it does not load")
    for it in result["iterations"]:  # K candidates: one database row each, every one ranked once
        if it.get("candidates"):
            with sqlite3.connect(runs_dir / "agent2.db") as db:
                listed = [
                    r[0]
                    for r in db.execute(
                        "select candidate from candidates where thread_id = ? and iteration = ? order by candidate",
                        [thread, it["iteration"]],
                    )
                ]
            ranked = sorted(c["index"] for c in it["candidates"])
            if listed != ranked or ranked != list(range(len(ranked))):
                problems.append(f"iteration {it['iteration']}: candidates ranked {ranked}, in the database {listed}")
    agent = result.get("agent_dir")
    if not agent or not (Path(agent) / "policy.pt").exists():
        problems.append(f"no exported policy in {agent}")
    return problems
