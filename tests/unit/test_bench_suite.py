"""The full suite builds its table over several calls: finished results are kept, failed and missing
ones are run, a stopped Agent² run is resumed rather than started again."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT))


from bench import suite


def test_a_stopped_agent2_run_is_resumed_and_a_finished_one_only_read(tmp_path, monkeypatch):
    commands = []
    runs = tmp_path / "runs"

    def fake_run(cmd, env=None):
        commands.append(cmd[3])  # python -m app.cli <command>
        return subprocess.CompletedProcess(cmd, 1, "", "stopped"), 0.5

    monkeypatch.setattr(suite, "_run", fake_run)
    out = suite.run_agent2("CartPole-v1", 1000, 0, "expert", runs, "t")
    assert commands == ["run"] and out["error"] == "stopped"
    monkeypatch.setattr("graph.runner.thread_recorded", lambda thread, runs_dir: thread == "t")
    runs.mkdir()
    (runs / "checkpoints.sqlite").touch()
    suite.run_agent2("CartPole-v1", 1000, 0, "expert", runs, "t")
    assert commands == ["run", "resume"]


def test_a_resume_trains_again_only_when_the_checkpoint_no_longer_fits(tmp_path, monkeypatch):
    """Never throw away hours of training: ``--restart-iteration`` only after a plain resume refused."""
    calls = []
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "checkpoints.sqlite").touch()
    monkeypatch.setattr("graph.runner.thread_recorded", lambda thread, runs_dir: True)
    for stderr in ("killed", "holds training that cannot continue: ...; resume with --restart-iteration to ..."):
        calls.clear()
        monkeypatch.setattr(
            suite,
            "_run",
            lambda cmd, env=None, _e=stderr: (
                calls.append(cmd[3:-2]) or (subprocess.CompletedProcess(cmd, 1, "", _e), 0.5)
            ),
        )
        suite.run_agent2("CartPole-v1", 1000, 0, "expert", runs, "t")
        assert calls[0] == ["resume", "t"]
        assert calls[1:] == ([] if stderr == "killed" else [["resume", "t", "--restart-iteration"]])


def test_a_run_continued_by_later_commits_lists_each_of_them(tmp_path):
    """A run stopped at one commit and continued at another says so in its record."""
    runs = tmp_path / "runs"
    assert suite.sitting(runs, "k", "aaa") == ["aaa"]
    assert suite.sitting(runs, "k", "aaa") == ["aaa"]  # the same commit again: one entry
    assert suite.sitting(runs, "k", "bbb") == ["aaa", "bbb"]
    assert suite.sitting(runs, "other", "bbb") == ["bbb"]


def test_again_keeps_each_earlier_record_under_its_commit_and_refuses_a_runs_dir_holding_the_run(tmp_path, monkeypatch):
    import json

    import pytest

    monkeypatch.setattr(suite, "FULL", tmp_path / "suite")
    done, failed, missing = (
        ("smax_8m", "agent2", 1000, 0),
        ("smax_3m", "agent2", 1000, 0),
        ("smax_2s3z", "zoo", 1000, 0),
    )
    for job, record in ((done, {"commit": "abc1234", "score": 0.0}), (failed, {"commit": "def5678", "failed": True})):
        suite.record_path(*job).parent.mkdir(parents=True)
        suite.record_path(*job).write_text(json.dumps(record))
    runs = tmp_path / "runs"
    (runs / suite.run_key(*done)).mkdir(parents=True)
    with pytest.raises(SystemExit, match="holds that run already"):
        suite.keep_earlier_records([done, failed, missing], runs)
    assert suite.finished(suite.record_path(*done))  # nothing moved
    suite.keep_earlier_records([done, failed, missing], tmp_path / "fresh-runs")
    assert not suite.record_path(*done).exists()
    kept = suite.record_path(*done).with_name("agent2-b1000-seed0-at-abc1234.json")
    assert json.loads(kept.read_text())["score"] == 0.0
    assert suite.record_path(*failed).exists()  # a failed record is run again anyway, not kept aside


def test_rescore_keeps_a_manual_record_aside_only_where_its_finished_run_is_there_to_evaluate(tmp_path, monkeypatch):
    import json

    import pytest

    monkeypatch.setattr(suite, "FULL", tmp_path / "suite")
    manual, agent2 = ("Hopper-v5", "manual", 1000, 0), ("Hopper-v5", "agent2", 1000, 0)
    for job in (manual, agent2):
        suite.record_path(*job).parent.mkdir(parents=True, exist_ok=True)
        suite.record_path(*job).write_text(json.dumps({"commit": "abc1234", "score": 1.0}))
    runs = tmp_path / "runs"
    with pytest.raises(SystemExit, match="no finished manual run"):  # no folder: nothing to evaluate
        suite.keep_earlier_records([manual], runs, rescore=True)
    (runs / suite.run_key(*manual)).mkdir(parents=True)
    (runs / suite.run_key(*manual) / "checkpoint.pt").touch()
    (runs / suite.run_key(*agent2)).mkdir(parents=True)
    with pytest.raises(SystemExit, match="only manual runs"):  # Agent²'s finished thread is not re-evaluated
        suite.keep_earlier_records([agent2], runs, rescore=True)
    assert suite.finished(suite.record_path(*agent2))
    suite.keep_earlier_records([manual], runs, rescore=True)
    assert not suite.record_path(*manual).exists()
    assert suite.record_path(*manual).with_name("manual-b1000-seed0-at-abc1234.json").exists()


def test_the_family_table_names_the_commits_behind_each_cell():
    """Every figure of the issue-16 table says which commits measured it (a run continued over several
    sittings lists each), a contender without a record says "not run" (and "—" where it has no runs for
    the task), and a task without any record still has its row."""
    base = {"task": "smax_3m", "budget": 1000000, "env_steps": 1000, "wall": 1.0, "curve": []}
    records = [
        {**base, "contender": "agent2", "seed": 0, "score": 0.8, "commit": "bbb", "run_commits": ["aaa", "bbb"]},
        {**base, "contender": "agent2", "seed": 1, "score": 1.0, "commit": "ccc"},
        {**base, "contender": "zoo", "seed": 0, "score": 0.7, "commit": "ddd"},
    ]
    rows = suite.summarise(records, {"smax_3m": 0.9})
    for row in rows:
        row["met"] = sum(suite.met_target(r, 0.9) for r in records if r["contender"] == row["contender"])
    lines = suite.family_table(rows, {"smax_3m": 1000000, "smax_8m": 1000000}).splitlines()
    line = lines[2]
    assert "0.90 ± 0.10 (met 1 of 2) at aaa, bbb, ccc" in line
    assert "0.70 (1 seed) at ddd" in line
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert (cells[4], cells[6]) == ("—", "—")  # manual and tuner: no such contender for a multi-agent task
    assert lines[3].startswith("| smax | smax_8m (0.94) | 1000k | not run | — | not run | — |")


def test_the_family_table_says_how_far_a_missed_target_is():
    base = {"task": "Ant-v5", "budget": 300000, "env_steps": 1000, "wall": 1.0, "curve": []}
    records = [
        {**base, "contender": "agent2", "seed": 0, "score": 940.2, "commit": "aaa", "status": "budget_exhausted"}
    ]
    rows = suite.summarise(records, {"Ant-v5": 2500.0})
    rows[0]["met"] = 0
    line = suite.family_table(rows, {"Ant-v5": 300000}).splitlines()[-1]
    assert "940.2 (met 0 of 1; mean 1559.8 short of the target) at aaa" in line


def test_an_agent2_run_meets_its_target_by_its_own_status_a_baseline_by_its_score():
    """0.90 at a 0.9 target: a baseline's record has met it; an Agent² run whose noise-aware rule (or
    confirmation on fresh seeds) said no has not, and one whose rule said yes has."""
    assert suite.met_target({"score": 0.9}, 0.9)
    assert not suite.met_target({"score": 0.9, "status": "budget_exhausted"}, 0.9)
    assert suite.met_target({"score": 0.91, "status": "target_met"}, 0.9)
    assert not suite.met_target({"score": None, "status": "failed"}, 0.9)
    assert not suite.met_target({"score": 5.0}, None)


def test_quick_keeps_its_small_budgets_for_the_tasks_it_is_given():
    """``--quick --tasks CartPole-v1`` used to train CartPole on its full 100k budget (session 15 compared
    that run with the quick suite's 30k one); the quick budget holds for the tasks it names."""
    assert suite.task_budgets(["CartPole-v1"], None, full=False, quick=True) == {"CartPole-v1": 30_000}
    assert suite.task_budgets(["CartPole-v1"], None, full=False, quick=False) == {"CartPole-v1": 100_000}
    assert suite.task_budgets(["CartPole-v1"], 5_000, full=False, quick=True) == {"CartPole-v1": 5_000}
    assert suite.task_budgets(None, None, full=False, quick=True) == suite.QUICK
    assert suite.task_budgets(["Hopper-v5"], None, full=False, quick=True) == {"Hopper-v5": 300_000}


def test_quick_leaves_the_tuner_out_also_for_the_tasks_it_is_given():
    """``--quick --tasks CartPole-v1`` ran the tuner although ``--help`` says --quick leaves it out."""
    assert suite.suite_mode(False, True, ["CartPole-v1"]) == "quick"
    assert suite.suite_mode(False, False, ["CartPole-v1"]) == "custom"
    assert suite.suite_mode(False, False, None) == "quick"
    assert suite.suite_mode(True, False, ["CartPole-v1"]) == "full"
    assert "tuner" not in suite.default_contenders("quick", llm=False)
    assert "tuner" in suite.default_contenders("custom", llm=False)
    assert suite.default_contenders("full", llm=True) == [*suite.CONTENDERS, "agent2-llm"]


def test_a_failed_agent2_run_is_tried_again_under_a_new_thread_a_finished_or_stopped_one_is_kept(tmp_path):
    """A run that ended without an evaluated policy leaves a result.json; reading it again on every call
    recorded the same failure for ever. The next try is a new thread beside it."""
    import json

    runs = tmp_path / "runs"
    assert suite.agent2_thread(runs, "k") == "k"  # nothing yet: the job's own thread
    (runs / "k").mkdir(parents=True)
    assert suite.agent2_thread(runs, "k") == "k"  # started, not finished: resumed
    (runs / "k" / "result.json").write_text(json.dumps({"status": "failed", "best": None}))
    assert suite.agent2_thread(runs, "k") == "k-retry1"
    (runs / "k-retry1").mkdir()
    (runs / "k-retry1" / "result.json").write_text(json.dumps({"best": {"eval_mean": 3.0}}))
    assert suite.agent2_thread(runs, "k") == "k-retry1"  # finished with a policy: read, not run again


def test_a_bug_in_measuring_one_run_is_recorded_and_the_suite_goes_on(tmp_path, monkeypatch, capsys):
    """An exception in one run's measurement ended the suite's recording while its other runs trained
    on; it is now that run's failed record, and the others are recorded."""
    import argparse
    import json

    monkeypatch.setattr(suite, "FULL", tmp_path / "suite")

    def fake_measure(task, contender, budget, seed, runs):
        if seed == 0:
            raise KeyError("best")
        return {"task": task, "contender": contender, "budget": budget, "seed": seed, "score": 1.0, "commit": "x",
                "env_steps": 10, "wall": 1.0, "curve": []}  # fmt: skip

    monkeypatch.setattr(suite, "measure", fake_measure)
    jobs = [("CartPole-v1", "manual", 1000, 0), ("CartPole-v1", "manual", 1000, 1)]
    args = argparse.Namespace(again=False, rescore=False, table=False, jobs=1, runs_dir=tmp_path / "runs")
    suite.run_full(args, jobs, {"CartPole-v1": 1000}, {"CartPole-v1": 475.0}, 0, 1)
    bad = json.loads(suite.record_path(*jobs[0]).read_text())
    assert bad["failed"] and "KeyError" in bad["error"]
    assert json.loads(suite.record_path(*jobs[1]).read_text())["score"] == 1.0
    assert not list((tmp_path / "suite").rglob(".*.tmp"))  # written whole, no temporary left
    assert "(1 seed; 1 failed)" in capsys.readouterr().out


def test_a_run_finished_in_an_earlier_sitting_is_recorded_under_the_commits_that_ran_it(tmp_path, monkeypatch):
    import json

    runs = tmp_path / "runs"
    key = suite.run_key("CartPole-v1", "agent2", 1000, 0)
    suite.sitting(runs, key, "old1234")
    (runs / key).mkdir(parents=True)
    (runs / key / "result.json").write_text(
        json.dumps({"status": "target_met", "best": {"eval_mean": 500.0}, "env_steps_total": 10, "iterations": []})
    )
    with __import__("sqlite3").connect(runs / "agent2.db") as db:
        db.execute("create table iterations (thread_id, iteration, env_steps)")
        db.execute("create table metrics (thread_id, iteration, env_step, test_mean)")
    monkeypatch.setattr(suite, "provenance", lambda: {"commit": "new5678", "command": "c", "machine": {}})
    rec = suite.measure("CartPole-v1", "agent2", 1000, 0, runs)
    assert rec["adopted"] and rec["commit"] == "old1234" and rec["run_commits"] == ["old1234"]
    assert rec["recorded_at"] == "new5678" and rec["score"] == 500.0


def test_again_twice_at_one_commit_keeps_both_earlier_records(tmp_path, monkeypatch):
    import json

    monkeypatch.setattr(suite, "FULL", tmp_path / "suite")
    job = ("Hopper-v5", "agent2", 1000, 0)
    path = suite.record_path(*job)
    path.parent.mkdir(parents=True)
    for score in (1.0, 2.0):
        path.write_text(json.dumps({"commit": "abc1234", "score": score}))
        suite.keep_earlier_records([job], tmp_path / f"fresh-{score}")
    kept = sorted(p.name for p in path.parent.iterdir())
    assert kept == ["agent2-b1000-seed0-at-abc1234-2.json", "agent2-b1000-seed0-at-abc1234.json"]


def test_a_job_another_suite_is_running_in_the_same_folder_is_left_to_it(tmp_path, monkeypatch):
    """Two suites whose job lists overlap (a whole --full beside a --tasks call) trained one job in one
    folder at once; the second now leaves it to the first and records nothing for it."""
    import fcntl

    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setattr(suite, "_measure", lambda *a: {"score": 1.0})
    job = ("CartPole-v1", "manual", 1000, 0)
    with open(runs / f"{suite.run_key(*job)}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            suite.measure(*job, runs)
            raise AssertionError("measured a job another suite holds")
        except suite.Busy as e:
            assert "another suite is running it" in str(e)
    assert suite.measure(*job, runs) == {"score": 1.0}  # released: measured


def test_a_gain_over_a_score_of_zero_is_not_a_number_of_trillions():
    assert suite._gain(95.0, -1e-11) == "—" and suite._gain(95.0, 0.0) == "—"
    assert suite._gain(230.7, 195.6) == "+18 %" and suite._gain(-148.1, -138.0) == "-7 %"


def test_an_agent2_record_keeps_the_evaluations_episode_metrics(tmp_path):
    """MetaDrive's success rate and route completion (the issue asks for both beside the return)."""
    import json
    import sqlite3

    runs = tmp_path / "runs"
    (runs / "t").mkdir(parents=True)
    best = {"eval_mean": 280.0, "eval_metrics": {"arrive_dest": 0.6, "route_completion": 0.77}}
    result = {"best": best, "env_steps_total": 400, "iterations": [{"algorithm": "PPO"}], "status": "done"}
    (runs / "t" / "result.json").write_text(json.dumps(result))
    with sqlite3.connect(runs / "agent2.db") as db:
        db.execute("create table iterations (thread_id, iteration, env_steps)")
        db.execute("create table metrics (thread_id, iteration, env_step, test_mean)")
    out = suite.run_agent2("MetaDriveEnv", 400, 0, "expert", runs, "t")
    assert out["score"] == 280.0 and out["metrics"] == {"arrive_dest": 0.6, "route_completion": 0.77}
    assert out["untrained_tests"] == []  # a database from before the mark: no test is taken for untrained
    base = {"task": "MetaDriveEnv", "budget": 400, "env_steps": 400, "wall": 1.0, "curve": [], "commit": "aaa"}
    records = [
        {**base, "contender": "agent2", "seed": 0, **out},
        {**base, "contender": "agent2", "seed": 1, "score": 240.0, "metrics": {"arrive_dest": 0.4}},
    ]
    rows = suite.summarise(records, {"MetaDriveEnv": 260.0})
    rows[0]["met"] = 1
    line = suite.family_table(rows, {"MetaDriveEnv": 400}).splitlines()[-1]
    assert "260.0 ± 20.0 (met 1 of 2); arrive_dest 0.50; route_completion 0.77 at aaa" in line


def test_a_target_met_by_the_untrained_policy_is_not_a_step_to_the_target(tmp_path):
    """An ant that stands still earns its healthy reward before any update: the suite's steps to the
    target count only trained policies' tests, read from the run database's mark. An on-policy
    iteration's untrained test shares its step with the last test of the one before: the mark is
    kept by position, so that trained test still counts."""
    import json
    import sqlite3

    runs = tmp_path / "runs"
    (runs / "t").mkdir(parents=True)
    result = {"best": {"eval_mean": 990.0}, "env_steps_total": 300, "iterations": [{"algorithm": "PPO"}] * 2}
    (runs / "t" / "result.json").write_text(json.dumps({**result, "status": "target_met"}))
    with sqlite3.connect(runs / "agent2.db") as db:
        db.execute("create table iterations (thread_id, iteration, env_steps)")
        db.executemany("insert into iterations values ('t', ?, ?)", [(1, 200), (2, 100)])
        db.execute("create table metrics (thread_id, iteration, env_step, test_mean, untrained)")
        rows = [(1, 0, 980.0, 1), (1, 100, 200.0, 0), (1, 200, 970.0, 0), (2, 0, 975.0, 1), (2, 100, 990.0, 0)]
        db.executemany("insert into metrics values ('t', ?, ?, ?, ?)", rows)
    out = suite.run_agent2("Ant-v5", 300, 0, "expert", runs, "t")
    assert out["curve"] == [[0, 980.0], [100, 200.0], [200, 970.0], [200, 975.0], [300, 990.0]]
    assert out["untrained_tests"] == [0, 3]
    assert suite.steps_to_target(out["curve"], 950.0, out["untrained_tests"]) == 200  # iteration 1's trained test
    assert suite.steps_to_target(out["curve"], 972.0, out["untrained_tests"]) == 300  # not iteration 2's untrained
    assert suite.steps_to_target(out["curve"], 950.0) == 0  # what the suite counted before the mark


def test_each_run_takes_one_torch_thread_unless_the_caller_set_its_own(monkeypatch):
    """``--jobs`` runs share the cores one thread each; a caller's AGENT2_TORCH_THREADS (one job given
    both cores) reaches the run instead of being overwritten."""
    cmd = [sys.executable, "-c", "import os; print(os.environ['AGENT2_TORCH_THREADS'])"]
    monkeypatch.delenv("AGENT2_TORCH_THREADS", raising=False)
    assert suite._run(cmd)[0].stdout.strip() == "1"
    monkeypatch.setenv("AGENT2_TORCH_THREADS", "2")
    assert suite._run(cmd)[0].stdout.strip() == "2"
    monkeypatch.setenv("AGENT2_TORCH_THREADS", "two")
    with pytest.raises(SystemExit, match="'two'"):
        suite._run(cmd)
