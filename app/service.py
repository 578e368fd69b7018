"""The one service API behind every front door: the CLI, the MCP server and background runs call
these functions on typed objects (``RunRequest``, ``RunContext``, ``ReviewAnswer``), so each setting a
front door takes reaches the run the same way, with the same checks before anything is written.

- ``check_new_run`` and ``probe``: every check a new run needs before anything is written (runs folder,
  thread id; then the env loads and steps, a Ray cluster answers).
- ``start`` / ``resume`` / ``fork``: drive the thread here, until it ends or stops for a review.
- ``start_in_background`` / ``answer_in_background``: the same in a process of their own
  (``python -m app.service --launch FILE``, which reads the typed launch file and calls ``start`` or
  ``resume``); ``status`` and ``result`` read any run from its files.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from app import background
from envs.errors import Agent2Error
from envs.loading import canonical_ref
from graph import runner
from graph.runner import OnEvent
from nodes.export import best_iteration
from nodes.intake import DEFAULT_RUNS_DIR, resolve_spec, run_settings
from nodes.state import RunContext, RunRequest
from tools.executors import get_executor
from tools.profiling import profile_env
from tools.run_folders import check_runs_dir, check_thread_free, check_thread_id, run_folder, writable_runs_dir
from tools.run_rules import AGENT_KEPT, best_record
from tools.run_store import RunStore
from tools.schemas import ReviewAnswer, TaskSpec

LAUNCH = "launch.json"
"""What a background process is to do, written in the run folder before it starts."""


class Launch(BaseModel):
    """A background process's work: start a thread, or resume it (with a review's answer)."""

    model_config = ConfigDict(extra="forbid")
    action: str
    thread_id: str
    runs_dir: str
    request: RunRequest | None = None
    context: RunContext | None = None
    answer: ReviewAnswer | None = None


def typed(kind: type[BaseModel], /, **fields) -> BaseModel:
    """``kind(**fields)``; a bad value is one line naming the field and the value."""
    try:
        return kind(**fields)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(map(str, err["loc"]))
        raise Agent2Error(f"{where}={err.get('input')!r}: {err['msg']}") from None


def check_new_run(request: RunRequest, context: RunContext, thread_id: str | None) -> tuple[RunRequest, str]:
    """The checks of a new run that write nothing and run no env code: the runs folder, the thread id
    (free, not taken), the env reference (made absolute: workers run in the iteration folder)."""
    check_runs_dir(context.runs_dir or DEFAULT_RUNS_DIR)  # the folder as the user named it
    runs_dir = run_settings(context).runs_dir
    if thread_id is not None:
        check_thread_id(thread_id)
        check_thread_free(runs_dir, thread_id)
        if runner.thread_recorded(thread_id, runs_dir):
            raise Agent2Error(f"thread {thread_id!r} already exists in {runs_dir!r}; use 'agent2 resume {thread_id}'")
    request = request.model_copy(update={"env": canonical_ref(request.env)})
    return request, runner.new_thread_id(request.env) if thread_id is None else thread_id


def probe(request: RunRequest, context: RunContext) -> TaskSpec:
    """Fail fast before the graph starts: the env loads and steps (each call time-limited), a Ray
    cluster answers; the request's task with every default filled in."""
    profile_env(request.env, seed=request.seed, episodes=1, max_steps=200)
    if context.executor == "ray":
        get_executor("ray", ray_address=context.ray_address)
    return resolve_spec(request)


def start(request: RunRequest, context: RunContext, thread_id: str, on_event: OnEvent | None = None) -> dict:
    """Run a new thread here until it ends or stops for a review; its state values (after
    ``check_new_run`` and ``probe``). ``on_event`` takes the nodes' custom events as they come
    (training progress, each node's decision)."""
    return runner.start_run(request, context, thread_id, on_event)


def resume(
    thread_id: str,
    runs_dir: str | Path,
    answer: ReviewAnswer | None = None,
    restart_iteration: bool = False,
    on_event: OnEvent | None = None,
) -> dict:
    return runner.resume_run(
        thread_id, Path(runs_dir).resolve(), answer, restart_iteration=restart_iteration, on_event=on_event
    )


def fork(thread_id: str, iteration: int, new_thread_id: str, runs_dir: str | Path, review: bool | None = None) -> None:
    runner.fork_run(thread_id, iteration, new_thread_id, Path(runs_dir).resolve(), review=review)


def start_in_background(request: RunRequest, context: RunContext, thread_id: str | None = None) -> str:
    """``check_new_run`` here, then ``probe`` and ``start`` in a process of its own (env code never runs
    in the caller, a server); the thread id, at once. A run asked to review stops at its first review
    (see ``answer_in_background``)."""
    request, thread_id = check_new_run(request, context, thread_id)
    runs = writable_runs_dir(run_settings(context).runs_dir)
    folder = run_folder(runs, thread_id)
    if folder.exists():
        raise Agent2Error(f"thread {thread_id!r} already exists in {str(runs)!r}")
    folder.mkdir(parents=True)
    context = context.model_copy(update={"runs_dir": str(runs)})
    _launch(Launch(action="start", thread_id=thread_id, runs_dir=str(runs), request=request, context=context))
    return thread_id


def answer_in_background(thread_id: str, runs_dir: str | Path, answer: ReviewAnswer) -> None:
    """Answer the run's pending review and let it go on, in a process of its own."""
    runs = Path(runs_dir).resolve()
    state = status(thread_id, runs)["state"]
    if state != "waiting_for_review":
        raise Agent2Error(f"run {thread_id!r} is not waiting for a review (it is {state})")
    _launch(Launch(action="resume", thread_id=thread_id, runs_dir=str(runs), answer=answer))


def _launch(launch: Launch) -> None:
    folder = run_folder(launch.runs_dir, launch.thread_id)
    (folder / LAUNCH).write_text(launch.model_dump_json(indent=1, exclude_unset=True))  # unset: defaults apply there
    settings = (
        runner.run_state(launch.thread_id, launch.runs_dir)["values"]["settings"]
        if launch.context is None
        else run_settings(launch.context)
    )
    background.launch(
        launch.thread_id,
        Path(launch.runs_dir),
        ["-m", "app.service", "--launch", str(folder / LAUNCH)],
        keep_key=settings.designer == "llm",
    )


def state(thread_id: str, runs_dir: str | Path) -> dict:
    """A thread's checkpointed state: its values, the nodes next, pending reviews."""
    return runner.run_state(thread_id, Path(runs_dir).resolve())


def status(thread_id: str, runs_dir: str | Path) -> dict:
    """Where a run stands (starting, running, waiting_for_review, finished or failed), from its files."""
    return background.describe(thread_id, runs_dir)


def result(thread_id: str, runs_dir: str | Path) -> dict:
    """A finished run's ``result.json`` and its report (Markdown)."""
    runs = RunStore(runs_dir, thread_id)
    if not runs.has_result():
        raise Agent2Error(f"run {thread_id!r} has no result yet (it is {status(thread_id, runs_dir)['state']})")
    return runs.result()


def summary_lines(values: dict, thread_id: str) -> list[str]:
    """A run's outcome in a few lines: status, best iteration, steps, where the agent is."""
    history = values.get("history", [])
    lines = [f"thread:  {thread_id}", f"status:  {values.get('status', 'unknown')}"]
    summary, record = values.get("summary"), best_record(history)
    # a finished run's figure (confirmed where it was chosen among several), else the best so far
    b = summary.best if summary is not None else best_iteration(record, history, None) if record else None
    if b is not None:
        lines.append(
            f"best:    iteration {b.iteration} ({b.algorithm}) "
            f"eval {b.eval_mean:.2f} ± {b.eval_std or 0:.2f} over {b.eval_episodes} episodes"
            + (f", 95% CI [{b.eval_ci95[0]:.2f}, {b.eval_ci95[1]:.2f}]" if b.eval_ci95 else "")
            + (f" (per agent, {b.agents} agents)" if b.agents > 1 else "")
            + "".join(f", {k} {v:.2f}" for k, v in b.eval_metrics.items())
            + (
                f"\n         on fresh seeds; chosen from {b.compared} evaluated policies at {b.selection_mean:.2f}"
                if b.selection_mean is not None
                else ""
            )
        )
    lines.append(f"steps:   {values.get('steps_used', 0)}   wall: {values.get('wall_seconds', 0.0):.0f} s")
    if values.get("agent_dir"):
        lines += [f"agent:   {values['agent_dir']}", f"play:    agent2 play {values['agent_dir']}"]
    return lines


def _run_launch(path: Path) -> int:
    """The body of a background process: the launch file's work, its outcome printed to the run's log."""
    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")  # as the CLI: workers exec at once
    launch = Launch.model_validate_json(path.read_text())
    try:
        if launch.action == "start":
            assert launch.request is not None and launch.context is not None
            probe(launch.request, launch.context)
    except Agent2Error as e:
        print(f"agent2: error: {e}", file=sys.stderr)
        return 2
    try:
        if launch.action == "start":
            values = start(launch.request, launch.context, launch.thread_id)
        else:
            values = resume(launch.thread_id, launch.runs_dir, launch.answer)
    except Agent2Error as e:
        print(
            f"agent2: error: {e}; the run is saved: 'agent2 resume {launch.thread_id} --runs-dir {launch.runs_dir}'",
            file=sys.stderr,
        )
        return 2
    if values.get("__interrupt__"):
        pending = values["__interrupt__"][0]
        print(
            f"thread:  {launch.thread_id}\nstatus:  waiting for review of the {pending['stage']} "
            f"(iteration {pending['iteration']})"
        )
        return 0
    print("\n".join(summary_lines(values, launch.thread_id)))
    return 0 if values.get("status") in AGENT_KEPT else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m app.service", description="run a background launch file")
    parser.add_argument("--launch", type=Path, required=True)
    sys.exit(_run_launch(parser.parse_args().launch))
