"""Where compiled code is cached between processes: numba kernels (Tianshou's buffers) and JAX
programs (SMAX). The bottom layer holds it: envs compile too."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """Agent²'s compilation caches (numba, JAX): ``$AGENT2_CACHE_DIR`` or ``~/.cache/agent2``."""
    return Path(os.environ.get("AGENT2_CACHE_DIR", Path.home() / ".cache" / "agent2"))
