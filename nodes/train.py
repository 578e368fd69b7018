"""Node: train in a worker process (resuming from its checkpoint when one exists)."""

from __future__ import annotations

import time

from langchain_core.runnables import RunnableConfig
from nodes.context import iter_dir, stream_writer
from tools.progress import TrainingProgress
from tools.schemas import TrainJob
from tools.training import run_training


STREAM_EVERY_S = 2.0
"""Least seconds between two streamed 'collect' events (tests and checkpoints always stream)."""


def train(state: dict, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    task, algo, k = state["spec"], state["algo"], state["iteration"]
    job = TrainJob(env=task.env, mdp=state["mdp"], algo=algo, seed=task.seed + 1000 * (k - 1),
                   target=task.target)
    writer = stream_writer()
    label = f"iter {k} {algo.algorithm}"
    last_streamed = [0.0]
    with TrainingProgress(label, algo.budget_steps, enabled=state["settings"].progress) as bar:
        def on_progress(event: dict) -> None:
            bar.update(event)
            if writer is None or event.get("kind") == "train":
                return
            now = time.perf_counter()
            if event.get("kind") == "collect" and now - last_streamed[0] < STREAM_EVERY_S:
                return
            last_streamed[0] = now
            writer({"type": "training", "iteration": k, "algorithm": algo.algorithm,
                    "budget_steps": algo.budget_steps, **event})

        result = run_training(job, iter_dir(state, config), on_progress=on_progress,
                              eval_episodes=task.eval_episodes)
    return {"train": result, "steps_used": state.get("steps_used", 0) + result.env_steps,
            "wall_seconds": time.perf_counter() - t0}
