"""`agent2 tasks` reads the built-in tasks' spaces from a disk cache keyed on the task and the env packages."""

import json
from dataclasses import replace

import pytest

from envs import task_spaces as ts
from envs.registry import BUILTIN_TASKS


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT2_CACHE_DIR", str(tmp_path))
    return tmp_path / ts.CACHE_FILE


def test_spaces_are_measured_once_then_read_from_the_cache(cache, monkeypatch):
    tasks = [BUILTIN_TASKS["CartPole-v1"], BUILTIN_TASKS["Pendulum-v1"]]
    assert ts.task_spaces(tasks) == {"CartPole-v1": ("Box(4,)", "Discrete(2)"), "Pendulum-v1": ("Box(3,)", "Box(1,)")}
    assert set(json.loads(cache.read_text())) == {"CartPole-v1", "Pendulum-v1"}

    def no_env(task):
        raise AssertionError(f"{task.name} was built again")

    monkeypatch.setattr(ts, "_measure", no_env)
    assert ts.task_spaces(tasks)["CartPole-v1"] == ("Box(4,)", "Discrete(2)")


def test_a_changed_entry_or_package_version_is_measured_again(cache, monkeypatch):
    task = BUILTIN_TASKS["CartPole-v1"]
    ts.task_spaces([task])
    built = []
    real = ts._measure
    monkeypatch.setattr(ts, "_measure", lambda t: built.append(t.name) or real(t))
    ts.task_spaces([replace(task, budget_steps=task.budget_steps + 1)])
    monkeypatch.setattr(ts, "_versions", lambda: {"gymnasium": "99.0"})
    ts.task_spaces([task])
    assert built == ["CartPole-v1", "CartPole-v1"]


def test_an_env_that_cannot_be_built_is_named_and_not_cached(cache, monkeypatch):
    task = replace(BUILTIN_TASKS["CartPole-v1"], name="NoSuchEnv-v0", env_id="NoSuchEnv-v0")
    monkeypatch.setitem(BUILTIN_TASKS, task.name, task)
    obs, act = ts.task_spaces([task])[task.name]
    assert obs == "unavailable" and act
    assert not cache.exists() or task.name not in json.loads(cache.read_text())


def test_a_torn_cache_file_is_measured_again(cache):
    cache.write_text("{not json")
    assert ts.task_spaces([BUILTIN_TASKS["CartPole-v1"]]) == {"CartPole-v1": ("Box(4,)", "Discrete(2)")}
    assert "CartPole-v1" in json.loads(cache.read_text())
