"""The app under ``langgraph dev`` (the LangGraph API server), driven with ``langgraph-sdk`` on loopback."""

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, free_port

from tools.run_rules import AGENT_KEPT

pytest.importorskip("langgraph_api", reason="langgraph-cli[inmem] is part of 'make setup'")
from langgraph_sdk import get_client

TINY = {"env": "CartPole-v1", "budget_steps": 2000, "max_iterations": 1, "eval_episodes": 2}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from _dev_server(tmp_path_factory, {})


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    """The server hardened as langgraph-checkpoint 4.x documents: only allow-listed types deserialize."""
    yield from _dev_server(tmp_path_factory, {"LANGGRAPH_STRICT_MSGPACK": "true"})


def _dev_server(tmp_path_factory, extra_env: dict):
    """``langgraph dev`` on a free loopback port, run from a scratch folder with the repo's langgraph.json."""
    work = tmp_path_factory.mktemp("lgdev")
    port = free_port()
    exe = Path(sys.executable).with_name("langgraph")
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "LANGSMITH_TRACING": "false",
        "AGENT2_RUNS_DIR": str(work / "runs"),
        "AGENT2_DESIGNER": "expert",
        **extra_env,
    }
    env.pop("OPENAI_API_KEY", None)
    log = open(work / "server.log", "w")
    proc = subprocess.Popen(
        [
            str(exe),
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--config",
            str(ROOT / "langgraph.json"),
        ],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("langgraph dev did not start:\n" + (work / "server.log").read_text()[-3000:])
        time.sleep(0.5)
    yield {"url": url, "runs": work / "runs", "log": work / "server.log"}
    os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
    log.close()
    shutil.rmtree(work / ".langgraph_api", ignore_errors=True)


async def _stream(client, thread_id: str, **kwargs) -> list:
    return [part async for part in client.runs.stream(thread_id, "agent2", stream_mode=["updates", "custom"], **kwargs)]


def test_schemas_give_studio_a_clean_form(server):
    async def go():
        client = get_client(url=server["url"])
        (assistant,) = await client.assistants.search(graph_id="agent2")
        return await client.assistants.get_schemas(assistant["assistant_id"])

    schemas = asyncio.run(go())
    fields = schemas["input_schema"]["properties"]
    assert {"env", "task", "target", "budget_steps", "max_iterations", "seed", "eval_episodes"} == set(fields)
    assert schemas["input_schema"]["required"] == ["env"]
    assert all(f.get("description") for f in fields.values())
    assert {"status", "summary", "agent_dir", "history"} <= set(schemas["output_schema"]["properties"])
    assert {"designer", "llm", "review", "runs_dir"} <= set(schemas["context_schema"]["properties"])


def test_tiny_run_streams_to_the_end(server):
    async def go():
        client = get_client(url=server["url"])
        thread = await client.threads.create()
        parts = await _stream(client, thread["thread_id"], input=TINY)
        state = await client.threads.get_state(thread["thread_id"])
        return parts, state

    parts, state = asyncio.run(go())
    errors = [p.data for p in parts if p.event == "error"]
    assert not errors, errors
    nodes = [name for p in parts if p.event == "updates" for name in p.data]
    assert nodes[:3] == ["intake", "analyze_task", "design_mdp"]
    assert {"review_mdp", "select_algorithm", "train", "evaluate", "critic", "export"} <= set(nodes)
    training = [p.data for p in parts if p.event == "custom" and p.data.get("type") == "training"]
    assert any(e["kind"] == "test" for e in training) and all(e["iteration"] == 1 for e in training)
    steps = {p.data["node"]: p.data["text"] for p in parts if p.event == "custom" and p.data.get("type") == "step"}
    assert set(steps) == {"analyze_task", "design_mdp", "select_algorithm", "evaluate", "critic", "export"}
    assert steps["select_algorithm"].startswith("PPO") and "episodes" in steps["evaluate"]
    values = state["values"]
    assert values["status"] in AGENT_KEPT
    assert values["summary"]["best"]["eval_episodes"] == 2 and values["summary"]["env"] == "CartPole-v1"
    assert Path(values["summary"]["report"]).is_file() and Path(values["agent_dir"], "policy.pt").exists()
    assert not state["next"]


@pytest.fixture(params=["default", "strict msgpack"])
def any_server(request):
    return request.getfixturevalue("server" if request.param == "default" else "strict_server")


def test_review_interrupts_and_an_edit_takes_effect(any_server):
    """Also on a server with LANGGRAPH_STRICT_MSGPACK=true, whose log then shows no type it could not
    or would not deserialize: the state on the server path is plain JSON-safe data."""
    server = any_server

    async def go():
        client = get_client(url=server["url"])
        thread = await client.threads.create()
        tid = thread["thread_id"]
        seen = []
        await _stream(client, tid, input=TINY, context={"review": True})
        state = await client.threads.get_state(tid)
        seen.append(state["interrupts"][0]["value"])
        await _stream(client, tid, command={"resume": {"action": "approve"}})
        state = await client.threads.get_state(tid)
        seen.append(state["interrupts"][0]["value"])
        await _stream(client, tid, command={"resume": {"action": "edit", "changes": {"lr": 0.0025, "n_train_envs": 2}}})
        return seen, await client.threads.get_state(tid)

    (mdp_review, algo_review), final = asyncio.run(go())
    assert mdp_review["stage"] == "mdp" and "def reward" in mdp_review["proposal"]["code"]
    assert algo_review["stage"] == "algorithm" and algo_review["proposal"]["algorithm"] == "PPO"
    values = final["values"]
    assert values["status"] in AGENT_KEPT and not final["next"]
    algo = values["history"][0]["algo"]
    assert algo["lr"] == 0.0025 and algo["n_train_envs"] == 2
    assert [(r["stage"], r["action"]) for r in values["reviews"]] == [("mdp", "approve"), ("algorithm", "edit")]
    log = server["log"].read_text()
    assert "unregistered type" not in log and "Blocked deserialization" not in log, log[-3000:]


def test_a_client_cannot_choose_a_folder_outside_the_runs_root(server, tmp_path):
    """The server's runs root is $AGENT2_RUNS_DIR: a client's runs_dir outside it stops the run at intake
    with one line, and nothing is written there; one inside it is used."""

    async def go(runs_dir: str):
        client = get_client(url=server["url"])
        thread = await client.threads.create()
        return await _stream(client, thread["thread_id"], input=TINY, context={"runs_dir": runs_dir})

    outside = tmp_path / "elsewhere"
    parts = asyncio.run(go(str(outside)))
    errors = [p.data for p in parts if p.event == "error"]
    assert errors and errors[0]["error"] == "Agent2Error", parts[-3:]  # the server masks the message itself
    assert f"runs_dir {str(outside)!r} is outside the server's runs root" in server["log"].read_text()
    assert not outside.exists()
    for sneaky in ("../escape", str(server["runs"]) + "/../escape"):
        parts = asyncio.run(go(sneaky))
        assert any(p.event == "error" for p in parts)
    assert not (server["runs"].parent / "escape").exists()


def test_candidates_fan_out_and_in_on_a_strict_server(strict_server):
    """Two candidates (``Send`` branches whose payloads LangGraph stores) on the hardened server."""

    async def go():
        client = get_client(url=strict_server["url"])
        thread = await client.threads.create()
        parts = await _stream(
            client, thread["thread_id"], input={**TINY, "budget_steps": 12_000}, context={"candidates": 2}
        )
        return parts, await client.threads.get_state(thread["thread_id"])

    parts, state = asyncio.run(go())
    assert not [p.data for p in parts if p.event == "error"]
    nodes = [name for p in parts if p.event == "updates" for name in p.data]
    assert nodes.count("train_candidate") == 2 and "pick_candidate" in nodes
    values = state["values"]
    assert values["status"] in AGENT_KEPT and len(values["history"][0]["candidates"]) == 2
    log = strict_server["log"].read_text()
    assert "unregistered type" not in log and "Blocked deserialization" not in log, log[-3000:]
