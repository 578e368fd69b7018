import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / "tests" / "envfiles" / "custom_envs.py"


def agent2(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real ``agent2`` CLI in a subprocess."""
    return subprocess.run([sys.executable, "-m", "graph.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


IDENTITY_MDP = """import numpy as np
def observation(obs):
    return obs
def action(act):
    return act
def reward(obs, action, next_obs, reward, info):
    return reward
"""
"""MDP code that changes nothing (a test's starting point)."""


def tiny_run(runs_dir: Path, env: str, thread: str, budget: int, eval_episodes: int = 3,
             timeout: float = 400, max_iterations: int = 1) -> dict:
    """``agent2 run`` (one iteration unless told) without a progress bar; returns result.json."""
    import json

    proc = agent2("run", "--env", env, "--budget-steps", str(budget), "--max-iterations", str(max_iterations),
                  "--eval-episodes", str(eval_episodes), "--runs-dir", str(runs_dir), "--thread-id", thread,
                  "--no-progress", timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((runs_dir / thread / "result.json").read_text())


def free_port() -> int:
    """A TCP port nothing listens on, on the loopback (for servers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
