"""Hostile input at every door: every CLI flag and every MCP tool argument with path-like strings,
huge, negative and empty values. For each: no traceback, exit 2 (or a tool error), and nothing written
outside the runs folder (a snapshot of the runs folder's parent before and after).

The CLI runs in-process (``app.cli.main``) from a scratch folder so hundreds of inputs fit in CI;
the doors' behaviour through real subprocesses is in ``test_cli_doors.py``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli import main
from envs.registry import BUILTIN_TASKS
from nodes.designers.llm_config import MAX_RETRIES
from tools.run_folders import THREAD_ID

DOORS = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


PATHS = [
    "../",
    "../../escape",
    "../outside/x",
    "/",
    "/escape",
    "/etc/passwd",
    "~",
    "~/escape",
    "a/b",
    ".",
    "..",
    "a\x00b",
    "x" * 300,
    "é/ü/∂",
    " ",
    "",
    "-rf",
    "--env",
    "..\\..\\escape",
    "runs/../../escape",
    "\u202e..",
    "/proc/self/cwd",
    "./.",
    "%2e%2e%2fescape",
    "nul:",
    "CartPole-v1/../..",
    "\n",
    "a b",
    "*",
]


paths = st.one_of(st.sampled_from(PATHS), st.text(max_size=24))


NUMBERS = [
    "-1",
    "0",
    "-0",
    str(2**31),
    str(2**63),
    str(10**30),
    "1e400",
    "nan",
    "inf",
    "-inf",
    "",
    "1.5",
    "0x10",
    " 7",
    "٣",
    "1_000",
    "+5",
    "9" * 400,
]


numbers = st.one_of(st.sampled_from(NUMBERS), st.integers(-(10**20), 10**20).map(str), st.text(max_size=8))


def bad_thread_id(text: str) -> bool:
    return not THREAD_ID.fullmatch(text)


def not_an_env(text: str) -> bool:
    return text.strip() not in gym.registry and text.strip() not in BUILTIN_TASKS


def snapshot(root: Path, runs: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` but inside ``runs``, with its size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == runs or runs in here.parents:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = here / name
            if p == runs:
                continue
            st_ = p.lstat()
            out[str(p)] = (st_.st_size if p.is_file() else 0, st_.st_mtime_ns if p.is_file() else 0)
    return out


ABSOLUTE = [Path("/escape"), Path.home() / "escape", Path("/etc/passwd")]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """cwd tmp/work/deep (so '../..' stays inside tmp, which the snapshot covers); runs folder ./runs."""
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    monkeypatch.chdir(work)
    return tmp_path, work / "runs"


def door(argv: list[str], capsys) -> tuple[int, str]:
    """``agent2 ARGV`` in this process: its exit status and stderr; anything but exit 2 with one line fails."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (argv, code, err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("agent2: error:"), (argv, err[-2000:])
    return code, err


def shut(argv_for, value: str, scratch, capsys) -> None:
    root, runs = scratch
    before, absolute = snapshot(root, runs), {p: p.exists() for p in ABSOLUTE}
    door(argv_for(value), capsys)
    assert snapshot(root, runs) == before, argv_for(value)
    assert {p: p.exists() for p in ABSOLUTE} == absolute


THREAD_DOORS = {
    "run --thread-id": lambda v: ["run", "--env", "CartPole-v1", "--thread-id", v],
    "resume": lambda v: ["resume", v],
    "show": lambda v: ["show", v],
    "fork": lambda v: ["fork", v, "--iteration", "1"],
    "fork --thread-id": lambda v: ["fork", "some-run", "--iteration", "1", "--thread-id", v],
}


@DOORS
@given(st.sampled_from(sorted(THREAD_DOORS)), paths.filter(bad_thread_id))
def test_thread_ids(scratch, capsys, which, value):
    shut(THREAD_DOORS[which], value, scratch, capsys)


PATH_DOORS = {  # each also fails for a reason that does not depend on the path, so no run ever starts
    "run --runs-dir": lambda v: ["run", "--env", "NoSuchEnv-v0", "--runs-dir", v],
    "resume --runs-dir": lambda v: ["resume", "no-such-run", "--runs-dir", v],
    "show --runs-dir": lambda v: ["show", "no-such-run", "--runs-dir", v],
    "fork --runs-dir": lambda v: ["fork", "no-such-run", "--iteration", "1", "--runs-dir", v],
    "run --env": lambda v: ["run", "--env", v, "--runs-dir", "runs"],
    "play": lambda v: ["play", v],
    "resume --edit-code": lambda v: ["resume", "no-such-run", "--edit-code", v],
    "resume --answer": lambda v: ["resume", "no-such-run", "--answer", v],
    "resume --edit": lambda v: ["resume", "no-such-run", "--edit", v],
}


@DOORS
@given(st.sampled_from(sorted(PATH_DOORS)), paths)
def test_paths(scratch, capsys, which, value):
    if which == "run --env" and not not_an_env(value):
        value = value + "-nope"
    shut(PATH_DOORS[which], value, scratch, capsys)


NUMBER_DOORS = {  # the flag's value alone must make the command fail: values it takes are skipped
    "run --seed": (lambda v: ["run", "--env", "CartPole-v1", "--seed", v], 0, 10**9),
    "run --budget-steps": (lambda v: ["run", "--env", "CartPole-v1", "--budget-steps", v], 1, 10**10),
    "run --max-iterations": (lambda v: ["run", "--env", "CartPole-v1", "--max-iterations", v], 1, 50),
    "run --eval-episodes": (lambda v: ["run", "--env", "CartPole-v1", "--eval-episodes", v], 1, 1000),
    "run --candidates": (lambda v: ["run", "--env", "CartPole-v1", "--candidates", v], 1, 64),
    "run --max-parallel": (lambda v: ["run", "--env", "CartPole-v1", "--max-parallel", v], 1, 64),
    "play --episodes": (lambda v: ["play", "agent", "--episodes", v], 1, 1000),
    "play --seed": (lambda v: ["play", "agent", "--seed", v], 0, 10**9),
    "fork --iteration": (lambda v: ["fork", "some-run", "--iteration", v], 1, 50),
    "mcp --port": (lambda v: ["mcp", "--http", "--port", v], 1, 65535),
    "run --llm-retries": (lambda v: ["run", "--env", "CartPole-v1", "--llm-retries", v], 0, MAX_RETRIES),
}


def takes(value: str, low: int, high: int) -> bool:
    try:
        return low <= int(value) <= high
    except ValueError:
        return False


@DOORS
@given(st.sampled_from(sorted(NUMBER_DOORS)), numbers)
def test_numbers(scratch, capsys, which, value):
    argv_for, low, high = NUMBER_DOORS[which]
    if takes(value, low, high):
        return
    shut(argv_for, value, scratch, capsys)


@DOORS
@given(
    st.sampled_from(["--target", "--temperature", "--llm-timeout"]),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "", "abc", "--", "0x"]),
)
def test_floats(scratch, capsys, flag, value):
    shut(lambda v: ["run", "--env", "CartPole-v1", flag, v], value, scratch, capsys)


MCP_CALLS = {
    "start_run thread_id": lambda v: ("start_run", {"env": "CartPole-v1", "thread_id": v}),
    "run_status": lambda v: ("run_status", {"thread_id": v}),
    "run_result": lambda v: ("run_result", {"thread_id": v}),
    "answer_review": lambda v: ("answer_review", {"thread_id": v, "action": "approve"}),
    "evaluate_agent": lambda v: ("evaluate_agent", {"agent_dir": v}),
}


MCP_NUMBERS = {
    "start_run seed": lambda n: ("start_run", {"env": "CartPole-v1", "thread_id": "ok", "seed": n}),
    "start_run budget_steps": lambda n: ("start_run", {"env": "CartPole-v1", "thread_id": "ok", "budget_steps": n}),
    "start_run max_iterations": lambda n: ("start_run", {"env": "CartPole-v1", "thread_id": "ok", "max_iterations": n}),
    "start_run eval_episodes": lambda n: ("start_run", {"env": "CartPole-v1", "thread_id": "ok", "eval_episodes": n}),
    "start_run candidates": lambda n: ("start_run", {"env": "CartPole-v1", "thread_id": "ok", "candidates": n}),
    "evaluate_agent episodes": lambda n: ("evaluate_agent", {"agent_dir": "x", "episodes": n}),
    "evaluate_agent seed": lambda n: ("evaluate_agent", {"agent_dir": "x", "seed": n}),
    "profile_env seed": lambda n: ("profile_env", {"env": "CartPole-v1", "seed": n}),
    "profile_env episodes": lambda n: ("profile_env", {"env": "CartPole-v1", "episodes": n}),
}


MCP_BOUNDS = {
    "seed": (0, 10**9),
    "budget_steps": (1, 10**10),
    "max_iterations": (1, 50),
    "eval_episodes": (1, 1000),
    "candidates": (1, 64),
    "episodes": (1, 100),
}


def _mcp(scratch, calls: list[tuple[str, dict]]) -> list:
    from mcp import Client

    from app.mcp_server import build_server

    _, runs = scratch
    server = build_server(str(runs), confine_to_runs=True)

    async def go():
        async with Client(server) as client:
            return [await client.call_tool(name, args) for name, args in calls]

    return asyncio.run(go())


def _mcp_shut(scratch, calls: list[tuple[str, dict]]) -> None:
    root, runs = scratch
    before, absolute = snapshot(root, runs), {p: p.exists() for p in ABSOLUTE}
    for (name, args), result in zip(calls, _mcp(scratch, calls), strict=False):
        assert result.is_error, (name, args, result.content)
        text = result.content[0].text
        assert "Traceback" not in text and len(text) < 2000, text
    assert snapshot(root, runs) == before
    assert {p: p.exists() for p in ABSOLUTE} == absolute
    assert not any(runs.glob("*/run.log")), "a run was started"


MCP_DOORS = settings(
    max_examples=80,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@MCP_DOORS
@given(st.sampled_from(sorted(MCP_CALLS)), paths.filter(bad_thread_id))
def test_mcp_tool_paths(scratch, which, value):
    """Thread ids and agent folders a client sends: ids outside the pattern and folders outside the runs
    folder are tool errors (evaluate_agent's folder is confined over HTTP)."""
    _mcp_shut(scratch, [MCP_CALLS[which](value)])


@MCP_DOORS
@given(
    st.sampled_from(sorted(MCP_NUMBERS)),
    st.one_of(st.integers(-(10**20), -1), st.integers(10**10 + 1, 10**30), st.sampled_from([0, -1, 2**63, 10**11])),
)
def test_mcp_tool_numbers(scratch, which, n):
    low, high = MCP_BOUNDS[which.split()[-1]]
    if low <= n <= high:
        return
    _mcp_shut(scratch, [MCP_NUMBERS[which](n)])


def test_mcp_evaluate_agent_only_inside_the_runs_folder(scratch):
    """Over HTTP a client names agent folders only inside the server's runs folder: an existing folder
    outside it is refused as outside (the player would write play.log and play_result.json there)."""
    root, _ = scratch
    outside = root / "outside"
    for agent_dir in (str(outside), "../../outside", "/"):
        (result,) = _mcp(scratch, [("evaluate_agent", {"agent_dir": agent_dir})])
        assert result.is_error and "is outside the server's runs root" in result.content[0].text
    assert not any(outside.iterdir())


def test_mcp_resources_with_hostile_ids(scratch):
    from mcp import Client

    from app.mcp_server import build_server

    _, runs = scratch

    async def go():
        async with Client(build_server(str(runs), confine_to_runs=True)) as client:
            out = []
            for tid in ["..", "%2e%2e", "..%2F..%2Fetc", "a%00b", "x" * 200]:
                try:
                    out.append(await client.read_resource(f"agent2://runs/{tid}/result"))
                except Exception as e:
                    out.append(e)
            return out

    for outcome in asyncio.run(go()):
        assert isinstance(outcome, Exception), outcome
        assert "Traceback" not in str(outcome)
    assert not runs.exists() or not any(runs.iterdir())
