"""Node: export the best iteration as a Target Agent, write the report and ``result.json``."""

from __future__ import annotations

import time

from langchain_core.runnables import RunnableConfig

from envs.loading import metric_name
from nodes.context import announce, store, thread_id
from nodes.state import GeneratorState, run_position
from tools.run_rules import RunStatus, best_record, policies_compared, run_status
from tools.schemas import BestIteration, EvalResult, IterationRecord, RunSummary


def final_status(state: GeneratorState) -> RunStatus:
    """The finished run's status (``run_rules.run_status``) from its state."""
    return run_status(state.get("history", []), state["spec"].target, state.get("confirmation"), **run_position(state))


def export(state: GeneratorState, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    task, history = state["spec"], state.get("history", [])
    runs = store(state, config)
    best = best_record(history)
    confirmation = state.get("confirmation")
    status = final_status(state)
    agent_dir = runs.agent_folder
    wall = state.get("wall_seconds", 0.0) + (time.perf_counter() - t0)
    summary = RunSummary(
        thread_id=thread_id(config),
        task=task.text,
        env=task.env,
        status=status,
        target=task.target,
        designer=state["settings"].designer,
        metric=metric_name(task.env),
        best=None if best is None else best_iteration(best, history, confirmation),
        env_steps_total=state.get("steps_used", 0),
        budget_steps=task.budget_steps,
        wall_seconds=round(wall, 2),
        agent_dir=str(agent_dir) if best else None,
    )
    result = summary.model_dump() | {
        "iterations": [
            {
                "iteration": r.iteration,
                "design": r.mdp_summary,
                "mdp_code": r.mdp_code,
                "algorithm": r.algo.algorithm,
                "hyperparameters": r.algo.model_dump(),
                "env_steps": r.env_steps,
                "train_best": r.train_best,
                "stop_reason": r.stop_reason,
                "eval_mean": r.eval_mean,
                "eval_std": r.eval_std,
                "eval_ci95": r.eval_ci,
                "eval_episodes": r.eval_episodes,
                "eval_metrics": r.eval_metrics,
                "verdict": r.verdict,
                "diagnosis": r.diagnosis,
                "reason": r.reason,
                "changes": r.changes,
                "fix_kind": r.fix_kind,
                "candidates": [c.model_dump() for c in r.candidates],
            }
            for r in history
        ],
        "reviews": [r.model_dump() for r in state.get("reviews") or []],
        "observation_encoding": state["profile"].observation_encoding if state.get("profile") else "",
    }
    summary = runs.finished(task, history, summary, result, state.get("reviews") or [])
    announce(
        "export",
        state.get("iteration", 1) - 1,
        f"{status}; agent in {summary.agent_dir}" if best else f"{status}: no iteration produced an agent",
        status=status,
    )
    return {
        "status": status,
        "agent_dir": summary.agent_dir or "",
        "summary": summary,
        "wall_seconds": time.perf_counter() - t0,
    }


def best_iteration(
    best: IterationRecord, history: list[IterationRecord], confirmation: EvalResult | None
) -> BestIteration:
    """The chosen iteration in brief: its scores are its confirmation's when it had one (``nodes/confirm.py``)."""
    chosen = BestIteration(
        iteration=best.iteration,
        algorithm=best.algo.algorithm,
        eval_mean=best.eval_mean,
        eval_std=best.eval_std,
        eval_ci95=best.eval_ci,
        eval_episodes=best.eval_episodes,
        eval_metrics=best.eval_metrics,
        agents=best.eval_agents,
        compared=policies_compared(history),
    )
    if confirmation is None:
        return chosen
    if confirmation.mean is None:
        return chosen.model_copy(update={"confirmation_error": confirmation.error})
    ci = [confirmation.ci_low, confirmation.ci_high] if confirmation.ci_low is not None else None
    return chosen.model_copy(
        update={
            "selection_mean": best.eval_mean,
            "eval_mean": confirmation.mean,
            "eval_std": confirmation.std,
            "eval_ci95": ci,
            "eval_episodes": confirmation.episodes,
            "eval_metrics": confirmation.metrics,
        }
    )
