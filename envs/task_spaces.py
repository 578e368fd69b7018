"""The observation and action spaces of the built-in tasks, as one line each, cached on disk.

Building every built-in env to read its spaces takes ~18 s (MetaDrive and JAX are imported, SMAX
compiles); the spaces only change with the task's entry or the env packages, so they are kept in
``cache_dir()/task-spaces.json`` under a key made of both. A task whose env cannot be built here is
described by its error and never cached (it may be set up later).
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata

from envs.caches import cache_dir
from envs.errors import Agent2Error
from envs.registry import BuiltinTask

ENV_PACKAGES = ("gymnasium", "mujoco", "box2d", "pettingzoo", "mpe2", "jaxmarl", "jax", "metadrive-simulator")
"""Packages whose versions can change a built-in env's spaces."""
CACHE_FILE = "task-spaces.json"


def _versions() -> dict[str, str]:
    found = {}
    for name in ENV_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def cache_key(task: BuiltinTask) -> str:
    """The task's entry and the env packages' versions: what its spaces depend on."""
    text = json.dumps([repr(task), _versions()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def describe_space(space) -> str:
    name = type(space).__name__
    if hasattr(space, "n") and name == "Discrete":
        return f"Discrete({space.n})"
    return f"{name}{tuple(space.shape)}" if getattr(space, "shape", None) else name


def _measure(task: BuiltinTask) -> tuple[str, str, bool]:
    """(observation, action, available) of one task, by building its env."""
    from envs.loading import make_raw_env

    try:
        env = make_raw_env(task.name)
    except Agent2Error as e:
        return "unavailable", str(e).split(": ", 1)[-1].split(" (")[0][:60], False
    try:
        obs, act = describe_space(env.observation_space), describe_space(env.action_space)
    finally:
        env.close()
    if task.multi_agent:
        obs, act = f"{obs} each", f"{act} each"
    return obs, act, True


def task_spaces(tasks: list[BuiltinTask]) -> dict[str, tuple[str, str]]:
    """Each task's (observation, action) line: from the cache where its key matches, else measured
    (and cached when the env could be built)."""
    path = cache_dir() / CACHE_FILE
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    out, changed = {}, False
    for task in tasks:
        key = cache_key(task)
        hit = cached.get(task.name)
        if isinstance(hit, dict) and hit.get("key") == key:
            out[task.name] = (hit["observation"], hit["action"])
            continue
        obs, act, available = _measure(task)
        out[task.name] = (obs, act)
        if available:
            cached[task.name] = {"key": key, "observation": obs, "action": act}
            changed = True
    if changed:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cached, indent=1))
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache folder only costs the next call the same time
    return out
