"""Node: evaluate the iteration's best policy on the task's original reward."""

from __future__ import annotations

import time

from langchain_core.runnables import RunnableConfig

from nodes.context import announce, iter_dir
from nodes.state import GeneratorState
from tools.training import evaluate_trained


def evaluate(state: GeneratorState, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    result = evaluate_trained(state["train"], iter_dir(state, config), state["spec"].eval_episodes)
    announce(
        "evaluate",
        state["iteration"],
        f"evaluation failed: {result.error}"
        if result.mean is None
        else f"{result.mean:.2f} ± {result.std or 0:.2f} over {result.episodes} episodes",
        mean=result.mean,
    )
    return {"eval": result, "wall_seconds": time.perf_counter() - t0}
