"""Cache Tianshou's numba kernels on disk.

Tianshou 2.0.1 decorates its GAE, n-step and replay-buffer index kernels with a bare ``@njit``,
so every new process compiles them again: about 11 s of each training worker's start on these
machines, more than many short iterations spend learning. Importing this module before Tianshou
makes ``njit`` default to ``cache=True`` with the cache in a per-user folder, so only the first
worker ever compiles.
"""

from __future__ import annotations

import functools
import os

from envs.caches import cache_dir

CACHE_DIR = cache_dir() / "numba"


def enable() -> None:
    os.environ.setdefault("NUMBA_CACHE_DIR", str(CACHE_DIR))
    import numba

    if getattr(numba.njit, "_agent2_cached", False):
        return
    original = numba.njit

    @functools.wraps(original)
    def njit(*args, **kwargs):
        kwargs.setdefault("cache", True)
        return original(*args, **kwargs)

    njit._agent2_cached = True  # type: ignore[attr-defined]
    numba.njit = njit


enable()
