"""Progress of a training iteration on the terminal (rich), fed by the worker's progress lines."""

from __future__ import annotations

import sys
import threading
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainingProgress:
    """A progress bar with env steps, steps/s and the latest test score (original reward).

    Bars open at the same time (candidates training side by side) share one live display, one
    line each; it stops when the last of them closes.
    """

    _shared: Progress | None = None
    _users = 0
    _lock = threading.Lock()

    def __init__(self, description: str, total: int, enabled: bool = True):
        self.enabled = enabled
        self.description = description
        self.total = total
        self.score: float | None = None
        self.best: float | None = None
        self._t0 = time.perf_counter()
        self._first_step: int | None = None
        self._progress: Progress | None = None

    @staticmethod
    def _new_display() -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:>8.0f}/{task.total:.0f} steps"),
            TextColumn("{task.fields[speed]}"),
            TextColumn("{task.fields[score]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=False,
        )

    def __enter__(self) -> TrainingProgress:
        if not self.enabled:
            return self
        cls = TrainingProgress
        with cls._lock:
            if cls._shared is None:
                cls._shared = self._new_display()
                cls._shared.start()
            cls._users += 1
            self._progress = cls._shared
            self._task = self._progress.add_task(self.description, total=self.total, speed="", score="")
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is None:
            return
        cls = TrainingProgress
        with cls._lock:
            cls._users -= 1
            if cls._users == 0 and cls._shared is not None:
                cls._shared.stop()
                cls._shared = None
        self._progress = None

    def update(self, event: dict) -> None:
        step = int(event.get("env_step", 0))
        if self._first_step is None:
            self._first_step = step
            self._t0 = time.perf_counter()
        if event.get("kind") == "test":
            self.score, self.best = event.get("mean"), event.get("best")
        if self._progress is None:
            return
        elapsed = time.perf_counter() - self._t0
        speed = (step - self._first_step) / elapsed if elapsed > 0 else 0.0
        score = "" if self.score is None else f"test {self.score:.1f} (best {self.best:.1f})"
        self._progress.update(self._task, completed=min(step, self.total), speed=f"{speed:.0f} st/s", score=score)
