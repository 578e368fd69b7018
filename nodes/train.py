"""Node: train in a worker process (resuming from its checkpoint when one exists)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig

from nodes.context import iter_dir, stream_writer
from nodes.state import GeneratorState
from tools.progress import TrainingProgress
from tools.run_rules import iteration_seed
from tools.schemas import TrainJob
from tools.training import ProgressFn, run_training

STREAM_EVERY_S = 2.0
"""Least seconds between two streamed 'collect' events (tests and checkpoints always stream)."""


@contextmanager
def progress_reporter(label: str, budget: int, enabled: bool, **fields: Any) -> Iterator[ProgressFn]:
    """A callback for the worker's progress lines: a terminal bar, and 'training' custom events for
    streaming clients (``fields`` identify the branch: iteration, algorithm, candidate)."""
    writer = stream_writer()
    last_streamed = [0.0]
    with TrainingProgress(label, budget, enabled=enabled) as bar:

        def on_progress(event: dict) -> None:
            bar.update(event)
            if writer is None or event.get("kind") == "train":
                return
            now = time.perf_counter()
            if event.get("kind") == "collect" and now - last_streamed[0] < STREAM_EVERY_S:
                return
            last_streamed[0] = now
            writer({"type": "training", "budget_steps": budget, **fields, **event})

        yield on_progress


def train(state: GeneratorState, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    task, algo, k = state["spec"], state["algo"], state["iteration"]
    job = TrainJob(env=task.env, mdp=state["mdp"], algo=algo, seed=iteration_seed(task.seed, k), target=task.target)
    with progress_reporter(
        f"iter {k} {algo.algorithm}",
        algo.budget_steps,
        state["settings"].progress,
        iteration=k,
        algorithm=algo.algorithm,
    ) as on_progress:
        result = run_training(job, iter_dir(state, config), on_progress=on_progress, eval_episodes=task.eval_episodes)
    return {
        "train": result,
        "steps_used": state.get("steps_used", 0) + result.env_steps,
        "wall_seconds": time.perf_counter() - t0,
    }
