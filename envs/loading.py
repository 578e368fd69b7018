"""Resolve an env reference into a Gymnasium env with flat float observations.

An env reference is one of:

- a built-in task name (``agent2 tasks``), e.g. ``CartPole-v1``;
- a registered Gymnasium id, e.g. ``Taxi-v3``;
- ``path/to/file.py:Factory`` (``:make_env`` when the factory is left out), where the factory is a
  function or an ``Env`` subclass called with no arguments;
- ``package.module:Factory`` for an importable module, or ``package.module:EnvId`` (Gymnasium's own
  form: importing the module registers the id, e.g. ``minigrid:MiniGrid-Empty-5x5-v0``).

A factory may return a PettingZoo env (parallel or AEC): the env is then multi-agent.
``make_parallel_env`` builds the game for training (``envs/multiagent.py``); ``make_env`` gives
one agent's view of it (the others acting at random) for profiling and MDP checks.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import inspect
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gymnasium as gym
from pettingzoo.utils.env import ParallelEnv

from envs.errors import EnvLoadError, EnvTimeoutError
from envs.multiagent import SoloAgentEnv, as_parallel, is_pettingzoo
from envs.registry import BUILTIN_TASKS, PER_AGENT
from envs.spaces import standardize

DEFAULT_FACTORY = "make_env"
DEFAULT_MAX_EPISODE_STEPS = 1000
"""Episode cap for envs without a time limit of their own, so every episode ends."""
ENV_CALL_TIMEOUT_S = float(os.environ.get("AGENT2_ENV_CALL_TIMEOUT", "60"))
"""Longest one call into a user's env code (factory, reset(), step()) may take while Agent² checks it."""


@contextmanager
def call_limit(ref: str, call: str, seconds: float | None = None) -> Iterator[None]:
    """Raise ``EnvTimeoutError`` naming the env and the call when the body runs longer than ``seconds``
    (``$AGENT2_ENV_CALL_TIMEOUT``, default 60). Only in the main thread (a signal timer); elsewhere the
    body runs unlimited."""
    limit = ENV_CALL_TIMEOUT_S if seconds is None else seconds
    if threading.current_thread() is not threading.main_thread() or limit <= 0:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise EnvTimeoutError(
            f"env {ref!r} did not return from {call} within {limit:g} s "
            "(raise $AGENT2_ENV_CALL_TIMEOUT if it is only slow)"
        )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _is_file_ref(ref: str) -> bool:
    path = ref.split(":", 1)[0]
    return path.endswith(".py") or os.sep in path


def canonical_ref(ref: str) -> str:
    """``ref`` with a relative env-file path made absolute, so workers that run in another folder
    find the file; other references unchanged."""
    ref = ref.strip()
    if ref in BUILTIN_TASKS or not _is_file_ref(ref):
        return ref
    path, sep, attr = ref.partition(":")
    if not Path(path).is_file():
        return ref  # errors name the file as the user wrote it
    return str(Path(path).resolve()) + sep + attr


def _load_module_from_file(path: Path) -> Any:
    if not path.is_file():
        raise EnvLoadError(f"env file {str(path)!r} does not exist")
    name = f"agent2_user_env_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise EnvLoadError(f"env file {str(path)!r} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise EnvLoadError(f"importing env file {str(path)!r} failed: {type(e).__name__}: {e}") from e
    return module


def _import_attr(target: str, attr: str) -> Any:
    try:
        module = importlib.import_module(target)
    except ImportError as e:
        raise EnvLoadError(f"cannot import env module {target!r}: {e}") from e
    return getattr(module, attr)


def resolve_factory(ref: str) -> Callable[..., Any]:
    """Return a no-argument callable that builds the raw (unwrapped by us) env for ``ref``."""
    if not isinstance(ref, str) or not ref.strip() or "\x00" in ref:
        raise EnvLoadError(f"env reference must be a non-empty string without NUL bytes, got {ref!r}")
    ref = ref.strip()
    if ref in BUILTIN_TASKS:
        task = BUILTIN_TASKS[ref]
        if task.factory:
            module, _, attr = task.factory.partition(":")
            return functools.partial(_import_attr(module, attr), **task.kwargs)
        env_id = task.env_id
        return lambda **kw: gym.make(env_id, **kw)
    if _is_file_ref(ref) or (":" in ref and ref not in gym.registry):
        target, _, attr = ref.partition(":")
        attr = attr or DEFAULT_FACTORY
        if _is_file_ref(ref):
            module = _load_module_from_file(Path(target))
            where = f"env file {target!r}"
        else:
            try:
                module = importlib.import_module(target)
            except Exception as e:
                raise EnvLoadError(f"cannot import env module {target!r}: {type(e).__name__}: {e}") from e
            where = f"module {target!r}"
        factory = getattr(module, attr, None)
        if factory is None and attr in gym.registry:  # module:EnvId: importing the module registered the id
            return lambda **kw: gym.make(attr, **kw)
        if factory is None:
            names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
            hint = difflib.get_close_matches(attr, names + list(gym.registry.keys()), n=3)
            extra = f" (did you mean {', '.join(hint)}?)" if hint else ""
            raise EnvLoadError(f"{where} defines no factory {attr!r}{extra}")
        if not callable(factory):
            raise EnvLoadError(f"{attr!r} in {where} is not callable")
        return factory
    if ref in gym.registry:
        return lambda **kw: gym.make(ref, **kw)
    known = list(dict.fromkeys([*BUILTIN_TASKS, *gym.registry.keys()]))
    close = difflib.get_close_matches(ref, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see 'agent2 tasks'"
    raise EnvLoadError(f"unknown env {ref!r}{hint}")


def _build(ref: str, render_mode: str | None = None) -> Any:
    factory = resolve_factory(ref)
    kwargs: dict[str, Any] = {}
    if render_mode is not None:
        try:
            params = inspect.signature(factory).parameters
            if "render_mode" in params or any(p.kind == p.VAR_KEYWORD for p in params.values()):
                kwargs["render_mode"] = render_mode
        except (TypeError, ValueError):
            pass
    try:
        env = factory(**kwargs)
    except EnvTimeoutError:  # the caller's time limit (profiling) names the call itself
        raise
    except gym.error.DependencyNotInstalled as e:
        raise EnvLoadError(f"env {ref!r} needs a package that is not installed: {e}") from e
    except EnvLoadError as e:
        raise EnvLoadError(f"env {ref!r}: {e}") from e
    except Exception as e:
        raise EnvLoadError(f"creating env {ref!r} failed: {type(e).__name__}: {e}") from e
    return env


def make_parallel_env(ref: str, render_mode: str | None = None) -> ParallelEnv:
    """The PettingZoo parallel env behind a multi-agent ``ref``."""
    env = _build(ref, render_mode)
    if not is_pettingzoo(env):
        raise EnvLoadError(f"env {ref!r} is single-agent, not a PettingZoo env")
    return as_parallel(env, ref)


@functools.lru_cache(maxsize=64)
def is_multi_agent(ref: str) -> bool:
    """Whether ``ref`` builds a PettingZoo (multi-agent) env."""
    task = BUILTIN_TASKS.get(ref.strip()) if isinstance(ref, str) else None
    if task is not None:
        return task.multi_agent
    env = _build(ref)
    try:
        return is_pettingzoo(env)
    finally:
        env.close()


def make_raw_env(ref: str, render_mode: str | None = None) -> gym.Env:
    """Build the env as its author made it (no Agent² wrappers); a multi-agent env as agent 0's view."""
    env = _build(ref, render_mode)
    if is_pettingzoo(env):
        solo = SoloAgentEnv(as_parallel(env, ref), ref)
        return gym.wrappers.TimeLimit(solo, solo.limit) if solo.limit else solo
    if not isinstance(env, gym.Env):
        raise EnvLoadError(
            f"env {ref!r}: the factory returned {type(env).__name__}, not a gymnasium.Env or PettingZoo env"
        )
    return env


def episode_limit(env: gym.Env) -> int | None:
    """The step limit of the first ``TimeLimit`` in the wrapper chain (None if there is none)."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return int(env._max_episode_steps)
        env = env.env
    return None


def make_env(ref: str, render_mode: str | None = None) -> gym.Env:
    """Build the env with flat float32 observations, Discrete/Box actions and a time limit."""
    env = make_raw_env(ref, render_mode=render_mode)
    if episode_limit(env) is None:
        env = gym.wrappers.TimeLimit(env, max_episode_steps=DEFAULT_MAX_EPISODE_STEPS)
    return standardize(env, ref)


def env_source(ref: str, limit: int = 6000) -> str:
    """The env's source code, trimmed to ``limit`` characters, for a designer to read."""
    try:
        env = make_raw_env(ref)
    except EnvLoadError:
        return ""
    inner = env.unwrapped
    if isinstance(inner, SoloAgentEnv):
        inner = getattr(inner.parallel, "unwrapped", inner.parallel)
        inner = getattr(inner, "aec_env", inner)
        inner = getattr(inner, "unwrapped", inner)
    try:
        src = inspect.getsource(type(inner))
    except (OSError, TypeError):
        src = ""
    finally:
        env.close()
    if len(src) > limit:
        src = src[:limit] + f"\n# ... trimmed ({len(src) - limit} more characters)"
    return src


def metric_name(ref: str) -> str:
    """What an evaluation score of ``ref`` measures."""
    task = BUILTIN_TASKS.get(ref)
    if task is not None:
        return task.metric
    return PER_AGENT if is_multi_agent(ref) else "mean episode return (original reward)"


@functools.lru_cache(maxsize=64)
def env_traits(ref: str) -> tuple[bool, tuple[str, ...]]:
    """What a (single-agent) env declares on its unwrapped class: ``one_per_process`` (only one
    instance may live in a process, as MetaDrive: vector envs then use subprocesses) and
    ``episode_metrics`` (episode-end ``info`` keys evaluation reports next to the return)."""
    if is_multi_agent(ref):
        return False, ()
    env = make_raw_env(ref)
    try:
        inner = env.unwrapped
        return bool(getattr(inner, "one_per_process", False)), tuple(getattr(inner, "episode_metrics", ()))
    finally:
        env.close()
