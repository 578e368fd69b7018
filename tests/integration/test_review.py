"""Human review (interrupts after MDP design and algorithm choice), its CLI, and ``agent2 fork``."""

import json
from pathlib import Path

import pytest
from conftest import IDENTITY_MDP, ROOT, agent2, cli_args

from app.review_prompt import WAITING


def _answer(runs: Path, thread: str, *flags: str):
    return agent2("resume", thread, "--runs-dir", str(runs), *flags)


def test_cli_review_edit_reject_approve_then_fork(tmp_path, runs_dir):
    marked = IDENTITY_MDP + "# reviewed by a human\n"
    (tmp_path / "good.py").write_text(marked)
    (tmp_path / "bad.py").write_text("import os\n" + IDENTITY_MDP)
    proc = agent2(
        *cli_args(
            "run",
            env="CartPole-v1",
            budget_steps=2000,
            max_iterations=1,
            eval_episodes=2,
            runs_dir=runs_dir,
            thread_id="rv",
            no_progress=True,
            review=True,
        )
    )
    assert proc.returncode == WAITING, proc.stderr[-2000:]
    assert "waiting for review of the mdp (iteration 1)" in proc.stdout and "def reward" in proc.stderr
    proc = _answer(runs_dir, "rv", "--edit-code", str(tmp_path / "bad.py"))
    assert proc.returncode == WAITING and "waiting for review of the mdp" in proc.stdout
    assert "edited MDP failed validation" in proc.stderr and "os" in proc.stderr
    proc = _answer(runs_dir, "rv", "--edit-code", str(tmp_path / "good.py"))
    assert proc.returncode == WAITING and "waiting for review of the algorithm" in proc.stdout
    proc = _answer(runs_dir, "rv", "--reject", "try a value-based method")
    assert proc.returncode == WAITING and "DQN" in proc.stderr
    proc = _answer(runs_dir, "rv", "--approve", "--reject", "x")
    assert proc.returncode == 2 and "one answer" in proc.stderr
    proc = _answer(runs_dir, "rv", "--approve")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((runs_dir / "rv" / "result.json").read_text())
    (it,) = result["iterations"]
    assert it["mdp_code"] == marked and "edited in review" in it["design"] and it["algorithm"] == "DQN"
    assert [(r["stage"], r["action"]) for r in result["reviews"]] == [
        ("mdp", "edit"),
        ("algorithm", "reject"),
        ("algorithm", "approve"),
    ]
    assert "## Human reviews" in Path(result["report"]).read_text()
    proc = _answer(runs_dir, "rv", "--approve")
    assert proc.returncode == 2 and "not waiting for a review" in proc.stderr

    # time travel: a new thread from iteration 1's MDP design, choosing the algorithm again
    proc = agent2("fork", "rv", "--iteration", "1", "--thread-id", "rv2", "--runs-dir", str(runs_dir), "--review")
    assert proc.returncode == WAITING and "waiting for review of the algorithm (iteration 1)" in proc.stdout
    proc = _answer(runs_dir, "rv2", "--edit", "algorithm=PPO", "--edit", "lr=0.002")
    assert proc.returncode == 0, proc.stderr[-2000:]
    forked = json.loads((runs_dir / "rv2" / "result.json").read_text())
    (it2,) = forked["iterations"]
    assert it2["mdp_code"] == marked and it2["algorithm"] == "PPO" and it2["hyperparameters"]["lr"] == 0.002
    assert json.loads((runs_dir / "rv" / "result.json").read_text()) == result  # the parent is untouched
    proc = agent2("fork", "rv", "--iteration", "2", "--runs-dir", str(runs_dir))
    assert proc.returncode == 2 and "no iteration 2" in proc.stderr
    proc = agent2("fork", "rv", "--iteration", "1", "--thread-id", "rv2", "--runs-dir", str(runs_dir))
    assert proc.returncode == 2 and "already exists" in proc.stderr


def test_langgraph_dockerfile_installs_bubblewrap_and_the_cpu_torch_before_agent2(tmp_path):
    """``langgraph dockerfile`` (what ``langgraph build`` builds; no Docker here, so the image itself is
    not built): bubblewrap so generated code runs confined (AGENT2_SANDBOX=bwrap makes it required),
    the CPU torch wheel (a build argument picks a CUDA index) installed before ``-e .`` so the
    install does not pull the multi-GB CUDA build, the env defaults, Python 3.11."""
    import os
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("langgraph")
    if not exe.exists():
        pytest.skip("langgraph-cli is part of 'make setup'")
    env = {**os.environ, "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "true"}
    proc = subprocess.run(
        [str(exe), "dockerfile", "-c", str(ROOT / "langgraph.json"), str(tmp_path / "Dockerfile")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = (tmp_path / "Dockerfile").read_text().splitlines()
    assert lines[0].startswith("FROM langchain/langgraph-api:3.11")

    def at(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    bwrap, torch = at("apt-get install -y --no-install-recommends bubblewrap"), at("torch==2.13.0")
    assert (
        "--index-url ${TORCH_INDEX_URL}" in lines[torch]
        and at("ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu") < torch
    )
    assert max(bwrap, torch) < at("ADD . /deps/") < at("-e .);")  # /deps/<the checkout's folder name>
    assert (
        "AGENT2_SANDBOX=bwrap" in lines[at("ENV AGENT2_")] and "AGENT2_RUNS_DIR=/data/runs" in lines[at("ENV AGENT2_")]
    )
