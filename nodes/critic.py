"""Node: the designer judges the iteration; the record goes to the history and the run database."""

from __future__ import annotations

import time

from langchain_core.runnables import RunnableConfig

from nodes.context import announce, design_context, run_designer, store
from nodes.designers.escalation import fix_kind
from nodes.state import GeneratorState
from tools.schemas import IterationRecord


def critic(state: GeneratorState, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    critique = run_designer(state, config).critique(design_context(state, config))
    train, ev, mdp, algo = state["train"], state["eval"], state["mdp"], state["algo"]
    ranking = state.get("ranking") or []
    record = IterationRecord(
        iteration=state["iteration"],
        mdp_summary=mdp.summary,
        mdp_code=mdp.code,
        algo=algo,
        env_steps=train.env_steps,
        train_best=train.best_test_mean,
        stop_reason=train.stop_reason,
        eval_mean=ev.mean,
        eval_std=ev.std,
        eval_episodes=ev.episodes,
        eval_metrics=ev.metrics,
        eval_agents=ev.agents,
        verdict=critique.verdict,
        diagnosis=critique.diagnosis,
        reason=critique.reason,
        changes=critique.changes,
        fix_kind=fix_kind(critique, algo),
        reward_terms=train.reward_terms,
        eval_ci=[ev.ci_low, ev.ci_high] if ev.ci_low is not None and ev.ci_high is not None else None,
        iter_dir=train.iter_dir,
        wall_seconds=train.wall_seconds + ev.wall_seconds,
        candidates=ranking if ranking and ranking[0].iter_dir == train.iter_dir else [],
    )
    history = [*state.get("history", []), record]
    store(state, config).iteration_done(record, train, history, state.get("steps_used", 0))
    announce("critic", state["iteration"], f"{critique.verdict}: {critique.reason}", verdict=critique.verdict)
    return {
        "critique": critique,
        "history": [record],
        "iteration": state["iteration"] + 1,
        "wall_seconds": time.perf_counter() - t0,
    }
