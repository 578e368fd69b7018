"""One run's records, written and read here only: its folder (iteration folders, the MDP checks'
attempts, ``result.json``, the exported agent and its report) and its rows in the run database
(``tools/rundb.py``). Nodes and front doors ask a ``RunStore``; none writes a file or a row of its own.
Training workers write inside the iteration folders the store hands out (``tools/run_files.py``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

from envs.errors import Agent2Error
from tools.agent_io import export_agent
from tools.report import write_report
from tools.run_folders import run_folder
from tools.run_rules import best_record
from tools.rundb import DB_NAME, RunDB
from tools.schemas import IterationRecord, ReviewRecord, RunSummary, TaskSpec, TrainResult

__all__ = ["DB_NAME", "RunStore", "recorded_runs"]

RESULT = "result.json"
AGENT = "agent"


class RunStore:
    def __init__(self, runs_dir: str | Path, thread_id: str):
        self.runs_dir = Path(runs_dir)
        self.thread_id = thread_id

    @functools.cached_property
    def db(self) -> RunDB:
        return RunDB(self.runs_dir)

    @property
    def folder(self) -> Path:
        """The run's folder, checked to lie inside the runs folder (the thread id may come from a client)."""
        path = run_folder(self.runs_dir, self.thread_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def iteration_folder(self, iteration: int) -> Path:
        return self.folder / f"iter_{iteration}"

    def check_folder(self, iteration: int, name: str) -> Path:
        """Where an iteration's MDP checks run (``mdp_check``, ``review_check``)."""
        path = self.iteration_folder(iteration) / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def keep_attempt(self, iteration: int, attempt: int, code: str) -> Path:
        """Keep a design attempt's code on disk (every one stays); the folder its check runs in."""
        folder = self.check_folder(iteration, "mdp_check")
        (folder / f"attempt_{attempt}.py").write_text(code)
        return folder

    # -- the run database ----------------------------------------------------------------------
    def started(self, task: TaskSpec, designer: str) -> None:
        self.db.upsert_run(
            self.thread_id,
            task=task.text,
            env=task.env,
            designer=designer,
            status="running",
            target=task.target,
            budget_steps=task.budget_steps,
            iterations=0,
            env_steps=0,
        )

    def iteration_done(
        self, record: IterationRecord, train: TrainResult, history: Sequence[IterationRecord], env_steps: int
    ) -> None:
        """An iteration judged: its row, its test curve and candidates, the run's running totals."""
        best = best_record(history)
        self.db.record_iteration(self.thread_id, record, train)
        self.db.upsert_run(
            self.thread_id,
            iterations=len(history),
            env_steps=env_steps,
            best_score=best.eval_mean if best else None,
            best_iteration=best.iteration if best else None,
        )

    def llm_call(self, iteration: int, row: dict) -> None:
        self.db.record_llm_call(self.thread_id, iteration, row)

    def llm_tokens(self) -> int:
        return self.db.llm_tokens(self.thread_id)

    def forked_from(self, parent: str, before_iteration: int) -> None:
        """A fork's records: the parent's run row and its iterations before ``before_iteration``."""
        self.db.copy_run(parent, self.thread_id, before_iteration=before_iteration)

    # -- the end of a run ----------------------------------------------------------------------
    def finished(
        self,
        task: TaskSpec,
        history: list[IterationRecord],
        summary: RunSummary,
        result: dict,
        reviews: list[ReviewRecord],
    ) -> RunSummary:
        """The best iteration exported as the Target Agent with its report, ``result.json`` and the
        run's final row; the summary with the report's path."""
        best = best_record(history)
        if best is not None:
            agent_dir = self.folder / AGENT
            export_agent(
                Path(best.iter_dir),
                agent_dir,
                {"task": task.model_dump(), "eval": result["best"], "thread_id": self.thread_id},
            )
            report = write_report(task, history, best, summary.status, result, agent_dir, reviews)
        else:
            report = write_report(task, history, None, summary.status, result, self.folder, reviews)
        summary = summary.model_copy(update={"report": str(report)})
        (self.folder / RESULT).write_text(json.dumps({**result, "report": summary.report}, indent=1))
        self.db.upsert_run(
            self.thread_id,
            status=summary.status,
            wall_seconds=summary.wall_seconds,
            env_steps=summary.env_steps_total,
            agent_dir=summary.agent_dir,
            best_score=summary.best.eval_mean if summary.best else None,  # its confirmation, when it had one
            best_iteration=best.iteration if best else None,
            iterations=len(history),
        )
        return summary

    @property
    def agent_folder(self) -> Path:
        return run_folder(self.runs_dir, self.thread_id) / AGENT

    # -- reading ---------------------------------------------------------------------------------
    def has_result(self) -> bool:
        return (run_folder(self.runs_dir, self.thread_id) / RESULT).exists()

    def result(self) -> dict:
        """``result.json`` and the report (Markdown) of a finished run."""
        path = run_folder(self.runs_dir, self.thread_id) / RESULT
        if not path.exists():
            raise Agent2Error(f"run {self.thread_id!r} has no result yet")
        found = json.loads(path.read_text())
        report = Path(found["report"]) if found.get("report") else None
        return {"result": found, "report": report.read_text() if report and report.exists() else ""}

    def iterations(self) -> list[dict]:
        return self.db.iterations(self.thread_id)

    def candidates(self) -> list[dict]:
        return self.db.candidates(self.thread_id)

    def llm_usage(self) -> list[dict]:
        return self.db.llm_usage(self.thread_id)


def recorded_runs(runs_dir: str | Path) -> list[dict] | None:
    """Every run in ``runs_dir``'s database, or None when it holds no database."""
    if not (Path(runs_dir) / DB_NAME).exists():
        return None
    return RunDB(runs_dir).runs()
