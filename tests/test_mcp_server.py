"""``agent2 mcp`` driven by the official ``mcp`` client, over stdio and over streamable HTTP (loopback)."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import IDENTITY_MDP, ROOT

TINY = {"env": "CartPole-v1", "budget_steps": 2000, "max_iterations": 1, "eval_episodes": 2}
TOOLS = {"list_tasks", "profile_env", "validate_mdp", "start_run", "run_status", "run_result", "evaluate_agent"}


def _data(result) -> dict | list:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


async def _run_to_the_end(client: Client, timeout: float = 300) -> tuple[str, list[str]]:
    started = _data(await client.call_tool("start_run", TINY))
    tid, states = started["thread_id"], []
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = _data(await client.call_tool("run_status", {"thread_id": tid}))
        states.append(status["state"])
        if status["state"] in ("finished", "failed"):
            assert status["state"] == "finished", status
            return tid, states
        await asyncio.sleep(1.0)
    pytest.fail(f"run {tid} did not finish in {timeout} s: {states[-5:]}")


def test_stdio_tools_profile_validate_run_and_result(tmp_path):
    params = StdioServerParameters(command=sys.executable, cwd=str(ROOT),
                                   args=["-m", "graph.cli", "mcp", "--runs-dir", str(tmp_path / "runs")])

    async def go():
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            tasks = _data(await client.call_tool("list_tasks", {}))["tasks"]
            profile = _data(await client.call_tool("profile_env", {"env": "CartPole-v1", "episodes": 2}))
            good = _data(await client.call_tool("validate_mdp", {"env": "CartPole-v1", "code": IDENTITY_MDP,
                                                                 "obs_dim": 4}))
            bad = _data(await client.call_tool("validate_mdp", {"env": "CartPole-v1", "obs_dim": 4,
                                                                "code": "import os\n" + IDENTITY_MDP}))
            unknown = await client.call_tool("profile_env", {"env": "NoSuchEnv-v0"})
            tid, states = await _run_to_the_end(client)
            result = _data(await client.call_tool("run_result", {"thread_id": tid}))
            report = await client.read_resource(f"agent2://runs/{tid}/report")
            played = _data(await client.call_tool("evaluate_agent", {"agent_dir": result["result"]["agent_dir"],
                                                                      "episodes": 2}))
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "AGENT2_MCP_TOKEN"}
    proc = subprocess.Popen([sys.executable, "-m", "graph.cli", "mcp", "--http", "--port", str(port),
                             "--token", "s3cret", "--runs-dir", str(tmp_path / "runs")],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "mcp.log", "w"))
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
            tid, _ = await _run_to_the_end(client)
            result = await client.read_resource(f"agent2://runs/{tid}/result")
            return names, json.loads(result.contents[0].text)

    names, result = asyncio.run(session("s3cret"))
    assert names == TOOLS and result["status"] in ("budget_exhausted", "target_met")
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer wrong"}):
        refused = httpx.post(http_server, json=init, headers={**headers, **auth}, timeout=10)
        assert refused.status_code == 401, (auth, refused.status_code, refused.text[:200])
    with pytest.raises(Exception):
        asyncio.run(session("wrong"))


def test_http_binds_loopback_by_default():
    from graph.cli import build_parser

    args = build_parser().parse_args(["mcp", "--http"])
    assert args.host == "127.0.0.1" and args.token is None
