"""The ``agent2`` command line: run, resume, fork, runs, show, play, export, tasks, setup, doctor, mcp.

Each command imports what it needs inside its function: ``agent2 --help`` and a bad flag answer at
once, without loading torch, Tianshou, LangGraph or gymnasium (seconds on a cold start)."""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from envs.errors import Agent2Error
from tools.run_folders import check_thread_id
from tools.run_rules import (
    AGENT_KEPT,
    DEFAULT_CANDIDATES,
    DEFAULT_EVAL_EPISODES,
    DEFAULT_MAX_ITERATIONS,
    DEFAULT_PLAY_EPISODES,
    MAX_BUDGET_STEPS,
    MAX_CANDIDATES,
    MAX_EVAL_EPISODES,
    MAX_ITERATIONS,
    MAX_SEED,
    PLAY_SEED_OFFSET,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        self.exit(2, f"agent2: error: {message} (see '{self.prog} --help')\n")


def _int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``; the error names the bad value."""
    wanted = ("a positive integer" if low == 1 else f"an integer >= {low}") + (f" up to {high}" if high else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    return parse


_positive_int = _int_in(1)
_seed = _int_in(0, MAX_SEED)


def _path(text: str) -> str:
    """An argparse type for a path a user gives: not empty, no NUL byte (the OS cannot name such a file)."""
    if not text.strip() or "\x00" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a usable path")
    return text


def _thread_id(text: str) -> str:
    try:
        return check_thread_id(text)
    except Agent2Error as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from nodes.designers import DESIGNERS
    from nodes.intake import DEFAULT_RUNS_DIR, default_designer

    p = _Parser(prog="agent2", description="Agent²: generate, train, judge and export an RL agent.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="generate and train an agent for a task")
    run.add_argument("--env", required=True, help="built-in task, Gymnasium id, or path/to/file.py:Factory")
    run.add_argument("--task", help="the task in plain language (default: the built-in description)")
    run.add_argument("--target", type=_finite_float, help="mean evaluation return that counts as solved")
    run.add_argument("--budget-steps", type=_int_in(1, MAX_BUDGET_STEPS), help="env steps for the whole run")
    run.add_argument("--max-iterations", type=_int_in(1, MAX_ITERATIONS), default=DEFAULT_MAX_ITERATIONS)
    run.add_argument("--eval-episodes", type=_int_in(1, MAX_EVAL_EPISODES), default=DEFAULT_EVAL_EPISODES)
    run.add_argument("--seed", type=_seed, default=0, help=f"0 to {MAX_SEED} (default 0)")
    run.add_argument(
        "--thread-id", type=_thread_id, help="name of the run: letters, digits, '.', '_', '-' (default: env and time)"
    )
    run.add_argument("--runs-dir", type=_path, default=DEFAULT_RUNS_DIR)
    run.add_argument("--designer", choices=DESIGNERS, default=default_designer())
    run.add_argument(
        "--review", action="store_true", help="stop for your review after each MDP design and algorithm choice"
    )
    par = run.add_argument_group("parallel candidates")
    par.add_argument(
        "--candidates",
        type=_int_in(1, MAX_CANDIDATES),
        default=DEFAULT_CANDIDATES,
        metavar="K",
        help="designs trained side by side each iteration, the best kept "
        f"(default {DEFAULT_CANDIDATES}, at most {MAX_CANDIDATES})",
    )
    par.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local worker processes (default) or an existing Ray cluster",
    )
    par.add_argument(
        "--ray-address",
        help="Ray cluster to join, e.g. ray://head:10001 (default: $RAY_ADDRESS, else a Ray started on this machine)",
    )
    par.add_argument(
        "--max-parallel",
        type=_int_in(1, MAX_CANDIDATES),
        help="local executor: most candidates training at once (default: the CPU count)",
    )
    _llm_flags(run)
    _run_flags(run)

    res = sub.add_parser("resume", help="continue an interrupted run, or answer its pending review")
    res.add_argument("thread_id", type=_thread_id)
    res.add_argument("--runs-dir", type=_path, default=DEFAULT_RUNS_DIR)
    res.add_argument(
        "--restart-iteration",
        action="store_true",
        help="when the current iteration's checkpoint no longer fits its job (Agent² was updated, "
        "or the job changed), train that iteration again from the start",
    )
    _run_flags(res)
    ans = res.add_argument_group("answer to a pending review (without one: the prompt, on a terminal)")
    ans.add_argument("--approve", action="store_true", help="keep the proposal")
    ans.add_argument(
        "--edit",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a field of the proposal (repeatable), e.g. lr=0.001, algorithm=PPO",
    )
    ans.add_argument(
        "--edit-code", type=_path, metavar="FILE.py", help="replace the proposed MDP code with this file's"
    )
    ans.add_argument("--reject", metavar="FEEDBACK", help="ask the designer for another proposal")
    ans.add_argument(
        "--answer",
        metavar="JSON",
        help="the whole answer as JSON, as the server takes it: "
        '{"action": "approve"|"edit"|"reject", "changes": {...}, "feedback": "..."}',
    )

    fork = sub.add_parser("fork", help="start a new run from an iteration of another (after its MDP design)")
    fork.add_argument("thread_id", type=_thread_id)
    fork.add_argument(
        "--iteration",
        type=_int_in(1, MAX_ITERATIONS),
        required=True,
        help="the iteration whose MDP design the new run starts from",
    )
    fork.add_argument(
        "--thread-id", dest="new_thread_id", type=_thread_id, help="name of the new run (default: THREAD-fork-K)"
    )
    fork.add_argument("--runs-dir", type=_path, default=DEFAULT_RUNS_DIR)
    fork.add_argument("--review", action="store_true", help="review the designs in the new run")
    fork.add_argument("--no-start", action="store_true", help="create the new thread without running it")
    _run_flags(fork)

    mcp = sub.add_parser("mcp", help="serve the RL toolset over the Model Context Protocol")
    mcp.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="HTTP: address to bind (default 127.0.0.1)")
    mcp.add_argument("--port", type=_int_in(1, 65535), default=8765, help="HTTP: port (default 8765)")
    mcp.add_argument("--token", help="HTTP: require 'Authorization: Bearer TOKEN' ($AGENT2_MCP_TOKEN)")
    mcp.add_argument("--runs-dir", type=_path, default=DEFAULT_RUNS_DIR)
    _checkpointer_flag(mcp)

    runs = sub.add_parser("runs", help="table of runs")
    runs.add_argument("--runs-dir", type=_path, default=DEFAULT_RUNS_DIR)
    _checkpointer_flag(runs)

    show = sub.add_parser("show", help="the iterations of one run, each one's candidates and why the winner won")
    show.add_argument("thread_id", type=_thread_id)
    show.add_argument("--runs-dir", type=_path, default=DEFAULT_RUNS_DIR)
    _checkpointer_flag(show)

    play = sub.add_parser("play", help="run an exported agent")
    play.add_argument("agent_dir", type=_path)
    play.add_argument("--episodes", type=_int_in(1, MAX_EVAL_EPISODES), default=DEFAULT_PLAY_EPISODES)
    play.add_argument(
        "--seed",
        type=_seed,
        help=f"first env seed (default: the agent's training seed + {PLAY_SEED_OFFSET}, envs its run never used)",
    )
    _device_flag(play)

    export = sub.add_parser("export", help="write an exported agent as a standalone policy (numpy + torch only)")
    export.add_argument("agent_dir", type=_path)
    export.add_argument(
        "--format",
        choices=["torchscript", "onnx"],
        default="torchscript",
        help="the network as TorchScript (policy.py then needs torch) or ONNX (onnxruntime)",
    )

    sub.add_parser("tasks", help="built-in tasks")

    setup = sub.add_parser("setup", help="prepare an optional simulator")
    setup.add_argument("simulator", choices=["metadrive"])
    setup.add_argument(
        "--state-only",
        action="store_true",
        help="offline: prepare what state (lidar) observations need, without MetaDrive's "
        "asset download (camera observations still need 'python -m metadrive.pull_asset')",
    )

    doctor = sub.add_parser("doctor", help="check the model endpoint the LLM designer would use")
    _llm_flags(doctor)
    return p


def _run_flags(p: argparse.ArgumentParser) -> None:
    """The flags of the commands that run the graph here (run, resume, fork)."""
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _device_flag(p)
    _checkpointer_flag(p)


def _checkpointer_flag(p: argparse.ArgumentParser) -> None:
    from graph.checkpointers import CHECKPOINTER_ENV

    p.add_argument(
        "--checkpointer",
        metavar="URL",
        help=f"where run state lives: a file, sqlite:///path or "
        f"postgresql://user:password@host:port/db (default: ${CHECKPOINTER_ENV}, else "
        f"RUNS_DIR/checkpoints.sqlite)",
    )


def _device_flag(p: argparse.ArgumentParser) -> None:
    from tools.devices import CHOICES, DEVICE_ENV

    p.add_argument(
        "--device",
        choices=CHOICES,
        help=f"where networks train and act: auto (a CUDA GPU when torch "
        f"sees one), cpu or cuda (default: ${DEVICE_ENV}, else auto)",
    )


def _llm_flags(p: argparse.ArgumentParser) -> None:
    from nodes.designers.llm_config import MAX_RETRIES, METHODS

    g = p.add_argument_group("LLM designer (flags win over AGENT2_*/OPENAI_* environment variables)")
    g.add_argument("--model", help="model name ($AGENT2_MODEL)")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint ($OPENAI_BASE_URL); key from $OPENAI_API_KEY")
    g.add_argument("--temperature", type=_finite_float, help="($AGENT2_TEMPERATURE, default 0.6)")
    g.add_argument("--structured-method", choices=METHODS, help="($AGENT2_STRUCTURED_METHOD, default json_schema)")
    g.add_argument("--llm-timeout", type=_finite_float, help="seconds per request ($AGENT2_TIMEOUT)")
    g.add_argument(
        "--llm-retries", type=_int_in(0, MAX_RETRIES), help="re-asks and HTTP retries ($AGENT2_RETRIES, default 3)"
    )
    g.add_argument("--token-budget", type=_positive_int, help="tokens per run ($AGENT2_TOKEN_BUDGET)")


def llm_settings(args: argparse.Namespace):
    from pydantic import ValidationError

    from nodes.designers.llm_config import LLMSettings

    try:
        return LLMSettings.from_env(
            model=args.model,
            base_url=args.base_url,
            temperature=args.temperature,
            method=args.structured_method,
            timeout=args.llm_timeout,
            retries=args.llm_retries,
            token_budget=args.token_budget,
        )
    except ValidationError as e:
        err = e.errors()[0]
        raise Agent2Error(
            f"invalid LLM setting {'.'.join(map(str, err['loc']))}={err.get('input')!r}: {err['msg']}"
        ) from None


def _summary(values: dict, thread_id: str) -> int:
    from app.service import summary_lines

    print("\n".join(summary_lines(values, thread_id)))
    return 0 if values.get("status") in AGENT_KEPT else 1


def _drive(step: Callable, thread_id: str, runs_dir: str, progress: bool) -> int:
    """Run ``step(on_event=…)`` (start or continue a thread) with its progress bars unless ``progress``
    is off, answer its reviews, print the summary; Ctrl-C keeps the run."""
    from tools import sandbox

    try:
        isolated = sandbox.bwrap_path() is not None
    except sandbox.SandboxUnavailableError:
        isolated = True  # AGENT2_SANDBOX=bwrap without bubblewrap: the run says so when it starts code
    if not isolated:  # said before any generated code runs, not buried in a log
        print(f"warning: generated code is not isolated here ({sandbox.guards()})", file=sys.stderr)
    try:
        return _settle(_streamed(step, progress), thread_id, runs_dir, progress)
    except KeyboardInterrupt:
        print(
            f"\nagent2: interrupted; continue with 'agent2 resume {thread_id} --runs-dir {runs_dir}'", file=sys.stderr
        )
        return 130


def _streamed(step: Callable, progress: bool) -> dict:
    """``step(on_event=…)`` with the run's training drawn as bars (``app/progress.py``), or without."""
    from app.progress import ProgressBars

    if not progress:
        return step(on_event=None)
    with ProgressBars() as bars:
        return step(on_event=bars)


def _settle(values: dict, thread_id: str, runs_dir: str, progress: bool = False) -> int:
    """Answer pending reviews at the terminal until the run ends; without a terminal, say how to answer."""
    from app import service
    from app.review_prompt import WAITING

    while values.get("__interrupt__"):
        answer = _ask(values["__interrupt__"][0], thread_id, runs_dir)
        if answer is None:
            return WAITING
        values = _streamed(functools.partial(service.resume, thread_id, runs_dir, answer), progress)
    return _summary(values, thread_id)


def _ask(payload: dict, thread_id: str, runs_dir: str):
    """The answer to a pending review from the terminal, or None (no terminal, or Ctrl-D / Ctrl-C at the
    prompt: the review stays pending, and how to answer it later is printed)."""
    from rich.console import Console

    from app.review_prompt import ask_review, how_to_answer, show_review

    show_review(payload, Console(file=sys.stderr, width=None if sys.stderr.isatty() else 120))
    if sys.stdin.isatty():
        try:
            return ask_review(payload)
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
    print(
        f"thread:  {thread_id}\nstatus:  waiting for review of the {payload['stage']} "
        f"(iteration {payload['iteration']})\n{how_to_answer(thread_id, runs_dir)}"
    )
    return None


def cmd_run(args: argparse.Namespace) -> int:
    from app import service
    from envs.loading import metric_name
    from nodes.state import RunContext, RunRequest
    from tools.run_folders import ThreadBusyError

    request = service.typed(
        RunRequest,
        env=args.env,
        task=args.task,
        target=args.target,
        budget_steps=args.budget_steps,
        max_iterations=args.max_iterations,
        seed=args.seed,
        eval_episodes=args.eval_episodes,
    )
    context = service.typed(
        RunContext,
        designer=args.designer,
        runs_dir=args.runs_dir,
        review=True if args.review else None,
        llm=llm_settings(args) if args.designer == "llm" else None,
        candidates=args.candidates,
        executor=args.executor,
        ray_address=args.ray_address,
        max_parallel=args.max_parallel,
    )
    request, thread_id = service.check_new_run(request, context, args.thread_id)  # every check before writing
    task = service.probe(request, context)
    print(
        f"agent2: run {thread_id}: {task.env}, target {task.target} ({metric_name(task.env)}), "
        f"budget {task.budget_steps} steps, designer {args.designer}",
        file=sys.stderr,
    )
    try:
        go = lambda on_event: service.start(request, context, thread_id, on_event)  # noqa: E731
        return _drive(go, thread_id, args.runs_dir, not args.no_progress)
    except ThreadBusyError:
        raise
    except Agent2Error as e:
        raise Agent2Error(f"{e}; the run is saved: 'agent2 resume {thread_id} --runs-dir {args.runs_dir}'") from e


def cmd_resume(args: argparse.Namespace) -> int:
    from app import service
    from app.review_prompt import answer_from_flags

    answer = answer_from_flags(args.approve, args.reject, args.edit, args.edit_code, args.answer)
    restart = args.restart_iteration
    go = lambda on_event: service.resume(args.thread_id, args.runs_dir, answer, restart, on_event)  # noqa: E731
    return _drive(go, args.thread_id, args.runs_dir, not args.no_progress)


def cmd_fork(args: argparse.Namespace) -> int:
    from app import service

    new_id = args.new_thread_id or f"{args.thread_id}-fork-{args.iteration}"
    service.fork(args.thread_id, args.iteration, new_id, args.runs_dir, review=True if args.review else None)
    print(f"agent2: forked {args.thread_id} at iteration {args.iteration} into {new_id}", file=sys.stderr)
    if args.no_start:
        print(f"thread:  {new_id}\nstart:   agent2 resume {new_id} --runs-dir {args.runs_dir}")
        return 0
    go = lambda on_event: service.resume(new_id, args.runs_dir, on_event=on_event)  # noqa: E731
    return _drive(go, new_id, args.runs_dir, not args.no_progress)


def cmd_mcp(args: argparse.Namespace) -> int:
    import os

    from app.mcp_server import serve

    serve(
        runs_dir=str(Path(args.runs_dir).resolve()),
        http=args.http,
        host=args.host,
        port=args.port,
        token=args.token or os.environ.get("AGENT2_MCP_TOKEN"),
    )
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from tools.run_store import recorded_runs

    runs = recorded_runs(args.runs_dir)
    if runs is None:
        print(f"no runs in {args.runs_dir!r} (start one with 'agent2 run --env ENV')")
        return 0
    table = Table("thread", "env", "status", "best", "iters", "steps", "time (s)")
    for r in runs:
        best = "—" if r.get("best_score") is None else f"{r['best_score']:.1f}"
        wall = "—" if r.get("wall_seconds") is None else f"{r['wall_seconds']:.0f}"
        table.add_row(
            r["thread_id"],
            r.get("env") or "",
            r.get("status") or "",
            best,
            str(r.get("iterations") or 0),
            str(r.get("env_steps") or 0),
            wall,
        )
    Console(width=160).print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from app import service
    from envs.loading import metric_name
    from tools.run_store import RunStore

    state = service.state(args.thread_id, args.runs_dir)
    values = state["values"]
    task = values.get("spec")
    console = Console(width=200)
    if task is not None:
        console.print(f"[bold]{args.thread_id}[/]: {task.env} — {task.text}")
        try:
            metric = f" ({metric_name(task.env)})"
        except Agent2Error:  # the env (a user file) is gone; the record is still worth showing
            metric = ""
        console.print(
            f"target {task.target}{metric}, budget {task.budget_steps} steps, status "
            f"{values.get('status', 'unknown')}, next: {', '.join(state['next']) or 'done'}"
        )
        if state["interrupts"]:
            from app.review_prompt import how_to_answer

            pending = state["interrupts"][0]
            console.print(
                f"[bold]waiting for review[/] of the {pending['stage']} (iteration "
                f"{pending['iteration']}): {pending['summary']}; " + how_to_answer(args.thread_id, args.runs_dir)
            )
    table = Table("#", "MDP design", "algorithm", "hyper-parameters", "steps", "eval", "verdict", "fix", "reason")
    records = RunStore(args.runs_dir, args.thread_id)
    for r in records.iterations():
        cfg = json.loads(r["config"])
        hp = f"lr={cfg['lr']:.3g} γ={cfg['gamma']:.4g} net={cfg['hidden_sizes']} envs={cfg['n_train_envs']}"
        ev = "—" if r.get("eval_mean") is None else f"{r['eval_mean']:.1f} ± {r['eval_std'] or 0:.1f}"
        table.add_row(
            str(r["iteration"]),
            r["mdp_summary"],
            r["algorithm"],
            hp,
            str(r["env_steps"]),
            ev,
            r["verdict"],
            r.get("fix_kind") or "",
            r["reason"],
        )
    console.print(table)
    candidates = records.candidates()
    if candidates:
        ranks = Table("#", "place", "candidate", "algorithm", "steps", "stop", "eval", "why", title="candidates")
        place: dict[int, int] = {}
        for c in candidates:
            place[c["iteration"]] = place.get(c["iteration"], 0) + 1
            ev = "—" if c.get("eval_mean") is None else f"{c['eval_mean']:.1f} ± {c['eval_std'] or 0:.1f}"
            ranks.add_row(
                str(c["iteration"]),
                str(place[c["iteration"]]),
                f"#{c['candidate']} {c['label']}",
                c["algorithm"],
                str(c["env_steps"]),
                c["stop_reason"],
                ev,
                c["note"],
            )
        console.print(ranks)
    usage = records.llm_usage()
    if usage:
        llm = Table("node", "LLM calls", "invalid answers", "prompt tokens", "completion tokens")
        for u in usage:
            llm.add_row(
                u["node"], str(u["calls"]), str(u["invalid"]), str(u["prompt_tokens"]), str(u["completion_tokens"])
            )
        console.print(llm)
    if values.get("agent_dir"):
        console.print(f"agent: {values['agent_dir']}")
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from tools.agent_io import play

    agent_dir = Path(args.agent_dir)
    if not agent_dir.is_dir():
        raise Agent2Error(f"agent folder {args.agent_dir!r} does not exist")
    result = play(agent_dir, args.episodes, seed=args.seed)
    if result.agents > 1:
        print(
            f"mean per-agent return {result.mean:.1f} ± {result.std:.1f} over {result.episodes} episodes "
            f"× {result.agents} agents (mean length {result.mean_length:.0f})"
        )
        return 0
    for i, ret in enumerate(result.returns, 1):
        print(f"episode {i}: return {ret:.1f}")
    print(
        f"mean {result.mean:.1f} ± {result.std:.1f} over {result.episodes} episodes "
        f"(mean length {result.mean_length:.0f})"
    )
    for key, value in result.metrics.items():
        print(f"{key}: {value:.2f}")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from envs.registry import BUILTIN_TASKS
    from envs.task_spaces import task_spaces

    spaces = task_spaces(list(BUILTIN_TASKS.values()))
    table = Table("name", "family", "agents", "observation", "action", "target", "budget", "description")
    for t in BUILTIN_TASKS.values():
        obs, act = spaces[t.name]
        target = f"{t.target:g} " + ("win rate" if "win rate" in t.metric else "per agent" if t.multi_agent else "")
        table.add_row(t.name, t.family, str(t.agents), obs, act, target.strip(), str(t.budget_steps), t.description)
    Console(width=200).print(table)
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from envs.metadrive_env import assets_ready, prepare_state_only

    if assets_ready():
        print("metadrive: assets present; nothing to do")
        return 0
    if not args.state_only:
        raise Agent2Error(
            "metadrive: assets are missing; with a network run 'python -m metadrive.pull_asset', "
            "offline run 'agent2 setup metadrive --state-only'"
        )
    folder = prepare_state_only()
    print(
        f"metadrive: prepared state-only assets in {folder} (camera observations and rendering need "
        "'python -m metadrive.pull_asset')"
    )
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from nodes.designers.llm_doctor import check_endpoint

    settings = llm_settings(args)
    ok = True
    for line, good in check_endpoint(settings):
        print(("ok    " if good else "FAIL  ") + line)
        ok = ok and good
    return 0 if ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    from tools.standalone import export

    out = export(Path(args.agent_dir), args.format)
    print(
        f"standalone policy: {out}\nuse:   cd {out} && python -c 'from policy import Policy; print(Policy().act(OBS))'"
    )
    return 0


COMMANDS = {
    "doctor": cmd_doctor,
    "export": cmd_export,
    "run": cmd_run,
    "resume": cmd_resume,
    "fork": cmd_fork,
    "runs": cmd_runs,
    "show": cmd_show,
    "play": cmd_play,
    "tasks": cmd_tasks,
    "setup": cmd_setup,
    "mcp": cmd_mcp,
}


def main(argv: list[str] | None = None) -> int:
    # JAX (SMAX) warns on every fork; our forks exec a fresh worker at once, which is safe
    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "checkpointer"):  # fail fast on a malformed or refused URL, before anything is written
            from graph import checkpointers

            url = checkpointers.check(args.checkpointer or checkpointers.configured())
            if url:
                checkpointers.probe(url)
                os.environ[checkpointers.CHECKPOINTER_ENV] = url  # background runs and workers inherit it
        if hasattr(args, "device"):  # run, resume, fork, play: fail fast on a bad device or no GPU
            from tools.devices import DEVICE_ENV, check

            os.environ[DEVICE_ENV] = check(args.device)  # the workers read it
        return COMMANDS[args.command](args)
    except Agent2Error as e:
        print(f"agent2: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the file system refuses (too long, no permission, ...): name it
        where = f" {e.filename!r}" if e.filename else ""
        print(f"agent2: error: {e.strerror or e}:{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
