"""The run database (SQLite through sqlite-utils): runs, iterations and metrics over time.

Writes are upserts keyed by (thread, iteration[, env_step]), so a resumed run that replays a
step never duplicates rows.
"""

from __future__ import annotations

import functools
import json
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from tools.run_folders import database_error
from tools.run_rules import best_record
from tools.schemas import IterationRecord, TrainResult

DB_NAME = "agent2.db"
LOCK_PATIENCE_S = 120.0
F = TypeVar("F", bound=Callable[..., Any])


def patient(fn: F) -> F:
    """Retry ``fn`` while another process holds the database: SQLite's busy timeout does not cover
    every case (a read transaction that must become a write after another writer committed fails at
    once with 'database is locked'), and several runs, or several candidates' branches, write at once."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + LOCK_PATIENCE_S
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as e:
                if ("locked" not in str(e) and "busy" not in str(e)) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.05, 0.3))

    return wrapper  # type: ignore[return-value]


class RunDB:
    def __init__(self, runs_dir: str | Path):
        path = Path(runs_dir)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path / DB_NAME
        try:
            self.db = sqlite_utils.Database(self.path)
            self.db.execute("PRAGMA busy_timeout = 30000")
            self._ensure_tables()
        except sqlite3.DatabaseError as e:
            error = database_error(self.path, e)
            if error is None:
                raise
            raise error from None

    @patient
    def _ensure_tables(self) -> None:
        self.db.enable_wal()
        if "runs" not in self.db.table_names():
            self.db["runs"].create(
                {
                    "thread_id": str,
                    "task": str,
                    "env": str,
                    "designer": str,
                    "status": str,
                    "target": float,
                    "best_score": float,
                    "best_iteration": int,
                    "iterations": int,
                    "env_steps": int,
                    "budget_steps": int,
                    "wall_seconds": float,
                    "created_at": float,
                    "updated_at": float,
                    "agent_dir": str,
                    "error": str,
                },
                pk="thread_id",
                not_null={"thread_id"},
                if_not_exists=True,
            )
        if "iterations" not in self.db.table_names():
            self.db["iterations"].create(
                {
                    "thread_id": str,
                    "iteration": int,
                    "algorithm": str,
                    "mdp_summary": str,
                    "config": str,
                    "env_steps": int,
                    "train_best": float,
                    "stop_reason": str,
                    "eval_mean": float,
                    "eval_std": float,
                    "eval_episodes": int,
                    "verdict": str,
                    "diagnosis": str,
                    "reason": str,
                    "wall_seconds": float,
                    "iter_dir": str,
                },
                pk=("thread_id", "iteration"),
                if_not_exists=True,
            )
        if "metrics" not in self.db.table_names():
            self.db["metrics"].create(
                {
                    "thread_id": str,
                    "iteration": int,
                    "env_step": int,
                    "test_mean": float,
                    "test_std": float,
                    "wall": float,
                    "untrained": int,
                },
                pk=("thread_id", "iteration", "env_step"),
                if_not_exists=True,
            )
        if "untrained" not in self.db["metrics"].columns_dict:  # a database from before the mark
            try:
                self.db["metrics"].add_column("untrained", int)
            except sqlite3.OperationalError as e:  # another process opening it added it first
                if "duplicate column" not in str(e):
                    raise

    @patient
    def record_llm_call(self, thread_id: str, iteration: int, row: dict) -> None:
        self.db["llm_calls"].insert(
            {"thread_id": thread_id, "iteration": iteration, "at": time.time(), **row}, alter=True
        )

    def llm_usage(self, thread_id: str) -> list[dict]:
        """Calls, failed answers and tokens per node."""
        if "llm_calls" not in self.db.table_names():
            return []
        return list(
            self.db.query(
                "select node, count(*) as calls, sum(not ok) as invalid, sum(prompt_tokens) as prompt_tokens, "
                "sum(completion_tokens) as completion_tokens from llm_calls where thread_id = ? "
                "group by node order by min(at)",
                [thread_id],
            )
        )

    def llm_tokens(self, thread_id: str) -> int:
        return sum((r["prompt_tokens"] or 0) + (r["completion_tokens"] or 0) for r in self.llm_usage(thread_id))

    @patient
    def upsert_run(self, thread_id: str, **fields: Any) -> None:
        now = time.time()
        existing = self.get_run(thread_id)
        row = {"thread_id": thread_id, "updated_at": now, **fields}
        if existing is None:
            row.setdefault("created_at", now)
        self.db["runs"].upsert(row, pk="thread_id", alter=True)

    @patient
    def record_iteration(self, thread_id: str, rec: IterationRecord, train: TrainResult) -> None:
        self.db["iterations"].upsert(
            {
                "thread_id": thread_id,
                "iteration": rec.iteration,
                "algorithm": rec.algo.algorithm,
                "mdp_summary": rec.mdp_summary,
                "config": json.dumps(rec.algo.model_dump()),
                "env_steps": rec.env_steps,
                "train_best": rec.train_best,
                "stop_reason": rec.stop_reason,
                "eval_mean": rec.eval_mean,
                "eval_std": rec.eval_std,
                "eval_episodes": rec.eval_episodes,
                "verdict": rec.verdict,
                "diagnosis": rec.diagnosis,
                "reason": rec.reason,
                "fix_kind": rec.fix_kind,
                "eval_ci_low": rec.eval_ci[0] if rec.eval_ci else None,
                "eval_ci_high": rec.eval_ci[1] if rec.eval_ci else None,
                "wall_seconds": rec.wall_seconds,
                "iter_dir": rec.iter_dir,
            },
            pk=("thread_id", "iteration"),
            alter=True,
        )
        self.db["metrics"].upsert_all(
            [
                {
                    "thread_id": thread_id,
                    "iteration": rec.iteration,
                    "env_step": p.env_step,
                    "test_mean": p.mean,
                    "test_std": p.std,
                    "wall": p.wall,
                    "untrained": int(p.untrained),  # the policy before any update: a baseline, not a result
                }
                for p in train.curve
            ],
            pk=("thread_id", "iteration", "env_step"),
        )
        if rec.candidates:
            self.db["candidates"].upsert_all(
                [
                    {
                        "thread_id": thread_id,
                        "iteration": rec.iteration,
                        "candidate": c.index,
                        "label": c.label,
                        "algorithm": c.algorithm,
                        "eval_mean": c.eval_mean,
                        "eval_std": c.eval_std,
                        "env_steps": c.env_steps,
                        "stop_reason": c.stop_reason,
                        "note": c.note,
                        "iter_dir": c.iter_dir,
                        "won": c is rec.candidates[0],
                    }
                    for c in rec.candidates
                ],
                pk=("thread_id", "iteration", "candidate"),
                alter=True,
            )

    @patient
    def copy_run(self, thread_id: str, new_thread_id: str, before_iteration: int) -> None:
        """A fork's records: the parent's run row and its iterations (and metrics) before ``before_iteration``."""
        kept = ("task", "env", "designer", "target", "budget_steps")
        run = {k: v for k, v in (self.get_run(thread_id) or {}).items() if k in kept}
        for table in ("iterations", "metrics", "candidates"):
            if table not in self.db.table_names():
                continue
            rows = self.db[table].rows_where("thread_id = ? and iteration < ?", [thread_id, before_iteration])
            self.db[table].upsert_all(
                [{**r, "thread_id": new_thread_id} for r in rows], pk=self.db[table].pks, alter=True
            )
        best = best_record(self.iterations(new_thread_id), score=lambda r: r.get("eval_mean"))
        self.upsert_run(
            new_thread_id,
            **run,
            status="running",
            forked_from=f"{thread_id}@{before_iteration}",
            iterations=before_iteration - 1,
            env_steps=sum(r["env_steps"] or 0 for r in self.iterations(new_thread_id)),
            best_score=best["eval_mean"] if best else None,
            best_iteration=best["iteration"] if best else None,
        )

    def get_run(self, thread_id: str) -> dict | None:
        rows = list(self.db["runs"].rows_where("thread_id = ?", [thread_id]))
        return rows[0] if rows else None

    def runs(self) -> list[dict]:
        return list(self.db["runs"].rows_where(order_by="created_at"))

    def iterations(self, thread_id: str) -> list[dict]:
        return list(self.db["iterations"].rows_where("thread_id = ?", [thread_id], order_by="iteration"))

    def candidates(self, thread_id: str) -> list[dict]:
        """Every iteration's candidates, each iteration's winner first, then in ranking order."""
        if "candidates" not in self.db.table_names():
            return []
        return list(
            self.db["candidates"].rows_where("thread_id = ?", [thread_id], order_by="iteration, won desc, rowid")
        )

    def metrics(self, thread_id: str) -> list[dict]:
        return list(self.db["metrics"].rows_where("thread_id = ?", [thread_id], order_by="iteration, env_step"))
