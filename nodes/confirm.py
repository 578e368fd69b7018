"""Node: evaluate the run's chosen policy again on fresh seeds when it was chosen among several.

The best of several noisy evaluations is biased upward (a winner's curse): a run that compared five
iterations' evaluations on the same seeds and kept the highest reports more than its policy plays
(SMAX 3m: 0.90 chosen, 0.825 replayed on 200 new battles). The figure a run hands back is therefore
the chosen policy's second evaluation, on seeds that played no part in choosing it, over at least as
many episodes as the evaluation that chose it (``tools/run_rules.py``: ``needs_confirmation``,
``confirmation_episodes``, ``CONFIRM_SEED_OFFSET``).
"""

from __future__ import annotations

import time
from pathlib import Path

from langchain_core.runnables import RunnableConfig

from nodes.context import announce
from nodes.state import GeneratorState
from tools.run_rules import best_record, confirmation_episodes, needs_confirmation, policies_compared
from tools.training import run_evaluation


def confirm(state: GeneratorState, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    history = state.get("history", [])
    best = best_record(history)
    if best is None or not needs_confirmation(history):
        return {"confirmation": None, "confirmed_iteration": None}
    if state.get("confirmed_iteration") == best.iteration and state.get("confirmation") is not None:
        return {}  # this policy was confirmed already (the loop went on after it missed): same seeds, same figure
    episodes = confirmation_episodes(best, state["spec"].eval_episodes)
    result = run_evaluation(Path(best.iter_dir), episodes, confirm=True)
    announce(
        "confirm",
        best.iteration,
        f"confirmation failed: {result.error}"
        if result.mean is None
        else f"iteration {best.iteration}'s policy, chosen from {policies_compared(history)} at "
        f"{best.eval_mean:.2f}, on fresh seeds: {result.mean:.2f} ± {result.std or 0:.2f} over {result.episodes} episodes",
        mean=result.mean,
    )
    return {"confirmation": result, "confirmed_iteration": best.iteration, "wall_seconds": time.perf_counter() - t0}
