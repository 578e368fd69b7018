"""The full suite builds its table over several calls: finished results are kept, failed and missing
ones are run, a stopped Agent² run is resumed rather than started again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT))


from bench import suite


@pytest.fixture
def full_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "FULL", tmp_path / "suite")
    return tmp_path / "suite"


def _args(tmp_path: Path, **kw):
    import argparse

    return argparse.Namespace(
        **{"table": False, "again": False, "rescore": False, "jobs": 1, "runs_dir": tmp_path / "runs", **kw}
    )


def test_a_second_call_runs_only_what_is_missing_or_failed(full_dir, tmp_path, monkeypatch, capsys):
    calls, first_call = [], [True]

    def fake_measure(task, contender, budget, seed, runs):
        calls.append((task, contender, seed))
        if contender == "manual" and first_call[0]:
            return {
                "task": task,
                "contender": contender,
                "seed": seed,
                "budget": budget,
                "commit": "c1",
                "error": "worker died",
                "wall": 1.0,
                "failed": True,
            }
        return {
            "task": task,
            "contender": contender,
            "seed": seed,
            "budget": budget,
            "commit": "c1",
            "score": 500.0 - seed,
            "env_steps": budget,
            "wall": 2.0,
            "curve": [[budget, 500.0 - seed]],
        }

    monkeypatch.setattr(suite, "measure", fake_measure)
    jobs = [("CartPole-v1", c, 1000, s) for s in (0, 1) for c in ("manual", "agent2")]
    budgets, targets = {"CartPole-v1": 1000}, {"CartPole-v1": 475.0}
    suite.run_full(_args(tmp_path), jobs, budgets, targets, 0, 1)
    assert len(calls) == 4
    failed = json.loads(suite.record_path("CartPole-v1", "manual", 1000, 0).read_text())
    assert failed["failed"] and "env_steps" not in failed  # recorded as failed, never as 0 steps
    out = capsys.readouterr().out
    assert "4 of 4 runs on disk (bench/results/suite/" in out and "2 failed; measured at c1" in out

    calls.clear()
    first_call[0] = False
    suite.run_full(_args(tmp_path), jobs, budgets, targets, 0, 1)
    assert sorted(calls) == [("CartPole-v1", "manual", 0), ("CartPole-v1", "manual", 1)]  # the failed ones only
    calls.clear()
    suite.run_full(_args(tmp_path), jobs, budgets, targets, 0, 1)
    assert calls == []
    assert (
        "| classic_control | CartPole-v1 (475.0) | 1k | 499.5 ± 0.5 (met 2 of 2) at c1 | 499.5 ± 0.5 (2 seeds) at c1 | not run | not run |"
        in capsys.readouterr().out
    )


def test_shards_split_the_runs_without_overlap(full_dir, tmp_path, monkeypatch):
    seen: list[list] = [[], []]
    jobs = [("CartPole-v1", "agent2", 1000, s) for s in range(5)]
    for shard in (0, 1):
        monkeypatch.setattr(
            suite,
            "measure",
            lambda *job, _s=shard: (
                seen[_s].append(job[3])
                or {
                    "task": job[0],
                    "contender": job[1],
                    "seed": job[3],
                    "budget": job[2],
                    "commit": "c",
                    "score": 1.0,
                    "env_steps": 1,
                    "wall": 1.0,
                }
            ),
        )
        suite.run_full(_args(tmp_path), jobs, {"CartPole-v1": 1000}, {"CartPole-v1": 475.0}, shard, 2)
    assert sorted(seen[0]) == [0, 2, 4] and sorted(seen[1]) == [1, 3]


def test_shard_and_task_errors_are_one_line(tmp_path):
    for argv, says in (
        (["--full", "--shard", "2/2"], "--shard '2/2'"),
        (["--tasks", "my_env"], "not built-in tasks, so --budget is needed"),
    ):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "suite.py"), *argv], capture_output=True, text=True, cwd=tmp_path
        )
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr


def test_a_killed_manual_baseline_continues_from_its_last_epoch(tmp_path):
    """bench/plain_tianshou.py --folder: killed after its first epoch's checkpoint, the run called
    again continues from that epoch (Tianshou's resume_from_log) and ends with one test per epoch."""
    from faults import kill_once_written

    folder = tmp_path / "manual"
    cmd = [sys.executable, str(ROOT / "bench" / "plain_tianshou.py"), "--env", "CartPole-v1", "--budget-steps", "2000"]
    cmd += ["--eval-episodes", "2", "--folder", str(folder)]
    kill_once_written(cmd, ROOT, folder / "checkpoint.pt")
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rec = json.loads(done.stdout.strip().splitlines()[-1])
    steps = [step for step, _ in rec["curve"]]
    assert "resuming from" in done.stderr and rec["resumed_at"] > 0
    # the first sitting's tests (at 0 and nothing later: killed before its first epoch's test) are kept,
    # the second re-tests the policy it resumed with, then tests after each of its epochs
    assert steps[0] == 0 and rec["resumed_at"] in steps and steps == sorted(set(steps)) and len(steps) == 3
    assert rec["env_steps"] == steps[-1] and rec["score"] is not None
    assert len(rec["returns"]) == 2 and rec["score"] == sum(rec["returns"]) / 2
    # called on the finished run (suite.py --rescore): it evaluates the kept best policy, no training
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    rescored = json.loads(again.stdout.strip().splitlines()[-1])
    assert rescored["curve"] == rec["curve"] and rescored["env_steps"] == rec["env_steps"]
    assert rescored["resumed_at"] == rec["env_steps"] and len(rescored["returns"]) == 2
    # a finished run's checkpoint written before "last_tested" ends before the last test: it is played again
    from tools.checkpoint_io import load_checkpoint, save_atomic

    state = load_checkpoint(folder / "checkpoint.pt")
    del state["last_tested"]
    state["curve"] = state["curve"][:-1]
    save_atomic(state, folder / "checkpoint.pt")
    old = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert old.returncode == 0, old.stderr[-2000:]
    retested = json.loads(old.stdout.strip().splitlines()[-1])
    assert retested["curve"][:-1] == rec["curve"][:-1] and retested["curve"][-1][0] == rec["env_steps"]
    assert load_checkpoint(folder / "checkpoint.pt")["last_tested"] is True


STOPPABLE_SUITE = """
import json, os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from bench import suite

suite.FULL = Path({full!r})

def measure(task, contender, budget, seed, runs):
    child = "import os, time; open(%r, 'w').write(str(os.getpid())); time.sleep(600)" % ({marks!r} + f"/seed{{seed}}")
    proc, wall = suite._run([sys.executable, "-c", child])
    return {{"task": task, "contender": contender, "seed": seed, "budget": budget, "commit": "c",
            "error": proc.stderr[-200:], "wall": wall, "failed": True}}

suite.measure = measure
sys.argv = ["suite.py", "--full", "--tasks", "CartPole-v1", "--seeds", "0", "1", "--contenders", "manual",
            "--jobs", "1", "--no-llm", "--runs-dir", {runs!r}]
suite.main()
"""


def test_a_terminated_suite_stops_its_runs_starts_no_other_and_records_none(tmp_path):
    """``kill`` of the suite (SIGTERM) used to leave its runs training on as orphans; now it ends them
    (each run's own worker dies with it), starts none of the queued ones and writes no record, so the
    next call resumes them all."""
    import contextlib
    import os
    import signal
    import time

    marks = tmp_path / "marks"
    marks.mkdir()
    script = STOPPABLE_SUITE.format(
        root=str(ROOT), full=str(tmp_path / "suite"), marks=str(marks), runs=str(tmp_path / "runs")
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (marks / "seed0").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    run_pid = int((marks / "seed0").read_text())
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert "stopped by signal" in err
        time.sleep(0.2)
        with pytest.raises(ProcessLookupError):  # the run is gone, not orphaned
            os.kill(run_pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(run_pid, signal.SIGKILL)
    assert not (marks / "seed1").exists()  # the queued run never started
    assert not list((tmp_path / "suite").rglob("*.json"))  # nothing recorded, so nothing is skipped later
