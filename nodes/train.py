"""Node: train the iteration's one design on the run's executor (resuming from its checkpoint when one
exists); K > 1 candidates train through ``nodes/candidates.py`` the same way."""

from __future__ import annotations

import time

from langchain_core.runnables import RunnableConfig

from nodes.candidates import run_candidate
from nodes.context import iter_dir
from nodes.state import GeneratorState
from tools.run_rules import iteration_seed
from tools.schemas import Candidate


def train(state: GeneratorState, config: RunnableConfig) -> dict:
    """K = 1: the chosen design as a set of one candidate, on the run's executor in the iteration's
    own folder; ``evaluate`` then reads its evaluation."""
    t0 = time.perf_counter()
    task, algo, k = state["spec"], state["algo"], state["iteration"]
    chosen = Candidate(index=0, label="as designed", mdp=state["mdp"], algo=algo, seed=iteration_seed(task.seed, k))
    result = run_candidate(task, state["settings"], k, chosen, iter_dir(state, config), f"iter {k} {algo.algorithm}")
    return {
        "train": result.train,
        "steps_used": state.get("steps_used", 0) + result.train.env_steps,
        "wall_seconds": time.perf_counter() - t0,
    }
