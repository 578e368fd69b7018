"""Runs in the background (the MCP server's ``start_run``, ``answer_review``): one process each.

The process writes its log to ``RUNS/THREAD/run.log`` and its pid to ``run.pid``; status comes from
the thread's checkpoint, the run database and the latest iteration's progress file, so it can be
read by any process, during the run and after a restart of the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from graph.runner import run_state
from tools.run_files import PROGRESS
from tools.run_folders import UnknownThreadError, run_folder
from tools.run_rules import best_record
from tools.run_store import RESULT

LOG = "run.log"
PID = "run.pid"
SECRETS = ("OPENAI_API_KEY",)


def launch(thread_id: str, runs: Path, args: list[str], keep_key: bool) -> None:
    """Start ``python ARGS`` for the thread in a process of its own (a new session: it outlives its
    caller), its output in the run's log and its pid beside it; the model key only where a model is
    called."""
    env = dict(os.environ)
    if not keep_key:
        for name in SECRETS:
            env.pop(name, None)
    folder = run_folder(runs, thread_id)
    with open(folder / LOG, "a") as log:
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            start_new_session=True,
        )
    (folder / PID).write_text(str(proc.pid))
    _children[thread_id] = proc


_children: dict[str, subprocess.Popen] = {}
"""Processes this process started (reaped on status reads so they don't linger as zombies)."""


def _alive(folder: Path, thread_id: str) -> bool:
    child = _children.get(thread_id)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(int((folder / PID).read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def _last_event(path: Path) -> dict | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return None


def _log_tail(folder: Path, lines: int = 15) -> str:
    try:
        return "\n".join((folder / LOG).read_text().splitlines()[-lines:])
    except OSError:
        return ""


def describe(thread_id: str, runs_dir: str | Path) -> dict:
    """Where a run stands: ``state`` is starting, running, waiting_for_review, finished or failed."""
    runs = Path(runs_dir).resolve()
    folder = run_folder(runs, thread_id)
    if not folder.is_dir():
        raise UnknownThreadError(f"no run with thread id {thread_id!r} in {str(runs)!r}")
    alive = _alive(folder, thread_id)
    try:
        snap = run_state(thread_id, runs)
    except UnknownThreadError:
        snap = None
    if snap is None:
        state = "starting" if alive else "failed"
        return {
            "thread_id": thread_id,
            "state": state,
            **({"log_tail": _log_tail(folder)} if state == "failed" else {}),
        }
    values = snap["values"]
    spec = values.get("spec")
    iteration = values.get("iteration", 1)
    history = values.get("history") or []
    best = getattr(best_record(history), "eval_mean", None)
    if not snap["next"] and (folder / RESULT).exists():
        # the checkpoint alone cannot say: between the input's checkpoint and the first node's, a
        # starting run's snapshot has no next node either (its start task has its writes)
        state = "finished"
    elif alive:
        state = "running"
    elif snap["interrupts"]:
        state = "waiting_for_review"
    else:
        state = "failed"
    out = {
        "thread_id": thread_id,
        "state": state,
        "status": values.get("status"),
        "env": spec.env if spec else None,
        "target": spec.target if spec else None,
        "iteration": iteration,
        "iterations_done": len(history),
        "next": snap["next"],
        "env_steps": values.get("steps_used", 0),
        "budget_steps": spec.budget_steps if spec else None,
        "best_eval": best,
        "training": _last_event(folder / f"iter_{iteration}" / PROGRESS),
    }
    if state == "failed":
        out["log_tail"] = _log_tail(folder)
        out["resume"] = f"agent2 resume {thread_id} --runs-dir {runs}"
    if state == "waiting_for_review":
        out["review"] = snap["interrupts"][0]
    return out
