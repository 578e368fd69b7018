"""The PostgreSQL checkpointer against a real PostgreSQL 15 that the tests start themselves (initdb into
a temporary folder, pg_ctl on a free loopback port, as the ``postgres`` user when run as root): a run
killed with -9 mid-training resumes from a second process in another working folder, and bad URLs
are one line that never shows the password."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, agent2, cli_args, free_port, wait_for_checkpoint

from tools.train_worker import PROGRESS

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "s3cret-pw"


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.getuid() == 0 else cmd


@pytest.fixture(scope="module")
def postgres():
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 is not installed (the Debian package postgresql; .ci/run installs it)")
    if os.getuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root without runuser: the server refuses to start as root")
    base = Path(tempfile.mkdtemp(prefix="agent2-pg-"))
    if os.getuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    (base / "pw").write_text(PASSWORD + "\n")
    if os.getuid() == 0:
        shutil.chown(base / "pw", "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_owner(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(base / "db"),
                "-U",
                "agent2",
                "-A",
                "scram-sha-256",
                f"--pwfile={base / 'pw'}",
            ]
        ),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_owner(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(base / "db"),
                "-l",
                str(base / "log"),
                "-w",
                "-o",
                f"-p {port} -k {base} -h 127.0.0.1",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://agent2:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_owner([str(PG_BIN / "pg_ctl"), "-D", str(base / "db"), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


RUN = [
    "--env",
    "CartPole-v1",
    "--target",
    "100000",
    "--budget-steps",
    "12000",
    "--max-iterations",
    "1",
    "--eval-episodes",
    "3",
    "--no-progress",
]


def test_a_run_killed_mid_training_resumes_from_another_process_and_folder(postgres, tmp_path):
    runs = tmp_path / "runs"
    first, second = tmp_path / "machine_a", tmp_path / "machine_b"
    first.mkdir(), second.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *cli_args("run", runs_dir=runs, thread_id="pk", checkpointer=postgres), *RUN],
        cwd=first,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed_after = wait_for_checkpoint(runs / "pk" / "iter_1" / PROGRESS, 3000, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (runs / "pk" / "result.json").exists()
    assert not (runs / "checkpoints.sqlite").exists()  # the graph state is in PostgreSQL

    resumed = subprocess.run(
        [sys.executable, "-m", "app.cli", "resume", "pk", "--runs-dir", str(runs), "--checkpointer", postgres],
        cwd=second,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads((runs / "pk" / "result.json").read_text())
    train = json.loads((runs / "pk" / "iter_1" / "train_result.json").read_text())
    assert train["resumed_at_step"] >= killed_after  # continued from the training checkpoint

    whole = agent2("run", *RUN, "--runs-dir", str(runs), "--thread-id", "pw", "--checkpointer", postgres, timeout=400)
    assert whole.returncode == 0, whole.stderr[-3000:]
    ref = json.loads((runs / "pw" / "result.json").read_text())
    keys = ("status", "env_steps_total", "target", "budget_steps")
    assert {k: result[k] for k in keys} == {k: ref[k] for k in keys}
    assert [(i["design"], i["algorithm"], i["env_steps"]) for i in result["iterations"]] == [
        (i["design"], i["algorithm"], i["env_steps"]) for i in ref["iterations"]
    ]
    listed = agent2("runs", "--runs-dir", str(runs), "--checkpointer", postgres)
    assert listed.returncode == 0 and "pk" in listed.stdout and "pw" in listed.stdout


@pytest.mark.parametrize(
    "url,says",
    [
        ("postgresql://agent2:{pw}@127.0.0.1:notaport/postgres", "the port is not a number"),
        ("postgresql://agent2:{pw}@127.0.0.1:{free}/postgres", "refused the connection"),
        ("postgresql://agent2:wrong-{pw}@127.0.0.1:{port}/postgres", "refused the connection"),
        ("mysql://agent2:{pw}@127.0.0.1/db", "use a file path, sqlite:///path or postgresql://"),
    ],
)
def test_a_bad_checkpointer_url_is_one_line_without_the_password(postgres, tmp_path, url, says):
    url = url.format(pw=PASSWORD, free=free_port(), port=postgres.rsplit(":", 1)[1].split("/")[0])
    proc = agent2("run", *RUN, "--runs-dir", str(tmp_path / "runs"), "--checkpointer", url)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and says in lines[0], proc.stderr
    assert PASSWORD not in proc.stderr and "***" in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing written


def test_the_checkpointer_url_never_reaches_a_sandboxed_worker(monkeypatch):
    """It may hold the database password; workers (generated code) do not need it."""
    from tools.sandbox import scrubbed_env

    monkeypatch.setenv("AGENT2_CHECKPOINTER", f"postgresql://agent2:{PASSWORD}@db:5432/agent2")
    env = scrubbed_env()
    assert "AGENT2_CHECKPOINTER" not in env and not any(PASSWORD in v for v in env.values())
