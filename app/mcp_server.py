"""The RL toolset over the Model Context Protocol (official ``mcp`` SDK): ``agent2 mcp [--http]``.

Tools call the same functions the generator's nodes call (``profile_env``, ``validate_mdp``, the
exported agent's evaluation); env code runs in a fresh process per call (an env that hangs or
crashes takes that process down, not the server; MetaDrive and MPE cannot share one process).
Runs start in the background (through ``app/service.py``) and are polled. The tools import what they
need inside their bodies: those run in fresh processes, which import this module and nothing more. The tools that may take long (profile_env,
validate_mdp, evaluate_agent) send MCP progress notifications every ``PROGRESS_EVERY_S`` seconds
while their process works (seconds elapsed, when the client asked for progress), and a client's
cancellation kills that process (with the training worker it started). Over HTTP the server binds 127.0.0.1 by default and,
with a token, refuses requests without ``Authorization: Bearer TOKEN`` (the SDK's bearer auth).
"""

from __future__ import annotations

import functools
import inspect
import json
import multiprocessing
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import anyio
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from envs.errors import Agent2Error
from tools.run_rules import (
    DEFAULT_CANDIDATES,
    DEFAULT_EVAL_EPISODES,
    DEFAULT_MAX_ITERATIONS,
    DEFAULT_PLAY_EPISODES,
    MAX_EVAL_EPISODES,
    MAX_SEED,
)

ENV_CALL_TIMEOUT_S = 600.0
MAX_PROFILE_EPISODES = 100
PROGRESS_EVERY_S = 1.0
"""Seconds between progress notifications of a long tool (clients time a silent call out after ~60 s)."""
POLL_S = 0.05

INSTRUCTIONS = """Agent² generates reinforcement-learning agents. list_tasks shows the built-in \
tasks; profile_env measures an env (spaces, random-play returns, reward sparsity); validate_mdp \
checks MDP code (observation/action/reward functions) in a sandbox; start_run starts a whole \
generation run in the background and returns its thread id; poll run_status until its state is \
finished (or failed), then read run_result; evaluate_agent replays an exported agent."""


def _child(conn, fn, args: tuple) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except (Agent2Error, ValidationError, ValueError) as e:
        conn.send(("user", str(e)))
    except BaseException:
        conn.send(("crash", traceback.format_exc(limit=5)))


async def _in_fresh_process(ctx: Context | None, what: str, fn, *args: Any) -> Any:
    """``fn(*args)`` in a new (spawned) process with a time limit, sending progress while it works.

    Cancellation (the client's ``notifications/cancelled``) and the time limit kill the process,
    and with it any worker it started (they die with their parent)."""
    mp = multiprocessing.get_context("spawn")
    receive, send = mp.Pipe(duplex=False)
    proc = mp.Process(target=_child, args=(send, fn, args), daemon=True)
    proc.start()
    send.close()
    start = last = time.monotonic()
    try:
        while not receive.poll():
            if not proc.is_alive() and not receive.poll():
                raise Agent2Error(f"{what} stopped without an answer (exit code {proc.exitcode})")
            now = time.monotonic()
            if now - start > ENV_CALL_TIMEOUT_S:
                raise Agent2Error(f"{what} took over {ENV_CALL_TIMEOUT_S:.0f} s and was stopped")
            if ctx is not None and now - last >= PROGRESS_EVERY_S:
                last = now
                await ctx.report_progress(round(now - start, 1), None, f"{what}: {now - start:.0f} s")
            await anyio.sleep(POLL_S)
        kind, value = receive.recv()
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=10)
        receive.close()
    if kind == "user":
        raise Agent2Error(value)
    if kind == "crash":
        raise RuntimeError(f"{what} failed:\n{value}")
    return value


def _user_errors(fn):
    """Bad input (an unknown env, a bad value) reaches the client as the tool's error message."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def awrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except (Agent2Error, ValidationError, ValueError) as e:
                raise ToolError(str(e)) from e

        return awrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (Agent2Error, ValidationError, ValueError) as e:
            raise ToolError(str(e)) from e

    return wrapper


def _in_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise Agent2Error(f"{name} must be {low} to {high}, got {value}")


def list_tasks() -> list[dict]:
    from envs.registry import BUILTIN_TASKS

    return [
        {
            "name": t.name,
            "family": t.family,
            "agents": t.agents,
            "target": t.target,
            "metric": t.metric,
            "budget_steps": t.budget_steps,
            "description": t.description,
        }
        for t in BUILTIN_TASKS.values()
    ]


def _profile(env: str, seed: int, episodes: int) -> dict:
    from envs.loading import canonical_ref
    from tools.profiling import profile_env

    profile = profile_env(canonical_ref(env), seed=seed, episodes=episodes)
    return profile.model_dump(exclude={"source"}) | {"source_chars": len(profile.source)}


def _validate(env: str, code: str, obs_dim: int) -> dict:
    from envs.loading import canonical_ref
    from tools.mdp_check import validate_mdp
    from tools.schemas import MDPDesign

    design = MDPDesign(code=code, obs_dim=obs_dim, summary="submitted over MCP")
    with tempfile.TemporaryDirectory(prefix="agent2-mcp-") as work:
        error = validate_mdp(canonical_ref(env), design, Path(work))
    return {"valid": error is None, "error": error}


def _evaluate(agent_dir: str, episodes: int, seed: int | None) -> dict:
    from tools.agent_io import play

    if not Path(agent_dir).is_dir():
        raise Agent2Error(f"agent folder {agent_dir!r} does not exist")
    result = play(Path(agent_dir), episodes, seed=seed)
    return result.model_dump(exclude={"wall_seconds"})


def build_server(
    runs_dir: str, token: str | None = None, host: str = "127.0.0.1", port: int = 8765, confine_to_runs: bool = False
) -> MCPServer:
    """The server; ``confine_to_runs`` (HTTP): folders a client names must lie inside ``runs_dir``."""
    # the service (and the graph under it) loads here, not at import: the tools' fresh processes import
    # this module and need none of it
    from app import service
    from nodes.designers.llm_config import LLMSettings
    from nodes.state import RunContext, RunRequest
    from tools.run_folders import confine
    from tools.schemas import ReviewAnswer

    auth: dict[str, Any] = {}
    if token:

        class _StaticToken:
            async def verify_token(self, presented: str) -> AccessToken | None:
                return AccessToken(token=presented, client_id="agent2", scopes=[]) if presented == token else None

        url = f"http://{host}:{port}"
        auth = {
            "token_verifier": _StaticToken(),
            "auth": AuthSettings(issuer_url=url, resource_server_url=f"{url}/mcp"),
        }
    server = MCPServer("agent2", instructions=INSTRUCTIONS, version="0.1.0", **auth)

    @server.tool(name="list_tasks")
    @_user_errors
    def list_tasks_tool() -> dict:
        """The built-in tasks: name (use as env), family, agents, target and its metric, default budget."""
        return {"tasks": list_tasks()}

    @server.tool()
    @_user_errors
    async def profile_env(env: str, seed: int = 0, episodes: int = 5, ctx: Context | None = None) -> dict:
        """Measure an env with random play: spaces, observation statistics, returns, reward sparsity.

        env: built-in task, Gymnasium id, or path/to/file.py:factory. Sends progress while it works."""
        _in_range("seed", seed, 0, MAX_SEED)
        _in_range("episodes", episodes, 1, MAX_PROFILE_EPISODES)
        return await _in_fresh_process(ctx, "profile_env", _profile, env, seed, episodes)

    @server.tool()
    @_user_errors
    async def validate_mdp(env: str, code: str, obs_dim: int, ctx: Context | None = None) -> dict:
        """Check MDP code (observation(obs), action(act), reward(obs, action, next_obs, reward, info);
        numpy and math only) statically and by a short rollout in a sandbox. Returns valid and error."""
        return await _in_fresh_process(ctx, "validate_mdp", _validate, env, code, obs_dim)

    @server.tool()
    @_user_errors
    def start_run(
        env: str,
        task: str | None = None,
        target: float | None = None,
        budget_steps: int | None = None,
        max_iterations: int = DEFAULT_MAX_ITERATIONS,
        seed: int = 0,
        eval_episodes: int = DEFAULT_EVAL_EPISODES,
        designer: str | None = None,
        thread_id: str | None = None,
        review: bool = False,
        candidates: int = DEFAULT_CANDIDATES,
        executor: str = "local",
        ray_address: str | None = None,
        max_parallel: int | None = None,
        llm: dict[str, Any] | None = None,
    ) -> dict:
        """Start a generation run in the background; returns its thread id at once (poll run_status).

        Unset fields take the built-in task's values. designer: expert (offline) or llm; llm: the LLM
        designer's settings (model, base_url, temperature, method, timeout, retries, token_budget; the
        key stays in the server's environment). review: the run waits after each MDP design and
        algorithm choice (run_status shows the proposal) until answer_review is called. candidates:
        designs trained side by side per iteration (1-64), on executor local (this machine, at most
        max_parallel at once) or ray (the Ray cluster at ray_address)."""
        request = service.typed(
            RunRequest,
            env=env,
            task=task,
            target=target,
            budget_steps=budget_steps,
            max_iterations=max_iterations,
            seed=seed,
            eval_episodes=eval_episodes,
        )
        context = service.typed(
            RunContext,
            designer=designer,
            llm=service.typed(LLMSettings, **llm) if llm else None,
            review=review,
            runs_dir=runs_dir,
            candidates=candidates,
            executor=executor,
            ray_address=ray_address,
            max_parallel=max_parallel,
        )
        tid = service.start_in_background(request, context, thread_id)
        return {"thread_id": tid, "runs_dir": runs_dir, "started_at": time.time()}

    @server.tool(name="run_status")
    @_user_errors
    def run_status_tool(thread_id: str) -> dict:
        """A run's state (starting, running, waiting_for_review, finished, failed), iteration, env steps
        used of the budget, best evaluation so far and the latest training progress event."""
        return service.status(thread_id, runs_dir)

    @server.tool(name="answer_review")
    @_user_errors
    def answer_review_tool(
        thread_id: str, action: str, changes: dict[str, Any] | None = None, feedback: str = ""
    ) -> dict:
        """Answer a run's pending review (see run_status): action approve, edit (changes: fields of the
        proposal, e.g. {"lr": 0.001} or {"code": "..."}) or reject (feedback for the designer)."""
        answer = ReviewAnswer.model_validate({"action": action, "changes": changes or {}, "feedback": feedback})
        service.answer_in_background(thread_id, runs_dir, answer)
        return {"thread_id": thread_id, "answered": answer.action}

    @server.tool(name="run_result")
    @_user_errors
    def run_result_tool(thread_id: str) -> dict:
        """A finished run's result (best iteration, score, every iteration's design) and its report."""
        return service.result(thread_id, runs_dir)

    @server.tool()
    @_user_errors
    async def evaluate_agent(
        agent_dir: str, episodes: int = DEFAULT_PLAY_EPISODES, seed: int | None = None, ctx: Context | None = None
    ) -> dict:
        """Replay an exported agent (a run's agent folder) deterministically on the original reward.
        Sends progress while it works; a cancellation stops the replay. ``seed``: the first env's
        (default: envs its run never trained, tested or evaluated on)."""
        _in_range("episodes", episodes, 1, MAX_EVAL_EPISODES)
        if seed is not None:
            _in_range("seed", seed, 0, MAX_SEED)
        if confine_to_runs:
            agent_dir = str(confine(agent_dir, Path(runs_dir).resolve(), what="agent_dir"))
        return await _in_fresh_process(ctx, "evaluate_agent", _evaluate, agent_dir, episodes, seed)

    @server.resource(
        "agent2://runs/{thread_id}/report", mime_type="text/markdown", description="A finished run's report (Markdown)."
    )
    def report(thread_id: str) -> str:
        return service.result(thread_id, runs_dir)["report"]

    @server.resource(
        "agent2://runs/{thread_id}/result", mime_type="application/json", description="A finished run's result.json."
    )
    def result(thread_id: str) -> str:
        return json.dumps(service.result(thread_id, runs_dir)["result"], indent=1)

    return server


def serve(
    runs_dir: str, http: bool = False, host: str = "127.0.0.1", port: int = 8765, token: str | None = None
) -> None:
    server = build_server(runs_dir, token=token, host=host, port=port, confine_to_runs=http)
    if not http:
        server.run("stdio")
        return
    server.run("streamable-http", host=host, port=port)
