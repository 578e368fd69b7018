"""Real runs through the graph with tiny budgets: export and play, a kill -9 and a resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, agent2, cli_args, missed_status, wait_for_checkpoint

from tools.rundb import RunDB
from tools.train_worker import PROGRESS
from tools.training import steps_consumed


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status  # a zombie has exited; only its reaper is missing


@pytest.mark.parametrize(
    ("env", "budget", "slack", "played"),
    [
        ("CartPole-v1", 24_000, 1.1, None),
        # SMAX's games stepped together (StackedGames): 10 epochs of 3200 joint steps, a kill loses one at
        # most; the resumed run is also SMAX's whole-run test (MAPPO, a win rate, export and play)
        ("smax_3m", 32_000, 1.15, "2 episodes × 3 agents"),
    ],
    ids=["CartPole-v1", "smax_3m"],
)
def test_kill_9_mid_training_then_resume_continues_from_the_checkpoint(runs_dir, env, budget, slack, played):
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        *cli_args(
            "run",
            env=env,
            target=100000,
            budget_steps=budget,
            max_iterations=1,
            eval_episodes=3,
            runs_dir=runs_dir,
            thread_id="kr",
            no_progress=True,
        ),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = runs_dir / "kr" / "iter_1" / PROGRESS
    killed_after = wait_for_checkpoint(progress, budget // 3, proc)
    time.sleep(0.7)  # die between checkpoints, with work in flight
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # the worker follows its parent (PR_SET_PDEATHSIG)
    from faults import _workers  # by their command line: a worker's own pid is its sandbox's

    assert not any(_alive(p) for p in _workers(runs_dir)), "training worker outlived its parent"
    assert not (runs_dir / "kr" / "result.json").exists()

    resumed = agent2("resume", "kr", "--runs-dir", str(runs_dir), timeout=400)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads((runs_dir / "kr" / "result.json").read_text())
    assert result["status"] == missed_status(result) and len(result["iterations"]) == 1
    train = json.loads((runs_dir / "kr" / "iter_1" / "train_result.json").read_text())
    assert train["resumed_at_step"] >= killed_after  # continued, not restarted
    consumed = steps_consumed(runs_dir / "kr" / "iter_1")
    assert consumed <= slack * train["env_steps"], (consumed, train["env_steps"])
    assert len(RunDB(runs_dir).iterations("kr")) == 1
    again = agent2("resume", "kr", "--runs-dir", str(runs_dir))  # a finished run: nothing to redo
    assert again.returncode == 0 and result["status"] in again.stdout
    if played:
        assert result["iterations"][0]["algorithm"] == "MAPPO"
        assert 0.0 <= result["best"]["eval_mean"] <= 1.0  # a win rate
        play = agent2("play", result["agent_dir"], "--episodes", "2")
        assert play.returncode == 0 and played in play.stdout, play.stderr[-2000:]
