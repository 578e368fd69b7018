"""The CLI's error paths: one line, non-zero exit, no traceback, nothing recorded lost."""

import pytest
from conftest import ENV_FILE, agent2


def one_line_error(proc, *fragments: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("agent2: error:") and "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["run", "--env", "CartPol-v1"], ["unknown env 'CartPol-v1'", "did you mean CartPole-v1"]),
        (["run", "--env", "nowhere/my_env.py:make_env"], ["'nowhere/my_env.py' does not exist"]),
        (["run", "--env", f"{ENV_FILE}:make_enf"], ["defines no factory 'make_enf'"]),
        (["run", "--env", f"{ENV_FILE}:RaisesOnStep"], ["raised in step()", "simulator exploded"]),
        (["run", "--env", f"{ENV_FILE}:RaisesOnReset"], ["raised in reset()", "no scenario loaded"]),
        (["run", "--env", f"{ENV_FILE}:opaque_obs"], ["no part of observation space", "Opaque: dropped"]),
        (["run", "--env", "CartPole-v1", "--budget-steps", "-5"], ["--budget-steps", "positive integer", "'-5'"]),
        (["run", "--env", "CartPole-v1", "--budget-steps", "lots"], ["positive integer", "'lots'"]),
        (["run", "--env", "CartPole-v1", "--target", "nan"], ["finite number"]),
        (["resume", "no-such-thread"], ["no run with thread id 'no-such-thread'"]),
        (["show", "no-such-thread"], ["no run with thread id 'no-such-thread'"]),
        (["play", "no/such/agent"], ["agent folder 'no/such/agent' does not exist"]),
    ],
)
def test_bad_input_gets_one_line(args, fragments, runs_dir):
    if args[0] in ("run", "resume", "show"):
        args = [*args, "--runs-dir", str(runs_dir)]
    one_line_error(agent2(*args, timeout=120), *fragments)


def test_tasks_lists_the_builtins():
    out = agent2("tasks").stdout
    for name in ("CartPole-v1", "Acrobot-v1", "Pendulum-v1", "MountainCarContinuous-v0", "LunarLander-v3"):
        assert name in out
