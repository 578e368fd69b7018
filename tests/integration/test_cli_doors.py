"""The doors through the real CLI, run from the folder the README runs its commands in (a user's
folder holding ``runs/``): each bad value is one line and exit 2 with nothing written; the README's
own commands work with the relative paths it shows."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import AGENT2_EXE, ENV_FILE, agent2, cli_args

TINY = [
    "--env",
    "CartPole-v1",
    "--budget-steps",
    "2048",
    "--max-iterations",
    "1",
    "--eval-episodes",
    "2",
    "--no-progress",
]


def one_line(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("agent2: error:") and "Traceback" not in proc.stderr, proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A user's folder where the README's commands ran: ``agent2 run ...`` left ``runs/readme``."""
    folder = tmp_path_factory.mktemp("user")
    done = agent2("run", *TINY, "--thread-id", "readme", cwd=folder, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def test_the_readme_commands_with_their_relative_paths(home):
    listed = agent2("runs", cwd=home)
    assert listed.returncode == 0 and "readme" in listed.stdout
    shown = agent2("show", "readme", cwd=home)
    assert shown.returncode == 0 and "PPO" in shown.stdout
    played = agent2("play", "runs/readme/agent", "--episodes", "3", cwd=home, timeout=300)
    assert played.returncode == 0, played.stderr[-2000:]
    assert "over 3 episodes" in played.stdout


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["run", *TINY, "--thread-id", "../../escape"], ["thread id '../../escape' is not allowed"]),
        (["run", *TINY, "--thread-id", "a/b"], ["thread id 'a/b' is not allowed"]),
        (["run", *TINY, "--thread-id", ".."], ["thread id '..' is not allowed"]),
        (["resume", "../runs"], ["thread id '../runs' is not allowed"]),
        (["show", "/etc"], ["thread id '/etc' is not allowed"]),
        (["fork", "readme", "--iteration", "1", "--thread-id", "../x"], ["thread id '../x' is not allowed"]),
        (["run", *TINY, "--seed", "-1"], ["--seed", "'-1'"]),
        (["run", *TINY, "--seed", "99999999999999999999"], ["--seed", "up to 1000000000"]),
        (["run", *TINY, "--max-iterations", "51"], ["--max-iterations", "up to 50"]),
        (["run", *TINY, "--eval-episodes", "1001"], ["--eval-episodes"]),
        (["run", *TINY, "--runs-dir", "a-file"], ["runs folder 'a-file' is not a folder"]),
        (["run", *TINY, "--runs-dir", "a-file/runs"], ["is not a folder", "a-file' is a file"]),
        (["run", *TINY, "--thread-id", "readme"], ["thread 'readme' already exists"]),
        (["play", "runs/readme"], ["is not an exported agent"]),
        (["play", "runs/readme/agent", "--episodes", "0"], ["--episodes"]),
        (["resume", "readme", "--runs-dir", "nowhere"], ["no run with thread id 'readme' in", "nowhere'"]),
        (["run", "--env", f"{ENV_FILE}:HangsInReset", "--no-progress"], ["did not return from reset() within 2 s"]),
        (["run", "--env", f"{ENV_FILE}:hangs_in_factory"], ["did not return from its factory within 2 s"]),
    ],
)
def test_bad_values_get_one_line_and_write_nothing(home, args, fragments):
    (home / "a-file").write_text("not a folder")
    before = tree(home)
    one_line(agent2(*args, cwd=home, timeout=120, env={"AGENT2_ENV_CALL_TIMEOUT": "2"}), *fragments)
    assert tree(home) == before
    assert not Path("/escape").exists()


def test_a_broken_agent_folder_is_one_line(home, tmp_path):
    for name, damage, said in [
        ("torn", lambda d: (d / "policy.pt").write_bytes(b"\x80\x02 torn"), "policy"),
        ("noconfig", lambda d: (d / "config.json").write_text("{"), "config.json"),
        ("empty", lambda d: [f.unlink() for f in d.iterdir() if f.is_file()], "not an exported agent"),
    ]:
        agent = tmp_path / name
        shutil.copytree(home / "runs" / "readme" / "agent", agent)
        damage(agent)
        one_line(agent2("play", str(agent), "--episodes", "2", cwd=tmp_path, timeout=300), said)


def test_damaged_databases_are_named(home, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(home / "runs", runs)
    for f in runs.glob("checkpoints.sqlite*"):
        f.write_bytes(b"this is not a database" * 100)
    one_line(agent2("show", "readme", cwd=tmp_path), "checkpoints.sqlite", "is damaged", "move it aside")
    one_line(agent2("resume", "readme", cwd=tmp_path), "checkpoints.sqlite", "is damaged")
    for f in runs.glob("agent2.db*"):
        f.write_bytes(b"garbage" * 500)
    one_line(agent2("runs", cwd=tmp_path), "agent2.db", "is damaged")


def test_one_process_per_thread(home, tmp_path):
    """A live holder is named and the second run/resume refused; a dead holder's lock file is taken over.
    The holder's target is out of reach: CartPole's own (475) is met in ~11k steps, and a loaded machine
    once let it finish before the second command ran (that got "already exists" instead)."""
    runs = tmp_path / "runs"
    shutil.copytree(home / "runs", runs)
    lock_file = runs / "readme" / "run.lock"
    lock_file.write_text("999999999 2026-01-01 00:00:00\n")  # a holder that died: no kernel lock behind it
    again = agent2("resume", "readme", cwd=tmp_path)
    assert again.returncode == 0 and "budget_exhausted" in again.stdout, again.stderr[-2000:]

    busy = subprocess.Popen(
        [
            str(AGENT2_EXE),
            *cli_args("run", env="CartPole-v1", budget_steps=200000, target=1e9, no_progress=True, thread_id="busy"),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while not (runs / "busy" / "run.lock").exists() and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        line = one_line(agent2("resume", "busy", cwd=tmp_path), f"run 'busy' is in use by process {busy.pid}")
        assert "wait for it" in line
        one_line(
            agent2("run", "--env", "CartPole-v1", "--thread-id", "busy", cwd=tmp_path), f"in use by process {busy.pid}"
        )
    finally:
        os.killpg(busy.pid, signal.SIGKILL)
        busy.wait()
    with open(lock_file) as f:  # the kernel lock went with the killed holder
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_checkpoint_that_no_longer_fits_its_job_asks_for_a_restart(tmp_path):
    """A resume after the job changed (here: its seed, then a field today's schema does not know) says
    what changed and names --restart-iteration instead of silently training from zero."""
    from faults import kill_once_written

    it = tmp_path / "runs" / "stale" / "iter_1"
    kill_once_written(
        [
            str(AGENT2_EXE),
            *cli_args(
                "run",
                env="CartPole-v1",
                budget_steps=12000,
                target=1e9,
                max_iterations=1,
                eval_episodes=2,
                no_progress=True,
                thread_id="stale",
            ),
        ],
        tmp_path,
        it / "checkpoint.pt",
    )
    job = json.loads((it / "job.json").read_text())
    (it / "job.json").write_text(json.dumps({**job, "seed": job["seed"] + 7}))
    one_line(agent2("resume", "stale", cwd=tmp_path), "cannot continue", "the job changed: seed", "--restart-iteration")
    (it / "job.json").write_text(json.dumps({**job, "written_by": "another version"}))
    one_line(agent2("resume", "stale", cwd=tmp_path), "no longer fits the job schema", "--restart-iteration")
    assert (it / "checkpoint.pt").exists()  # nothing thrown away
    done = agent2("resume", "stale", "--restart-iteration", cwd=tmp_path, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    train = json.loads((it / "train_result.json").read_text())
    assert train["resumed_at_step"] == 0 and train["stop_reason"] != "crash"
    assert (it / "progress.jsonl").read_text().count('"start"') == 1  # one session, from zero


def _read_until(fd: int, marker: bytes, timeout: float = 120) -> bytes:
    seen = b""
    deadline = time.time() + timeout
    while marker not in seen and time.time() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_ctrl_d_at_the_review_prompt_keeps_the_review_pending(tmp_path):
    """At a terminal: a bare Enter approves nothing (asked again); Ctrl-D leaves the run waiting for its
    review with the state kept and the command to answer printed (exit 3)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: agent2 on a real terminal
        os.chdir(tmp_path)
        os.execv(str(AGENT2_EXE), [str(AGENT2_EXE), "run", *TINY, "--thread-id", "rev", "--review"])
    prompt = b"[a]pprove, [e]dit or [r]eject?"
    first = _read_until(fd, prompt)
    assert prompt in first, first[-2000:].decode(errors="replace")
    os.write(fd, b"\n")
    second = _read_until(fd, prompt, timeout=30)
    assert prompt in second  # asked again: Enter is not an answer
    os.write(fd, b"\x04")  # Ctrl-D
    rest = _read_until(fd, b"\x00", timeout=60)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = rest.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 3, text[-2000:]
    assert "waiting for review of the mdp" in text and "agent2 resume rev" in text and "Traceback" not in text
    shown = agent2("show", "rev", cwd=tmp_path)
    assert shown.returncode == 0 and "waiting for review" in shown.stdout
    approved = agent2("resume", "rev", "--approve", cwd=tmp_path)  # the run goes on from where it waited
    assert approved.returncode == 3 and "waiting for review of the algorithm" in approved.stdout


def test_ctrl_c_at_the_review_prompt_keeps_the_review_pending(monkeypatch, capsys):
    from app import cli

    def interrupted(payload, read=input):
        raise KeyboardInterrupt

    monkeypatch.setattr("app.review_prompt.ask_review", interrupted)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    payload = {
        "stage": "algorithm",
        "iteration": 1,
        "env": "CartPole-v1",
        "summary": "PPO",
        "proposal": {"algorithm": "PPO"},
    }
    assert cli._settle({"__interrupt__": [payload]}, "t", "runs") == 3
    assert "agent2 resume t --runs-dir runs" in capsys.readouterr().out
