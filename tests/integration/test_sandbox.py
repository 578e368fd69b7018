"""Escape attempts against the sandbox generated code runs in (``tools/sandbox.py``).

Each test fails if its guard is removed: the key in the environment, a TCP listener on the host's
loopback, a file outside the process's folder, the memory and the time limits.
"""

import socket
import threading
import time
from pathlib import Path

import pytest

from tools import sandbox


def _bwrap_optional_and_missing() -> bool:
    try:
        return sandbox.bwrap_path() is None
    except sandbox.SandboxUnavailableError:  # AGENT2_SANDBOX=bwrap (as in CI) but missing: run, and fail
        return False


needs_bwrap = pytest.mark.skipif(
    _bwrap_optional_and_missing(), reason="bubblewrap not installed and not required (CI sets AGENT2_SANDBOX=bwrap)"
)


def attempt(tmp_path: Path, name: str, arg: str = "", timeout: float = 60, **limits) -> tuple[int, str]:
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    report = folder / f"{name}.out"
    code = sandbox.run(
        "tests.envfiles.escape", [name, str(report), arg], folder / "worker.log", timeout=timeout, **limits
    )
    return code, report.read_text() if report.exists() else ""


def test_the_key_is_not_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-do-not-leak")
    code, seen = attempt(tmp_path, "secret")
    assert code == 0 and seen == ""
    assert "do-not-leak" not in (tmp_path / "run" / "worker.log").read_text()


@needs_bwrap
def test_no_other_process_environment_through_proc(tmp_path):
    """The sandbox's own environment is scrubbed, but without its own PID namespace /proc showed the
    parent's, key included. (/proc shows the environment a process started with: the parent here is a
    process started with the key.)"""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    parent = (
        "import sys; from pathlib import Path; from tools import sandbox; "
        "f = Path(sys.argv[1]); f.mkdir(); "
        "sys.exit(sandbox.run('tests.envfiles.escape', ['environ', str(f / 'out'), 'sk-proc-do-not-leak'], "
        "f / 'worker.log', timeout=60))"
    )
    env = {**os.environ, "OPENAI_API_KEY": "sk-proc-do-not-leak"}
    done = subprocess.run([sys.executable, "-c", parent, str(tmp_path / "run")], cwd=ROOT, env=env, timeout=120)
    seen = (tmp_path / "run" / "out").read_text()
    assert done.returncode == 0 and seen.startswith("seen in 0 of "), seen


@needs_bwrap
def test_a_link_left_in_its_folder_is_never_written_through(tmp_path):
    """Generated code replaced its log with a link to a file outside its folder; the parent, opening
    the log for the next process, appended to that file (to ~/.bashrc: code run outside the sandbox)."""
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    code, seen = attempt(tmp_path, "link-log", str(victim))
    assert code == 0 and seen == "linked" and (tmp_path / "run" / "worker.log").is_symlink()
    code, _ = attempt(tmp_path, "secret")  # the next process: the parent opens its log again
    assert code == 0 and victim.read_text() == "untouched\n"
    assert not (tmp_path / "run" / "worker.log").is_symlink()


@needs_bwrap
def test_no_network_not_even_the_hosts_loopback(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(8)
    accepted = []
    threading.Thread(target=lambda: accepted.append(_accept(server)), daemon=True).start()
    code, seen = attempt(tmp_path, "network", f"127.0.0.1:{server.getsockname()[1]}")
    time.sleep(0.2)
    server.close()
    assert code == 0 and seen.startswith("refused") and accepted in ([], [None])


def _accept(server: socket.socket):
    try:
        return server.accept()
    except OSError:
        return None


@needs_bwrap
@pytest.mark.parametrize("where", ["beside", "home"])
def test_no_writes_outside_its_folder(tmp_path, where):
    target = tmp_path / "escaped.txt" if where == "beside" else Path.home() / f".agent2-escape-{time.time_ns()}"
    code, seen = attempt(tmp_path, "write", str(target))
    exists = target.exists()
    target.unlink(missing_ok=True)
    assert code == 0 and seen.startswith("refused") and not exists


def test_writes_inside_its_folder_work(tmp_path):
    code, seen = attempt(tmp_path, "write", str(tmp_path / "run" / "mine.txt"))
    assert code == 0 and seen == "written" and (tmp_path / "run" / "mine.txt").read_text() == "escaped"


def test_memory_limit(tmp_path):
    code, seen = attempt(tmp_path, "memory", str(2 * 1024**3), memory_bytes=512 * 1024**2)
    assert seen == "MemoryError"


def test_time_limit(tmp_path):
    t0 = time.perf_counter()
    code, seen = attempt(tmp_path, "time", "120", timeout=3)
    assert code == -9 and seen == "started" and time.perf_counter() - t0 < 30


def test_required_sandbox_missing_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("AGENT2_SANDBOX", "bwrap")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(sandbox.SandboxUnavailableError, match="apt-get install bubblewrap"):
        sandbox.bwrap_path()
    monkeypatch.setenv("AGENT2_SANDBOX", "none")
    assert sandbox.bwrap_path() is None and "NOT guarded" in sandbox.guards()


@needs_bwrap
def test_generated_code_of_an_exported_agent_plays_in_the_sandbox(tmp_path, runs_dir):
    """``agent2 play`` runs the agent's mdp.py: code that writes outside the agent's folder (numpy
    passes the static check) is refused there, and the write never happens."""
    from conftest import agent2, tiny_run

    result = tiny_run(runs_dir, "CartPole-v1", "p", budget=2000, eval_episodes=2)
    agent = Path(result["agent_dir"])
    outside = tmp_path / "escaped.npy"
    code = (agent / "mdp.py").read_text()
    (agent / "mdp.py").write_text(
        code.replace("def observation(obs):\n", f"def observation(obs):\n    np.save({str(outside)!r}, obs)\n", 1)
    )
    proc = agent2("play", str(agent), "--episodes", "1")
    assert proc.returncode == 2 and "failed" in proc.stderr and not outside.exists()
    (agent / "mdp.py").write_text(code)
    assert agent2("play", str(agent), "--episodes", "1").returncode == 0
