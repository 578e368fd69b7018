"""``agent2 mcp`` driven by the official ``mcp`` client, over stdio and over streamable HTTP (loopback)."""

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time

import httpx
import httpx2
import pytest
from conftest import ENV_FILE, IDENTITY_MDP, ROOT, agent2, cli_args, free_port, processes_naming
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tools.run_rules import AGENT_KEPT

TINY = {"env": "CartPole-v1", "budget_steps": 2000, "max_iterations": 1, "eval_episodes": 2}
TOOLS = {
    "list_tasks",
    "profile_env",
    "validate_mdp",
    "start_run",
    "run_status",
    "answer_review",
    "run_result",
    "evaluate_agent",
}


def _data(result) -> dict | list:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


async def _poll(client: Client, tid: str, until: tuple[str, ...], timeout: float = 300) -> tuple[dict, list[str]]:
    states = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = _data(await client.call_tool("run_status", {"thread_id": tid}))
        states.append(status["state"])
        if status["state"] in until:
            return status, states
        assert status["state"] != "failed", status
        await asyncio.sleep(1.0)
    pytest.fail(f"run {tid} did not reach {until} in {timeout} s: {states[-5:]}")


async def _run_to_the_end(client: Client) -> tuple[str, list[str]]:
    tid = _data(await client.call_tool("start_run", TINY))["thread_id"]
    _, states = await _poll(client, tid, ("finished",))
    return tid, states


def test_stdio_tools_profile_validate_run_and_result(tmp_path):
    params = StdioServerParameters(
        command=sys.executable, cwd=str(ROOT), args=["-m", "app.cli", "mcp", "--runs-dir", str(tmp_path / "runs")]
    )

    async def go():
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            tasks = _data(await client.call_tool("list_tasks", {}))["tasks"]
            profile = _data(await client.call_tool("profile_env", {"env": "CartPole-v1", "episodes": 2}))
            good = _data(
                await client.call_tool("validate_mdp", {"env": "CartPole-v1", "code": IDENTITY_MDP, "obs_dim": 4})
            )
            bad = _data(
                await client.call_tool(
                    "validate_mdp", {"env": "CartPole-v1", "obs_dim": 4, "code": "import os\n" + IDENTITY_MDP}
                )
            )
            unknown = await client.call_tool("profile_env", {"env": "NoSuchEnv-v0"})
            tid, states = await _run_to_the_end(client)
            result = _data(await client.call_tool("run_result", {"thread_id": tid}))
            report = await client.read_resource(f"agent2://runs/{tid}/report")
            played = _data(
                await client.call_tool("evaluate_agent", {"agent_dir": result["result"]["agent_dir"], "episodes": 2})
            )
            return names, tasks, profile, good, bad, unknown, tid, states, result, report, played

    names, tasks, profile, good, bad, unknown, tid, states, result, report, played = asyncio.run(go())
    assert names == TOOLS
    assert {"CartPole-v1", "Hopper-v5", "simple_spread_v3"} <= {t["name"] for t in tasks}
    assert profile["obs_dim"] == 4 and profile["action"]["kind"] == "discrete" and profile["episodes_profiled"] == 2
    assert good == {"valid": True, "error": None}
    assert bad["valid"] is False and "os" in bad["error"]
    assert unknown.is_error and "NoSuchEnv-v0" in unknown.content[0].text
    assert states[-1] == "finished"
    assert result["result"]["thread_id"] == tid and result["result"]["best"]["eval_episodes"] == 2
    assert result["report"].startswith("# Agent² report")
    assert report.contents[0].text == result["report"]
    assert played["episodes"] == 2 and len(played["returns"]) == 2
    assert (tmp_path / "runs" / tid / "run.log").exists()


def test_evaluate_agent_reports_progress_and_a_cancelled_call_stops_its_replay(tmp_path):
    """A long tool call sends progress notifications while it works (clients time out a silent call),
    and a client's cancellation kills the replay; the server goes on serving."""
    runs = tmp_path / "runs"
    trained = agent2(
        *cli_args(
            "run",
            env="CartPole-v1",
            budget_steps=2000,
            max_iterations=1,
            eval_episodes=2,
            runs_dir=runs,
            thread_id="a",
            no_progress=True,
        )
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    agent = runs / "a" / "agent"
    config = json.loads((agent / "config.json").read_text())
    config["job"]["env"] = f"{ENV_FILE}:slow_cartpole"  # the same spaces; every step takes 20 ms
    (agent / "config.json").write_text(json.dumps(config))
    params = StdioServerParameters(
        command=sys.executable, cwd=str(ROOT), args=["-m", "app.cli", "mcp", "--runs-dir", str(runs)]
    )

    async def go():
        async with Client(params) as client:
            events: list[tuple] = []

            async def note(progress, total, message):
                events.append((progress, message))

            played = _data(
                await client.call_tool(
                    "evaluate_agent", {"agent_dir": str(agent), "episodes": 8}, progress_callback=note
                )
            )
            started: list[float] = []

            async def first(progress, total, message):
                started.append(progress)

            call = asyncio.create_task(
                client.call_tool("evaluate_agent", {"agent_dir": str(agent), "episodes": 500}, progress_callback=first)
            )
            deadline = time.time() + 60
            while not (started and processes_naming(str(agent))) and time.time() < deadline:
                await asyncio.sleep(0.2)
            replaying = processes_naming(str(agent))
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call
            deadline = time.time() + 20
            while processes_naming(str(agent)) and time.time() < deadline:
                await asyncio.sleep(0.2)
            left = processes_naming(str(agent))
            tasks = _data(await client.call_tool("list_tasks", {}))["tasks"]
            return events, played, replaying, left, tasks

    events, played, replaying, left, tasks = asyncio.run(go())
    assert played["episodes"] == 8
    assert len(events) >= 2 and all("evaluate_agent" in m for _, m in events), events
    assert [p for p, _ in events] == sorted(p for p, _ in events)
    assert replaying, "the long replay never started"
    assert left == [], "the cancelled replay's processes are still running"
    assert tasks  # the server still answers


@pytest.fixture
def http_server(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "AGENT2_MCP_TOKEN"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "mcp",
            "--http",
            "--port",
            str(port),
            "--token",
            "s3cret",
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "mcp.log", "w"),
    )
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.time() + 60
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail("MCP HTTP server did not start: " + (tmp_path / "mcp.log").read_text()[-2000:])
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_http_with_token_runs_and_refuses_a_wrong_token(http_server):
    async def session(token: str):
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
        async with Client(streamable_http_client(http_server, http_client=http)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            tid = _data(await client.call_tool("start_run", {**TINY, "review": True}))["thread_id"]
            first, _ = await _poll(client, tid, ("waiting_for_review",))
            early = await client.call_tool("run_result", {"thread_id": tid})
            _data(await client.call_tool("answer_review", {"thread_id": tid, "action": "approve"}))
            second, _ = await _poll(client, tid, ("waiting_for_review",))
            _data(
                await client.call_tool("answer_review", {"thread_id": tid, "action": "edit", "changes": {"lr": 0.0025}})
            )
            await _poll(client, tid, ("finished",))
            result = await client.read_resource(f"agent2://runs/{tid}/result")
            return names, first, early, second, json.loads(result.contents[0].text)

    names, first, early, second, result = asyncio.run(session("s3cret"))
    assert names == TOOLS and result["status"] in AGENT_KEPT
    assert first["review"]["stage"] == "mdp" and "def reward" in first["review"]["proposal"]["code"]
    assert early.is_error and "no result yet" in early.content[0].text
    assert second["review"]["stage"] == "algorithm"
    assert result["iterations"][0]["hyperparameters"]["lr"] == 0.0025
    assert [(r["stage"], r["action"]) for r in result["reviews"]] == [("mdp", "approve"), ("algorithm", "edit")]
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer wrong"}):
        refused = httpx.post(http_server, json=init, headers={**headers, **auth}, timeout=10)
        assert refused.status_code == 401, (auth, refused.status_code, refused.text[:200])
    with pytest.raises(Exception):  # noqa: B017 - the client library raises whatever its transport does
        asyncio.run(session("wrong"))


def test_http_binds_loopback_by_default():
    from app.cli import build_parser

    args = build_parser().parse_args(["mcp", "--http"])
    assert args.host == "127.0.0.1" and args.token is None


def test_every_start_run_setting_reaches_the_run_through_the_service(tmp_path):
    """start_run hands typed settings to the service: the background process's launch file holds each
    one (the local executor's max_parallel, the LLM designer's settings), and a bad one is one line
    with nothing written."""
    import signal

    from app.mcp_server import build_server
    from app.service import LAUNCH, Launch

    runs = tmp_path / "runs"
    llm = {"model": "tiny-model", "base_url": "http://127.0.0.1:9/v1", "temperature": 0.1, "token_budget": 1234}

    async def go():
        async with Client(build_server(str(runs))) as client:
            bad = await client.call_tool("start_run", {**TINY, "llm": {"temperature": 9}})
            started = _data(
                await client.call_tool(
                    "start_run", {**TINY, "thread_id": "typed", "max_parallel": 3, "candidates": 2, "llm": llm}
                )
            )
            return bad, started

    bad, started = asyncio.run(go())
    assert bad.is_error and "temperature=9" in bad.content[0].text and "\n" not in bad.content[0].text.strip()
    assert started["thread_id"] == "typed"
    folder = runs / "typed"
    try:
        launch = Launch.model_validate_json((folder / LAUNCH).read_text())
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.killpg(int((folder / "run.pid").read_text()), signal.SIGKILL)
    assert launch.action == "start" and launch.request.env == "CartPole-v1" and launch.request.budget_steps == 2000
    ctx = launch.context
    assert (ctx.max_parallel, ctx.candidates, ctx.runs_dir) == (3, 2, str(runs.resolve()))
    assert ctx.llm.model_dump(exclude_unset=True) == llm
    assert sorted(p.name for p in runs.iterdir()) == ["typed"]  # the refused call wrote nothing
