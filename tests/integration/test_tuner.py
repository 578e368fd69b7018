"""The tuner contender (bench/tuner.py): trials share the budget, and a call stopped part-way continues
from its Optuna study and the cut trial's checkpoint instead of starting over."""

import json
import subprocess
import sys

import optuna
from conftest import ROOT
from faults import kill_once_written


def test_a_killed_tuner_keeps_its_finished_trials_and_continues_the_cut_one(tmp_path):
    folder = tmp_path / "tuner"
    cmd = [sys.executable, str(ROOT / "bench" / "tuner.py"), "--env", "CartPole-v1", "--budget-steps", "6000"]
    # seed 11: the sampler draws collections of 256 and 512 steps for the two trials, so each trial of
    # 3k steps has several epochs (checkpoints) to be cut between (checked below)
    cmd += ["--seed", "11", "--trials", "2", "--eval-episodes", "2", "--folder", str(folder)]
    kill_once_written(cmd, ROOT, folder / "trial_1" / "checkpoint.pt")  # trial 0 done, trial 1 part-way
    study = optuna.load_study(study_name="tuner", storage=f"sqlite:///{folder / 'study.db'}")
    first = study.trials[0]
    assert [t.state.name for t in study.trials] == ["COMPLETE", "RUNNING"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rec = json.loads(done.stdout.strip().splitlines()[-1])
    assert rec["error"] is None and rec["score"] is not None
    assert [t["state"] for t in rec["trials"][:2]] == ["COMPLETE", "COMPLETE"]  # neither started again
    assert rec["resumed_at"] == first.user_attrs["env_steps"]
    assert rec["trials"][0]["params"] == first.params and rec["trials"][0]["best_test"] == first.value
    # trial 0 trained once; trial 1 continued from its checkpoint, not from step 0
    assert (folder / "trial_0" / "progress.jsonl").read_text().count('"kind": "start"') == 1
    cut = json.loads((folder / "trial_1" / "train_result.json").read_text())
    job = json.loads((folder / "trial_1" / "job.json").read_text())["algo"]
    assert job["epoch_steps"] < job["budget_steps"] and 0 < cut["resumed_at_step"] < job["budget_steps"]
    # every step of both sittings counts: trial 1's replayed steps included
    assert rec["env_steps"] == sum(t["env_steps"] for t in rec["trials"]) > 6000 - 1000  # < 1000 left: done
    assert rec["curve"] == sorted(rec["curve"]) and rec["curve"][-1][0] > rec["resumed_at"]
