"""Runs started in the background (the MCP server's ``start_run``): one ``agent2 run`` process each.

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

from envs.errors import Agent2Error
from envs.loading import canonical_ref
from graph.runner import new_thread_id, run_state
from nodes.state import RunRequest
from tools.run_files import PROGRESS
from tools.run_folders import UnknownThreadError, run_folder, writable_runs_dir
from tools.run_rules import DEFAULT_CANDIDATES, best_record
from tools.schemas import ReviewAnswer

LOG = "run.log"
PID = "run.pid"
SECRETS = ("OPENAI_API_KEY",)


def start_background_run(
    request: RunRequest,
    runs_dir: str | Path,
    designer: str | None = None,
    thread_id: str | None = None,
    review: bool = False,
    candidates: int = DEFAULT_CANDIDATES,
    executor: str = "local",
    ray_address: str | None = None,
) -> str:
    """Start ``agent2 run`` for the request in a process of its own; its thread id, at once.

    With ``review`` the process stops at the first review (the run waits; see ``answer_review``)."""
    runs = writable_runs_dir(runs_dir)
    thread_id = new_thread_id(request.env) if thread_id is None else thread_id
    folder = run_folder(runs, thread_id)
    if folder.exists():
        raise Agent2Error(f"thread {thread_id!r} already exists in {str(runs)!r}")
    folder.mkdir(parents=True)
    args = [
        "run",
        "--env",
        canonical_ref(request.env),
        "--thread-id",
        thread_id,
        "--no-progress",
        "--max-iterations",
        str(request.max_iterations),
        "--seed",
        str(request.seed),
        "--eval-episodes",
        str(request.eval_episodes),
        "--candidates",
        str(candidates),
        "--executor",
        executor,
    ]
    for flag, value in (
        ("--task", request.task),
        ("--target", request.target),
        ("--budget-steps", request.budget_steps),
        ("--designer", designer),
        ("--ray-address", ray_address),
    ):
        if value is not None:
            args += [flag, str(value)]
    _launch(thread_id, runs, args + (["--review"] if review else []), keep_key=designer == "llm")
    return thread_id


def answer_review(thread_id: str, runs_dir: str | Path, answer: ReviewAnswer) -> None:
    """Answer the run's pending review and let it go on, in a process of its own."""
    runs = Path(runs_dir).resolve()
    status = run_status(thread_id, runs)
    if status["state"] != "waiting_for_review":
        raise Agent2Error(f"run {thread_id!r} is not waiting for a review (it is {status['state']})")
    designer = (run_state(thread_id, runs)["values"]["settings"]).designer
    _launch(thread_id, runs, ["resume", thread_id, "--answer", answer.model_dump_json()], keep_key=designer == "llm")


def _launch(thread_id: str, runs: Path, args: list[str], keep_key: bool) -> None:
    env = dict(os.environ)
    if not keep_key:  # the key only goes where a model is called
        for name in SECRETS:
            env.pop(name, None)
    folder = run_folder(runs, thread_id)
    with open(folder / LOG, "a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args, "--runs-dir", str(runs)],
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


def run_status(thread_id: str, runs_dir: str | Path) -> dict:
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
    if not snap["next"]:
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


def run_result(thread_id: str, runs_dir: str | Path) -> dict:
    """A finished run's ``result.json`` and its report (Markdown)."""
    folder = run_folder(runs_dir, thread_id)
    path = folder / "result.json"
    if not path.exists():
        state = run_status(thread_id, runs_dir)["state"]
        raise Agent2Error(f"run {thread_id!r} has no result yet (it is {state})")
    result = json.loads(path.read_text())
    report = Path(result["report"]) if result.get("report") else None
    return {"result": result, "report": report.read_text() if report and report.exists() else ""}
