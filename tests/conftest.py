import functools
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / "tests" / "envfiles" / "custom_envs.py"
MA_FILE = ROOT / "tests" / "envfiles" / "ma_envs.py"
BLINK = f"{ENV_FILE}:blink"
"""Observations that show the goal only now and then: a test env for memory."""
TOY = f"{MA_FILE}:make_env"
"""A toy multi-agent env."""
AGENT2_EXE = Path(sys.executable).parent / "agent2"
CALLER_SETTINGS = re.compile(r"^(OPENAI_|AGENT2_|RAY_ADDRESS$)")
"""The caller's variables that would change what a test checks: a model endpoint switches the designer,
AGENT2_REVIEW stops every run for review, RAY_ADDRESS moves candidates onto a cluster."""
KEPT = {"AGENT2_SANDBOX"}
"""Kept: CI sets AGENT2_SANDBOX=bwrap so that missing isolation fails instead of skipping."""


def seal_environment(environ: dict | None = None) -> list[str]:
    """Drop the caller's settings (``CALLER_SETTINGS``) from ``environ`` (this process's environment by
    default, so every subprocess a test starts inherits the sealed one); the names dropped."""
    environ = os.environ if environ is None else environ
    dropped = [k for k in list(environ) if CALLER_SETTINGS.match(k) and k not in KEPT]
    for k in dropped:
        del environ[k]
    return dropped


def pytest_configure(config) -> None:
    seal_environment()  # before any test: every subprocess a test starts inherits the sealed environment


def agent2(
    *args: str, timeout: float = 300, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the real ``agent2`` CLI in a subprocess (from ``cwd``: the installed ``agent2`` command, as a
    user runs it there; else ``python -m app.cli`` from the project folder)."""
    cmd = [str(AGENT2_EXE)] if cwd is not None else [sys.executable, "-m", "app.cli"]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
    )


def cli_args(command: str, *positional: str, **options: object) -> list[str]:
    """An ``agent2`` argv: ``cli_args("run", env="CartPole-v1", budget_steps=2000, no_progress=True)`` is
    ``["run", "--env", "CartPole-v1", "--budget-steps", "2000", "--no-progress"]`` (True: a bare flag)."""
    args = [command, *positional]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return args


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


IDENTITY_MDP = """import numpy as np
def observation(obs):
    return obs
def action(act):
    return act
def reward(obs, action, next_obs, reward, info):
    return reward
"""
"""MDP code that changes nothing (a test's starting point)."""


def tiny_run(
    runs_dir: Path,
    env: str,
    thread: str,
    budget: int,
    eval_episodes: int = 3,
    timeout: float = 400,
    max_iterations: int = 1,
) -> dict:
    """``agent2 run`` (one iteration unless told) without a progress bar; returns result.json."""
    import json

    proc = agent2(
        *cli_args(
            "run",
            env=env,
            budget_steps=budget,
            max_iterations=max_iterations,
            eval_episodes=eval_episodes,
            runs_dir=runs_dir,
            thread_id=thread,
            no_progress=True,
        ),
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((runs_dir / thread / "result.json").read_text())


def missed_status(result: dict) -> str:
    """The status of a finished run (its ``result.json``) that missed its target after the router found
    no room: the budget's reason when too few steps were left for another iteration, else the passes'."""
    from tools.run_rules import budget_left_for_iteration

    left = result["budget_steps"] - result["env_steps_total"]
    return "iterations_exhausted" if budget_left_for_iteration(left) else "budget_exhausted"


def free_port() -> int:
    """A TCP port nothing listens on, on the loopback (for servers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_checkpoint(progress: Path, step: int, proc: subprocess.Popen, timeout: float = 240) -> int:
    """The env step of the first checkpoint at or past ``step`` in a run's progress file (the run must
    still be going)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "run ended before it could be killed"
        if progress.exists():
            seen = [json.loads(x) for x in progress.read_text().splitlines() if x.endswith("}")]
            ckpt = [e["env_step"] for e in seen if e["kind"] == "checkpoint"]
            if ckpt and ckpt[-1] >= step:
                return ckpt[-1]
        time.sleep(0.2)
    raise AssertionError("no checkpoint in time")


def original_design(env: str, history: int = 1):
    """The env's own MDP (``original_mdp``) with ``history`` stacked frames."""
    from nodes.design_mdp import original_mdp
    from tools.profiling import profile_env

    return original_mdp(profile_env(env, episodes=2).obs_dim).model_copy(update={"history": history})


def mdp_answer(code: str, summary: str = "scripted design") -> dict:
    """A model's MDP design answer (CartPole's 4 observations) for the scripted LLM designer."""
    return {"code": code, "obs_dim": 4, "summary": summary, "rationale": "test"}


def scalars(folder):
    """TensorBoard's scalars in ``folder`` (every point kept)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


@functools.cache
def profile_once(env: str):
    """``profile_env`` of an env, three episodes, measured once per test process."""
    from tools.profiling import profile_env

    return profile_env(env, episodes=3)


def quick_win_winners(first_seed: int, envs: int = 10) -> int:
    """How many of ``envs`` QuickWin envs seeded ``first_seed`` + i are winners (``custom_envs.py``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("custom_envs_copy", ENV_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    winners = 0
    for i in range(envs):
        env = module.quick_win()
        env.reset(seed=first_seed + i)
        winners += env.win
    return winners


def processes_naming(text: str) -> list[int]:
    """The pids of the processes whose command line holds ``text`` (a folder, an agent's path)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found
