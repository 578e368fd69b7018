"""Atomic checkpoint files: a torn or truncated file is detected and never replaces a good one."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch

from tools.sandbox import replacing, write_text


def save_atomic(obj: Any, path: str | Path) -> None:
    """Write ``obj`` atomically over ``path`` (``tools.sandbox.replacing``), then sync the folder.

    The previous version is kept as ``path.prev`` so a file damaged later can fall back to it.
    """
    path = Path(path)
    with replacing(path, "wb", keep_previous=True, private=True) as f:  # weights, buffers: the owner's
        torch.save(obj, f)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


write_text_atomic = write_text
"""Small text files (job.json, results): one atomic writer, ``tools.sandbox.write_text``."""


def load_checkpoint(path: str | Path, fallback: bool = True) -> dict | None:
    """Load ``path``, or (``fallback``) its ``.prev`` copy when ``path`` is missing or unreadable; None if
    none loads. A check of the file itself passes ``fallback=False``: a torn file is then reported torn."""
    path = Path(path)
    other_code: list[str] = []
    for candidate in (path, path.with_name(path.name + ".prev")) if fallback else (path,):
        if not candidate.exists():
            continue
        try:
            state = torch.load(candidate, map_location="cpu", weights_only=False)
        except (AttributeError, ImportError) as e:  # whole, but its pickled classes are not this code's
            other_code.append(f"{candidate.name}: {type(e).__name__}: {e}")
            continue
        except Exception as e:
            print(
                f"agent2: checkpoint {candidate} is unreadable ({type(e).__name__})"
                + ("; trying the previous one" if fallback else ""),
                file=sys.stderr,
            )
            continue
        if candidate != path:
            print(f"agent2: resuming from the previous checkpoint {candidate}", file=sys.stderr)
        return state
    if other_code:  # never silently train from zero over hours of training another code wrote
        raise CheckpointOfOtherCodeError(
            f"{str(path)!r} was written by other code ({'; '.join(other_code)}); "
            "resume with --restart-iteration to train this iteration again from the start"
        )
    return None


class CheckpointOfOtherCodeError(RuntimeError):
    """A checkpoint that is whole but whose pickled classes this code no longer has."""
