"""Parallel candidates: proposals, fan-out/fan-in routing, ranking, kill -9 during a fan-out, Ray."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import agent2, cli_args


def test_a_two_candidate_run_trains_both_and_reports_them(runs_dir):
    proc = agent2(
        *cli_args(
            "run",
            env="CartPole-v1",
            budget_steps=12000,
            max_iterations=1,
            eval_episodes=3,
            runs_dir=runs_dir,
            thread_id="two",
            no_progress=True,
            candidates=2,
        ),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((runs_dir / "two" / "result.json").read_text())
    it = result["iterations"][0]
    assert sorted(c["index"] for c in it["candidates"]) == [0, 1]
    winner = it["candidates"][0]
    assert winner["note"].startswith("won") and it["eval_mean"] == winner["eval_mean"]
    assert result["env_steps_total"] == sum(c["env_steps"] for c in it["candidates"]) <= 12_000
    for c in (0, 1):
        assert (runs_dir / "two" / "iter_1" / f"candidate_{c}" / "train_result.json").exists()
    report = (Path(result["agent_dir"]) / "report.md").read_text()
    assert "## Candidates" in report and winner["note"] in report
    with sqlite3.connect(runs_dir / "agent2.db") as db:
        won = db.execute("select candidate from candidates where thread_id='two' and won").fetchall()
    assert won == [(winner["index"],)]
    shown = agent2("show", "two", "--runs-dir", str(runs_dir))
    assert shown.returncode == 0, shown.stderr
    rows = [line for line in shown.stdout.splitlines() if line.startswith("│ 1 ")]
    assert len(rows) >= 3  # the iteration, then its two candidates, the winner first and saying why
    assert f"#{winner['index']}" in rows[1] and "won" in rows[1] and f"#{1 - winner['index']}" in rows[2]


@pytest.mark.parametrize(
    "flags,error",
    [
        (["--candidates", "65"], "--candidates: must be a positive integer up to 64, got '65'"),
        (
            ["--candidates", "2", "--executor", "ray", "--ray-address", "127.0.0.1:1"],
            "cannot reach the Ray cluster at 127.0.0.1:1",
        ),
        (["--candidates", "2", "--executor", "ray", "--ray-address", "head"], "Ray address 'head': expected host:port"),
    ],
)
def test_bad_candidate_settings_are_one_line_errors(runs_dir, flags, error):
    proc = agent2("run", "--env", "CartPole-v1", "--runs-dir", str(runs_dir), *flags, timeout=120)
    assert proc.returncode != 0 and error in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert not (runs_dir / "checkpoints.sqlite").exists()  # nothing started
