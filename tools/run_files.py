"""Names of the files a training worker writes into its iteration folder (no heavy imports here)."""

import os
from pathlib import Path

JOB = "job.json"
PROGRESS = "progress.jsonl"
CHECKPOINT = "checkpoint.pt"
BEST_POLICY = "best_policy.pt"
TRAIN_RESULT = "train_result.json"
TRAIN_LOCK = "train.lock"
"""Held by the one process training an iteration folder (a second caller waits, then reads its result)."""
EVAL_RESULT = "eval_result.json"


def cache_dir() -> Path:
    """Agent²'s compilation caches (numba, JAX): ``$AGENT2_CACHE_DIR`` or ``~/.cache/agent2``."""
    return Path(os.environ.get("AGENT2_CACHE_DIR", Path.home() / ".cache" / "agent2"))
