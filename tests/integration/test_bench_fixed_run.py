"""bench/fixed_run.py: a user's env file named by a path relative to where it is called trains (the
training worker runs in the iteration folder, so the path is made absolute first), with the expert's
MDP design when asked; a run stopped by its wall limit is recorded as stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT


def fixed_run(*args: str) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "bench/fixed_run.py",
            "--preset",
            "expert",
            "--algorithm",
            "PPO",
            "--eval-episodes",
            "2",
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "AGENT2_TORCH_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_env_file_named_by_a_relative_path_trains_on_the_experts_design(tmp_path):
    env = "tests/envfiles/custom_envs.py:make_env"
    result = fixed_run("--env", env, "--mdp", "expert", "--budget-steps", "1000", "--folder", str(tmp_path / "iter_1"))
    assert result["error"] is None, result["error"]
    assert result["env_steps"] >= 1000
    assert result["score"] is not None
    assert result["mdp"] == "raw obs, original reward"  # the expert's design, not the env's own


def test_a_run_stopped_by_max_wall_is_recorded_as_stopped_with_its_tests_and_evaluation(tmp_path):
    folder = str(tmp_path / "iter_1")
    result = fixed_run("--env", "CartPole-v1", "--budget-steps", "2000000", "--max-wall", "25", "--folder", folder)
    assert result["stop_reason"] == "stopped"
    assert result["error"] is None, result["error"]
    assert 0 < result["env_steps"] < 2_000_000
    assert result["curve"] and result["score"] is not None
