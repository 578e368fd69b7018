"""Nodes of an iteration with K > 1 candidates: propose, fan out (``Send``), train each, rank.

    review_algorithm → propose_candidates ─Send×K→ train_candidate ─┐ (each branch trains and
                                                                     ▼  evaluates one candidate)
                                                    critic ◀── pick_candidate (fan-in: rank, keep the best)

Each branch's result is its own write to ``candidate_results``; LangGraph checkpoints the writes of
branches that finished, so a resume after a crash re-runs only the unfinished branches, and those
continue from their own training checkpoints (each candidate has its own folder).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Send

from nodes.context import announce, design_context, iter_dir, progress_reporter, run_designer
from nodes.designers.screen import SCREEN_SHARE, screen_size
from nodes.state import CandidateBranch, GeneratorState, RunSettings
from tools.executors import get_executor
from tools.run_rules import candidate_budget, finalised, iteration_seed
from tools.schemas import Candidate, CandidateRank, CandidateResult, TaskSpec, TrainJob

CANDIDATE_FOLDER = "candidate_{index}"


def propose_candidates(state: GeneratorState, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    ctx = design_context(state, config)
    task, it = state["spec"], state["iteration"]
    seed = iteration_seed(task.seed, it)
    if ctx.critique is not None and ctx.critique.screen:
        k = screen_size(state["settings"].candidates)
        k, each = candidate_budget(ctx.steps_left, int(SCREEN_SHARE * ctx.steps_left / k), k)
        proposals = run_designer(state, config).propose_screen(ctx, k, seed)[:k]
    else:
        k, each = candidate_budget(ctx.steps_left, state["algo"].budget_steps, state["settings"].candidates)
        proposals = run_designer(state, config).propose_candidates(ctx, k, seed)[:k]
    out = []
    for c in proposals:
        algo = c.algo.model_copy(update={"budget_steps": each})
        out.append(c.model_copy(update={"algo": finalised(algo, ctx.profile.one_per_process)}))
    announce(
        "propose_candidates",
        it,
        f"{len(out)} candidates × {each} env steps: " + "; ".join(c.label for c in out),
        candidates=len(out),
    )
    return {"candidates": out, "wall_seconds": time.perf_counter() - t0}


def fan_out(state: GeneratorState) -> list[Send]:
    """One ``train_candidate`` branch per candidate, each with only what it needs."""
    return [
        Send(
            "train_candidate",
            {"spec": state["spec"], "settings": state["settings"], "iteration": state["iteration"], "candidate": c},
        )
        for c in state["candidates"]
    ]


def run_candidate(
    task: TaskSpec, settings: RunSettings, iteration: int, c: Candidate, folder: Path, label: str, **fields: Any
) -> CandidateResult:
    """Train and evaluate one candidate on the run's executor in ``folder``: the one way every
    iteration trains (K = 1 through ``train``, K > 1 through ``train_candidate``)."""
    started = time.time()
    job = TrainJob(env=task.env, mdp=c.mdp, algo=c.algo, seed=c.seed, target=task.target)
    executor = get_executor(settings.executor, settings.max_parallel, settings.ray_address)
    with progress_reporter(
        label, c.algo.budget_steps, iteration=iteration, algorithm=c.algo.algorithm, **fields
    ) as on_progress:
        train, ev = executor.run(job, folder, task.eval_episodes, on_progress)
    return CandidateResult(
        iteration=iteration,
        candidate=c,
        train=train,
        eval=ev,
        executor=executor.name,
        started=started,
        finished=time.time(),
    )


def train_candidate(branch: CandidateBranch, config: RunnableConfig) -> dict:
    """Train and evaluate one of K candidates in its own folder. Its seconds reach ``wall_seconds``
    through the fan-in (branches overlap: their seconds don't add up)."""
    task, settings, c, k = branch["spec"], branch["settings"], branch["candidate"], branch["iteration"]
    folder = iter_dir(branch, config) / CANDIDATE_FOLDER.format(index=c.index)
    result = run_candidate(task, settings, k, c, folder, f"iter {k} #{c.index} {c.label[:28]}", candidate=c.index)
    ev = result.eval
    announce(
        "train_candidate",
        k,
        f"#{c.index} {c.label}: "
        + (f"evaluation failed: {ev.error}" if ev.mean is None else f"{ev.mean:.2f} ± {ev.std or 0:.2f}"),
        candidate=c.index,
        mean=ev.mean,
    )
    return {"candidate_results": [result]}


def _key(r: CandidateResult) -> tuple:
    """Best first: evaluated before failed, higher mean, then lower std, fewer steps, lower index."""
    ev = r.eval
    return (ev.mean is None, -(ev.mean or 0.0), ev.std or 0.0, r.train.env_steps, r.candidate.index)


def rank(results: list[CandidateResult]) -> list[CandidateRank]:
    ordered = sorted(results, key=_key)
    best = ordered[0]
    ranks = []
    for place, r in enumerate(ordered):
        ev, c = r.eval, r.candidate
        if place == 0:
            runner = ordered[1] if len(ordered) > 1 else None
            if ev.mean is None:
                note = "won by default: every candidate failed"
            elif runner is None or runner.eval.mean is None:
                note = f"won: {ev.mean:.2f} on the original metric; no other candidate was evaluated"
            elif runner.eval.mean == ev.mean:
                note = f"won the tie at {ev.mean:.2f} with #{runner.candidate.index}: " + (
                    f"lower spread ({ev.std or 0:.2f} vs {runner.eval.std or 0:.2f})"
                    if (ev.std or 0) != (runner.eval.std or 0)
                    else f"fewer env steps ({r.train.env_steps} vs {runner.train.env_steps})"
                    if r.train.env_steps != runner.train.env_steps
                    else "the designer's own choice first"
                )
            else:
                note = f"won: {ev.mean:.2f} vs {runner.eval.mean:.2f} for #{runner.candidate.index} ({runner.candidate.label})"
        elif ev.mean is None:
            note = f"failed: {(ev.error or r.train.error or 'no result').strip().splitlines()[-1][:200]}"
        else:
            gap = (best.eval.mean or 0.0) - ev.mean
            note = f"{gap:.2f} below the winner" if gap > 0 else "tied with the winner, lost the tie-break"
        ranks.append(
            CandidateRank(
                index=c.index,
                label=c.label,
                algorithm=c.algo.algorithm,
                eval_mean=ev.mean,
                eval_std=ev.std,
                env_steps=r.train.env_steps,
                stop_reason=r.train.stop_reason,
                iter_dir=r.train.iter_dir,
                executor=r.executor,
                note=note,
            )
        )
    return ranks


def spans_seconds(results: list[CandidateResult]) -> float:
    """Seconds covered by the branches' spans together (overlaps once; a gap between a kill and
    the resume not at all)."""
    total, end = 0.0, float("-inf")
    for r in sorted(results, key=lambda r: r.started):
        total += max(0.0, r.finished - max(r.started, end))
        end = max(end, r.finished)
    return total


def pick_candidate(state: GeneratorState, config: RunnableConfig) -> dict:
    """Fan-in: rank this iteration's candidates on the original metric; the winner becomes the
    iteration's design and result (the critic judges it); every candidate's steps count."""
    t0 = time.perf_counter()
    it = state["iteration"]
    latest: dict[int, CandidateResult] = {}
    for r in state.get("candidate_results") or []:
        if r.iteration == it:
            latest[r.candidate.index] = r  # a branch re-run after a resume replaces its earlier write
    results = list(latest.values())
    ranking = rank(results)
    win = latest[ranking[0].index]
    steps = sum(r.train.env_steps for r in results)
    announce(
        "pick_candidate",
        it,
        f"#{win.candidate.index} {win.candidate.label}: {ranking[0].note}",
        candidate=win.candidate.index,
    )
    return {
        "mdp": win.candidate.mdp,
        "algo": win.candidate.algo,
        "train": win.train,
        "eval": win.eval,
        "ranking": ranking,
        "steps_used": state.get("steps_used", 0) + steps,
        "wall_seconds": spans_seconds(results) + time.perf_counter() - t0,
    }
