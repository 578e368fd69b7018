"""Progress of training on the terminal (rich): ``agent2 run`` listens to the nodes' 'training' events
(``nodes/context.py``'s ``progress_reporter``) and ``ProgressBars`` draws them, one bar per candidate."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@dataclass
class _Bar:
    task: TaskID
    total: int
    first_step: int | None = None
    t0: float = field(default_factory=time.perf_counter)
    score: str = ""


class ProgressBars:
    """The streamed run's 'training' events as bars with env steps, steps/s and the latest test score
    (original reward): a branch's first event opens its line, its ``done`` event ends it. Candidates
    training side by side share one live display. A context manager: the display stops with it (the
    run ended, stopped for a review, or Ctrl-C)."""

    def __init__(self) -> None:
        self.display = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:>8.0f}/{task.total:.0f} steps"),
            TextColumn("{task.fields[speed]}"),
            TextColumn("{task.fields[score]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
        )
        self.bars: dict[tuple, _Bar] = {}
        self.lock = threading.Lock()  # candidates' branches send from their own threads

    def __call__(self, event: object) -> None:
        if not isinstance(event, dict) or event.get("type") != "training":
            return
        with self.lock:
            self._update(event)

    def _update(self, event: dict) -> None:
        key = (event.get("iteration"), event.get("candidate"))
        if event.get("kind") == "done":
            bar = self.bars.pop(key, None)
            if bar is not None:
                self.display.stop_task(bar.task)
            return
        bar = self.bars.get(key)
        if bar is None:
            total = int(event["budget_steps"])
            task = self.display.add_task(str(event.get("label", "training")), total=total, speed="", score="")
            bar = self.bars[key] = _Bar(task, total)
            self.display.start()
        step = int(event.get("env_step", 0))
        if bar.first_step is None:
            bar.first_step, bar.t0 = step, time.perf_counter()
        if event.get("kind") == "test" and event.get("mean") is not None:
            best = event["mean"] if event.get("best") is None else event["best"]
            bar.score = f"test {event['mean']:.1f} (best {best:.1f})"
        elapsed = time.perf_counter() - bar.t0
        speed = (step - bar.first_step) / elapsed if elapsed > 0 else 0.0
        self.display.update(bar.task, completed=min(step, bar.total), speed=f"{speed:.0f} st/s", score=bar.score)

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc) -> None:
        self.display.stop()
