"""TensorBoard event files for every iteration and candidate, beside the run's own progress lines.

Each training worker writes to ``<iteration folder>/tb/<env>_<algorithm>/`` through Tianshou's own
``TensorboardLogger``, with the scalars in four namespaces: ``train/`` (collection: returns, episode
lengths, env steps), ``test/`` (each test's returns), ``loss/`` (what each update reports: losses,
entropy, learning rate) and, after the evaluation of the best policy, ``eval/`` (its mean, std and
episodes, and the env's episode measures). ``tensorboard --logdir runs`` then lists every run as
``<thread>/iter_<k>[/candidate_<j>]/tb/<env>_<algorithm>``. A worker resumed after a kill starts its
event file at the resumed step (TensorBoard's ``purge_step``), so the steps replayed since the last
checkpoint are not shown twice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tianshou.utils import TensorboardLogger
from torch.utils.tensorboard import SummaryWriter

TB_DIR = "tb"
SCOPES = {"training": "train", "test": "test", "update": "loss", "info": "info"}
"""Tianshou's data scopes → our namespaces."""


def board_dir(iter_dir: Path, env_ref: str, algorithm: str) -> Path:
    """``<iter_dir>/tb/<env>_<algorithm>``: the env's readable name (a file factory's, without its path)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", env_ref.rsplit("/", 1)[-1]).strip("_") or "env"
    return iter_dir / TB_DIR / f"{name}_{algorithm}"


class ScopedTensorboardLogger(TensorboardLogger):
    """Tianshou's TensorBoard logger with our namespaces (``loss/`` for update statistics)."""

    def write(self, step_type: str, step: int, data: dict[str, Any]) -> None:
        scope, step_name = step_type.split("/")
        super().write(f"{SCOPES.get(scope, scope)}/{step_name}", step, data)


def open_board(
    iter_dir: Path, env_ref: str, algorithm: str, resumed_step: int | None = None, **intervals: int
) -> ScopedTensorboardLogger:
    writer = SummaryWriter(str(board_dir(iter_dir, env_ref, algorithm)), purge_step=resumed_step)
    return ScopedTensorboardLogger(writer, write_flush=False, **intervals)


def write_evaluation(
    iter_dir: Path,
    env_ref: str,
    algorithm: str,
    step: int,
    mean: float | None,
    std: float | None,
    episodes: int,
    metrics: dict[str, float],
) -> None:
    """The best policy's evaluation as ``eval/`` scalars at the iteration's last env step."""
    if mean is None:
        return
    with SummaryWriter(str(board_dir(iter_dir, env_ref, algorithm))) as writer:
        for key, value in {"mean": mean, "std": std or 0.0, "episodes": episodes, **metrics}.items():
            writer.add_scalar(f"eval/{key}", float(value), global_step=step)
