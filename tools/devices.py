"""Where networks train and act: the CPU or a CUDA GPU.

One setting, ``$AGENT2_DEVICE`` (``auto``, ``cpu`` or ``cuda``; the CLI's ``--device`` sets it), read by
every training, evaluation and play worker; ``auto`` takes CUDA when torch sees a GPU. Checkpoints
are saved as they are and always loaded onto the CPU first (``tools.checkpoint_io``), then moved to
the worker's device, so a policy trained on a GPU resumes, evaluates and plays on a CPU-only machine
and the other way round.
"""

from __future__ import annotations

import glob
import os

from envs.errors import Agent2Error

DEVICE_ENV = "AGENT2_DEVICE"
CHOICES = ("auto", "cpu", "cuda")


class DeviceError(Agent2Error):
    """The device asked for is unknown or not present."""


THREADS_ENV = "AGENT2_TORCH_THREADS"


def requested_threads() -> int | None:
    """The torch threads ``$AGENT2_TORCH_THREADS`` asks for, None when it is unset; a value that is not a
    whole number stops the process with a one-line error naming it."""
    raw = os.environ.get(THREADS_ENV, "")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{THREADS_ENV} must be a whole number, got {raw!r}") from None


def requested() -> str:
    choice = os.environ.get(DEVICE_ENV, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise DeviceError(f"{DEVICE_ENV}={choice!r}: use one of {', '.join(CHOICES)}")
    return choice


def resolve(choice: str | None = None) -> str:
    """``cpu`` or ``cuda`` for ``choice`` (default: ``$AGENT2_DEVICE``); an error when CUDA is asked for
    and torch sees no GPU."""
    import torch

    choice = requested() if choice is None else choice
    if choice not in CHOICES:
        raise DeviceError(f"device {choice!r}: use one of {', '.join(CHOICES)}")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device 'cuda' asked for, but torch {torch.__version__} sees no CUDA GPU "
            f"(a CPU build of torch, or no driver); use --device cpu or auto"
        )
    return choice


def check(choice: str | None = None) -> str:
    """``choice`` (default: ``$AGENT2_DEVICE``) checked before a run starts, so a bad value or a missing
    GPU is one line at once, not a failed worker later; returned unchanged."""
    choice = requested() if choice is None else choice
    if choice != "auto":
        resolve(choice)
    return choice


def gpu_device_nodes() -> list[str]:
    """The /dev entries a sandboxed CUDA worker needs (bubblewrap gives it a bare /dev otherwise)."""
    return sorted(glob.glob("/dev/nvidia*"))
