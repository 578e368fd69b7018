"""Node: the designer picks the Tianshou algorithm, network and hyper-parameters."""

from __future__ import annotations

import time

from langchain_core.runnables import RunnableConfig

from nodes.context import announce, design_context, run_designer
from nodes.state import GeneratorState


def select_algorithm(state: GeneratorState, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    algo = run_designer(state, config).select_algorithm(design_context(state, config))
    announce(
        "select_algorithm",
        state["iteration"],
        f"{algo.short()}, {algo.budget_steps} env steps",
        algorithm=algo.algorithm,
    )
    return {"algo": algo, "wall_seconds": time.perf_counter() - t0}
