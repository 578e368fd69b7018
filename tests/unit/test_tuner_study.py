"""The tuner's study across calls (bench/tuner.py ``open_study``): a resumed call draws new trials."""

from __future__ import annotations

import sys

import optuna
from conftest import ROOT

sys.path.insert(0, str(ROOT))

from bench.tuner import open_study, sample


def _draw(study: optuna.Study) -> dict:
    trial = study.ask()
    sample(trial, "SAC")
    study.tell(trial, 1.0)
    return trial.params


def test_a_resumed_study_does_not_draw_the_first_trials_again(tmp_path):
    first = _draw(open_study(tmp_path, seed=0, warmup_tests=1))  # a call that stops after one trial
    resumed = open_study(tmp_path, seed=0, warmup_tests=1)
    assert len(resumed.trials) == 1 and resumed.trials[0].params == first
    second = _draw(resumed)
    # seeded with the seed alone, the resumed sampler drew trial 0's parameters again
    assert second != first
    assert _draw(open_study(tmp_path / "other", seed=0, warmup_tests=1)) == first  # a new study: the seed's draws


def test_resumed_draws_still_follow_the_seed(tmp_path):
    draws = []
    for folder in (tmp_path / "a", tmp_path / "b"):
        _draw(open_study(folder, seed=3, warmup_tests=1))
        draws.append(_draw(open_study(folder, seed=3, warmup_tests=1)))
    assert draws[0] == draws[1]


def test_a_call_stopped_right_after_asking_for_a_trial_resumes_that_trial(tmp_path, monkeypatch):
    """Stopped between ``study.ask()`` and giving the trial its share, the resumed call read a budget
    the trial did not have (KeyError on every resume); the cut trial now gets its share then."""
    from types import SimpleNamespace

    from bench import tuner

    open_study(tmp_path, seed=0, warmup_tests=1).ask()  # the stopped call's trial: RUNNING, no share
    shares = []

    def fake_trial(trial, env, mdp, base, seed, work):
        shares.append((trial.number, int(trial.user_attrs["budget"]), int(trial.user_attrs["offset"])))
        trial.set_user_attr("env_steps", int(trial.user_attrs["budget"]))
        trial.study.tell(trial, 1.0)
        return int(trial.user_attrs["budget"])

    monkeypatch.setattr(tuner, "run_trial", fake_trial)
    monkeypatch.setattr(
        tuner, "run_evaluation", lambda folder, episodes: SimpleNamespace(mean=1.0, std=0.0, error=None)
    )
    out = tuner.tune("CartPole-v1", 4000, 0, 2, 1, tmp_path)
    assert shares == [(0, 2000, 0), (1, 2000, 2000)] and out["env_steps"] == 4000
