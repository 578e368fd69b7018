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
