"""Node: evaluate the iteration's best policy on the task's original reward."""

from __future__ import annotations

import math
import time

from langchain_core.runnables import RunnableConfig

from nodes.context import announce, iter_dir
from tools.schemas import EvalResult
from tools.training import run_evaluation


def evaluate(state: dict, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    if state["train"].best_test_mean is None:
        result = EvalResult(mean=None, std=None, episodes=0, returns=[], mean_length=0.0,
                            error="no policy to evaluate: training produced none")
    else:
        result = run_evaluation(iter_dir(state, config), state["spec"].eval_episodes)
        if result.mean is not None and not (math.isfinite(result.mean) and math.isfinite(result.std or 0.0)):
            result = result.model_copy(update={"mean": None, "std": None,
                                               "error": f"evaluation returns are not finite ({result.mean})"})
    announce("evaluate", state["iteration"],
             f"evaluation failed: {result.error}" if result.mean is None else
             f"{result.mean:.2f} ± {result.std or 0:.2f} over {result.episodes} episodes", mean=result.mean)
    return {"eval": result, "wall_seconds": time.perf_counter() - t0}
