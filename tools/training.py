"""Parent side of training: start the worker, follow its progress, collect its result.

A rerun on the same iteration folder continues from the worker's last checkpoint, which is how
``agent2 resume`` continues a killed run without starting the iteration over.
"""

from __future__ import annotations

import fcntl
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

from envs.errors import Agent2Error
from tools import sandbox
from tools.run_files import (
    BEST_POLICY,
    CHECKPOINT,
    CONFIRM_RESULT,
    EVAL_RESULT,
    JOB,
    PROGRESS,
    TRAIN_LOCK,
    TRAIN_RESULT,
)
from tools.schemas import CurvePoint, EvalResult, TrainJob, TrainResult

ProgressFn = Callable[[dict], None]
POLL_SECONDS = 0.5
MAX_WORKER_RESTARTS = 2
"""A worker killed by a signal from outside (kill -9, the OOM killer) is restarted from its last
checkpoint this many times before the iteration counts as crashed."""
# the words of a crash's error that ``interrupted`` reads back: one place for both
_FAILED = "training worker failed"
_STOPPED = "stopped"
_TIMED_OUT = "timed out after"
EVAL_TIMEOUT_S = 900.0


def write_job(job: TrainJob, iter_dir: Path) -> None:
    iter_dir.mkdir(parents=True, exist_ok=True)
    sandbox.write_text(iter_dir / JOB, job.model_dump_json(indent=1))  # whole, and never through a link
    sandbox.write_text(iter_dir / "mdp.py", job.mdp.code)


class StaleCheckpointError(Agent2Error):
    """An iteration folder holds training for another job than the one asked for."""


def _job_difference(job: TrainJob, iter_dir: Path) -> str | None:
    """How the job stored in ``iter_dir`` differs from ``job`` (None when it is the same job)."""
    try:
        stored = TrainJob.model_validate_json(sandbox.read_text(iter_dir / JOB))
    except OSError:
        return None
    except ValueError as e:
        return f"its {JOB} no longer fits the job schema ({str(e).splitlines()[0]})"
    if stored == job:
        return None
    return "the job changed: " + ", ".join(_changed_fields(stored.model_dump(), job.model_dump()))


def _changed_fields(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _changed_fields(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def _finished(job: TrainJob, iter_dir: Path) -> TrainResult | None:
    """The result of this very job if its worker already finished in ``iter_dir``."""
    if not (iter_dir / JOB).exists() or _job_difference(job, iter_dir) is not None:
        return None
    try:
        result = TrainResult.model_validate_json(sandbox.read_text(iter_dir / TRAIN_RESULT))
    except (OSError, ValueError):
        return None
    return result if result.stop_reason != "crash" else None


def forget_training(iter_dir: Path) -> None:
    """Delete what training wrote in ``iter_dir`` (its job, checkpoints, progress, results)."""
    for pattern in (JOB, CHECKPOINT + "*", BEST_POLICY + "*", PROGRESS, TRAIN_RESULT, EVAL_RESULT):
        for f in iter_dir.glob(pattern):
            f.unlink()


def _refuse_other_job(job: TrainJob, iter_dir: Path) -> None:
    """Training for another job in this folder is never resumed, nor silently thrown away: a resume after
    Agent² or the job changed says what changed and how to train the iteration again."""
    difference = _job_difference(job, iter_dir)
    if difference is None:
        return
    if not any(iter_dir.glob(CHECKPOINT + "*")) and not (iter_dir / TRAIN_RESULT).exists():
        forget_training(iter_dir)  # nothing trained yet: nothing to lose
        return
    raise StaleCheckpointError(
        f"{str(iter_dir)!r} holds training that cannot continue: {difference}; "
        "resume with --restart-iteration to train this iteration again from the start"
    )


def follow_progress(path: Path, offset: int, on_progress: ProgressFn | None) -> int:
    if not path.exists():
        return offset
    try:
        f = sandbox.open_read(path)
    except OSError:  # not a regular file (the worker's folder is writable by generated code)
        return offset
    with f:
        f.seek(offset)
        for line in f:
            if not line.endswith("\n"):
                break
            offset += len(line)
            if on_progress is not None:
                try:
                    on_progress(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return offset


def run_training(
    job: TrainJob,
    iter_dir: Path,
    on_progress: ProgressFn | None = None,
    timeout: float | None = None,
    eval_episodes: int = 0,
    stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train (or continue training) the job in ``iter_dir`` in a sandboxed worker process.

    ``timeout`` (seconds) or ``stop`` (asked before each start and at every poll; a signal handler sets
    what it reads) kill the worker, or start none; its checkpoint stays, and the result is a crash that
    says which of them stopped it.

    With ``eval_episodes`` the worker also evaluates the best policy before it exits, which
    ``run_evaluation`` then reads instead of starting another process.

    One trainer per folder: a second call for the same folder (LangGraph's server re-dispatches a
    node that runs longer than ~180 s while the first run of it is still going) waits on the
    folder's lock, then returns the first call's result instead of training again. The lock is
    ``flock``'s, so the kernel releases it when its holder dies (kill -9 included).
    """
    iter_dir.mkdir(parents=True, exist_ok=True)
    with sandbox.open_append(iter_dir / TRAIN_LOCK) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _train(job, iter_dir, on_progress, timeout, eval_episodes, stop)


def _train(
    job: TrainJob,
    iter_dir: Path,
    on_progress: ProgressFn | None,
    timeout: float | None,
    eval_episodes: int,
    stop: Callable[[], bool] | None,
) -> TrainResult:
    finished = _finished(job, iter_dir)
    if finished is not None:  # trained before a kill that came later (evaluation, critic): keep it
        return finished
    _refuse_other_job(job, iter_dir)
    write_job(job, iter_dir)
    (iter_dir / TRAIN_RESULT).unlink(missing_ok=True)
    (iter_dir / EVAL_RESULT).unlink(missing_ok=True)
    progress = iter_dir / PROGRESS
    offset = progress.stat().st_size if progress.exists() else 0
    log = iter_dir / "worker.log"
    start = time.perf_counter()
    proc, signal_no, timed_out, stopped = None, None, False, False
    for attempt in range(MAX_WORKER_RESTARTS + 1):
        if stop is not None and stop():  # asked before the first start (or a restart): start no worker
            stopped = True
            break
        if attempt:  # the last worker was killed by a signal from outside (kill -9, the OOM killer)
            if timeout is not None and time.perf_counter() - start > timeout:  # no time left to restart
                timed_out = True
                break
            with sandbox.open_append(log) as f:
                f.write(
                    f"\nagent2: training worker killed by signal {signal_no}; restart "
                    f"{attempt} of {MAX_WORKER_RESTARTS} from its last checkpoint\n".encode()
                )
        stale = sandbox.remove_stale_temps(iter_dir)  # a worker killed mid-write left them (kill -9, OOM)
        if stale:
            with sandbox.open_append(log) as f:
                f.write(f"\nagent2: removed the temp files of a killed writer: {', '.join(stale)}\n".encode())
        proc = sandbox.start("tools.train_worker", ["train", str(iter_dir), str(eval_episodes)], log)
        timed_out = stopped = False
        try:
            while proc.poll() is None:
                offset = follow_progress(progress, offset, on_progress)
                timed_out = timeout is not None and time.perf_counter() - start > timeout
                stopped = stop is not None and stop()
                if timed_out or stopped:
                    sandbox.kill(proc)
                    break
                time.sleep(POLL_SECONDS)
            follow_progress(progress, offset, on_progress)
        except BaseException:
            sandbox.kill(proc)
            raise
        signal_no = sandbox.killing_signal(proc.returncode)
        # killed from outside after a stop was asked: no restart (a worker that failed on its own stays failed)
        stopped = stopped or (signal_no is not None and stop is not None and stop())
        if timed_out or stopped or signal_no is None:
            break
    result_file = iter_dir / TRAIN_RESULT
    if proc is not None and proc.returncode == 0 and result_file.exists():
        try:
            return TrainResult.model_validate_json(sandbox.read_text(result_file))
        except (OSError, ValueError) as e:
            return TrainResult.crashed(
                str(iter_dir),
                f"unreadable {TRAIN_RESULT}: {str(e).splitlines()[0]}",
                steps_seen(progress),
                time.perf_counter() - start,
            )
    reason = (
        _STOPPED
        if stopped
        else f"{_TIMED_OUT} {timeout:.0f} s"
        if timed_out
        else f"killed by signal {signal_no}, {MAX_WORKER_RESTARTS} restarts"
        if signal_no is not None
        else f"exit code {proc.returncode}"
    )
    return TrainResult.crashed(
        str(iter_dir),
        f"{_FAILED} ({reason}):\n{sandbox.log_tail(log) if proc is not None else 'no worker was started'}",
        steps_seen(progress),
        time.perf_counter() - start,
    )


def interrupted(train: TrainResult) -> bool:
    """Whether a crash is ``run_training`` killing the worker on purpose (``stop`` or ``timeout``),
    not a failure of the worker's own."""
    return train.stop_reason == "crash" and (train.error or "").startswith(
        (f"{_FAILED} ({_STOPPED})", f"{_FAILED} ({_TIMED_OUT} ")
    )


def _events(progress: Path) -> list[dict]:
    events = []
    try:
        text = sandbox.read_text(progress) if progress.exists() else ""
    except OSError:
        text = ""
    if text:
        for line in text.splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


def tested_curve(iter_dir: Path) -> list[CurvePoint]:
    """The tests the iteration's workers logged, one per env step in step order, the last of each
    (a stopped run's curve: its training result was never written). A restarted worker tests its
    checkpoint again and redoes the tests after it, as the worker's own curve keeps them."""
    by_step = {
        int(e["env_step"]): CurvePoint(
            env_step=int(e["env_step"]),
            mean=e["mean"],
            std=e.get("std", 0.0),
            wall=e.get("wall", 0.0),
            untrained=e.get("untrained", False),
        )
        for e in _events(iter_dir / PROGRESS)
        if e.get("kind") == "test" and e.get("mean") is not None
    }
    return [by_step[k] for k in sorted(by_step)]


def steps_seen(progress: Path) -> int:
    return max((int(e.get("env_step", 0)) for e in _events(progress)), default=0)


def steps_consumed(iter_dir: Path) -> int:
    """Env steps actually collected by every worker session of this iteration, replays included.

    A session that was killed collected steps past its last checkpoint that the next session
    collects again; those count here, not in the trainer's own counter.
    """
    sessions: dict[object, tuple[int, int]] = {}
    for e in _events(iter_dir / PROGRESS):
        sid, step = e.get("session", e.get("pid")), int(e.get("env_step", 0))  # older files: by pid
        if sid is None:
            continue
        lo, hi = sessions.get(sid, (step, step))
        sessions[sid] = (min(lo, step), max(hi, step))
    return sum(hi - lo for lo, hi in sessions.values())


def run_evaluation(iter_dir: Path, episodes: int, confirm: bool = False) -> EvalResult:
    """Evaluate the iteration's best policy on the original reward, in a sandboxed worker; with
    ``confirm``, again on fresh seeds (the run's chosen policy, ``nodes/confirm.py``).

    An evaluation the worker already wrote for the current best policy is reused (a resume).
    """
    mode, name = ("confirm", CONFIRM_RESULT) if confirm else ("evaluate", EVAL_RESULT)
    done, best = iter_dir / name, iter_dir / BEST_POLICY
    if done.exists() and best.exists() and done.stat().st_mtime >= best.stat().st_mtime:
        try:
            result = EvalResult.model_validate_json(sandbox.read_text(done))
        except (OSError, ValueError):
            result = EvalResult.failed("unreadable")
        if result.episodes >= episodes and result.error is None:
            return finite_or_failed(result)
    log = iter_dir / ("confirm.log" if confirm else "eval.log")
    done.unlink(missing_ok=True)
    for _ in range(MAX_WORKER_RESTARTS + 1):
        code = sandbox.run("tools.train_worker", [mode, str(iter_dir), str(episodes)], log, timeout=EVAL_TIMEOUT_S)
        if code == -9 or sandbox.killing_signal(code) is None:  # done, failed, or timed out (-9)
            break
    if code == 0 and done.exists():
        try:
            return finite_or_failed(EvalResult.model_validate_json(sandbox.read_text(done)))
        except (OSError, ValueError) as e:
            return EvalResult.failed(f"unreadable {name}: {str(e).splitlines()[0]}")
    return EvalResult.failed(f"evaluation failed (exit code {code}):\n{sandbox.log_tail(log)}")


def finite_or_failed(result: EvalResult) -> EvalResult:
    """``result``, or an error result when its returns are not finite."""
    if result.mean is not None and not (math.isfinite(result.mean) and math.isfinite(result.std or 0.0)):
        return result.model_copy(
            update={"mean": None, "std": None, "error": f"evaluation returns are not finite ({result.mean})"}
        )
    return result


def evaluate_trained(train: TrainResult, iter_dir: Path, episodes: int) -> EvalResult:
    """``run_evaluation`` of what ``train`` produced; an error result when it produced no policy."""
    if train.best_test_mean is None:
        return EvalResult.failed("no policy to evaluate: training produced none")
    return run_evaluation(iter_dir, episodes)
