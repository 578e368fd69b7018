"""The performance suite: Agent² against a hand-written baseline and a tuned reference.

    python bench/suite.py --quick            # classic control, small budgets: under 20 min on 2 cores
    python bench/suite.py --quick --tasks CartPole-v1 --seeds 1   # part of it, at the same budgets
    python bench/suite.py --full             # every built-in task that is installed, default budgets
    python bench/suite.py --full --tasks Walker2d-v5 --seeds 0 --contenders agent2 manual --shard 0/2
    python bench/suite.py --full --table     # only the table of what is measured so far
    python bench/suite.py --tasks CartPole-v1 --seeds 0 1 2 --budget 30000

Contenders, at the same env-step budget and seeds: ``manual`` (bench/plain_tianshou.py: the original
MDP with Tianshou's defaults, as a user writes it from Tianshou's examples), ``zoo`` (bench/zoo.py:
RL Baselines3 Zoo's tuned hyper-parameters through Tianshou, original MDP), ``tuner`` (bench/tuner.py:
RL Zoo's way of tuning, Optuna's TPE sampler and median pruner over the algorithm's hyper-parameters,
its trials sharing the same total env-step budget) and ``agent2`` (the expert designer; ``agent2-llm`` too when a model endpoint is configured, or with ``--llm``). Every score is the
mean of 20 deterministic evaluation episodes of the contender's best test policy on the original
reward (Agent²'s evaluation adds episodes, up to 200, while the 95% interval of its mean still holds the
target); a task's figure is the mean ± std over seeds and the interquartile mean with its 95%
percentile-bootstrap interval (the rliable way). "Steps to target": env steps at the first test
at or above the target (median over the seeds that got there). Gains: (agent2 − other) / |other|.

``--quick`` and custom sets run in one sitting in a temporary folder and write
bench/results/<commit>-<mode>.json (every run, with the command and machine; the commit is read
before the runs start), append bench/results/history.csv (one row per task and contender, keyed on
the commit and the whole setup: mode, budget, seeds) and bench/results/<commit>-<mode>.png, print a
Markdown table and the change of Agent²'s scores against the last other commit measured with the same
setup.

``--full`` builds its table over several sittings: each (task, contender, budget, seed) result is
written to bench/results/suite/<task>/<contender>-b<budget>-seed<seed>.json as soon as it ends, and
the next call skips the ones written (a failed run is recorded as failed and tried again: an Agent²
run that ended without an evaluated policy as a new thread beside it, ``<run>-retry1``, …; an error
in measuring one run is that run's failed record, and the others go on; records are written whole).
A run that had ended in an earlier sitting, its record not yet written, is recorded under the commits
that ran it (``recorded_at``: the one that read it). Runs keep
their folders under ``--runs-dir`` (default bench/runs/, not committed): an Agent² or zoo run that was
stopped continues from its last checkpoint (``agent2 resume``; the zoo run's worker continues its
iteration folder; the manual run continues from the checkpoint plain_tianshou.py writes each epoch; a tuner run keeps
its finished trials in its Optuna study and continues the trial that was cut from its checkpoint).
``--again`` measures finished ones anew (after a change that alters them): each earlier record is kept
beside, as ``<contender>-b<budget>-seed<seed>-at-<its commit>.json``, and the runs need a ``--runs-dir``
that does not hold them. ``--rescore`` evaluates finished manual runs again from the ``--runs-dir`` that
holds them, without training (after a change to the evaluation), keeping the earlier records the same way.
A suite stopped with ``kill`` (SIGTERM) or Ctrl-C ends the runs it was running and records none of them;
the next call resumes them. Two suites whose runs overlap in one ``--runs-dir`` never train the same run
at once: the second leaves it to the first (a lock file per run).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import RESULTS, commit, finish, provenance  # noqa: E402
from bench.published import LIBRARY, PAPER  # noqa: E402
from bench.zoo import ZOO  # noqa: E402
from envs.registry import BUILTIN_TASKS  # noqa: E402
from tools import devices  # noqa: E402
from tools.statistics import iqm_ci  # noqa: E402

FULL = RESULTS / "suite"
QUICK = {"CartPole-v1": 30_000, "Acrobot-v1": 60_000, "Pendulum-v1": 10_000}
CONTENDERS = ("manual", "zoo", "tuner", "agent2")
QUICK_CONTENDERS = ("manual", "zoo", "agent2")
"""--quick leaves the tuner out by default (its trials take as long again as the three others):
``--contenders tuner`` adds it."""


_live: set[subprocess.Popen] = set()
"""The runs going now (their CLI or baseline processes), for :func:`_stop`."""
_live_lock = threading.RLock()
_stopping = threading.Event()


class Stopped(Exception):
    """The suite was told to stop (SIGTERM) before this run started."""


class Busy(Exception):
    """Another suite process is running this job in the same runs folder."""


def torch_threads() -> int:
    """Torch threads each run takes: AGENT2_TORCH_THREADS as the caller set it, else one (``--jobs`` runs
    share the cores one each)."""
    threads = devices.requested_threads()
    if threads is not None and threads < 1:
        raise SystemExit(f"suite: AGENT2_TORCH_THREADS must be at least 1, got {threads}")
    return threads or 1


def _run(cmd: list[str], env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``cmd`` (one torch thread, or the AGENT2_TORCH_THREADS the caller set); its output and wall
    seconds. Refused once the suite is stopping."""
    t0 = time.perf_counter()
    with _live_lock:
        if _stopping.is_set():
            raise Stopped(" ".join(cmd[:4]))
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "AGENT2_TORCH_THREADS": str(torch_threads()), **(env or {})},
        )
        _live.add(proc)
    try:
        out, err = proc.communicate()
    finally:
        with _live_lock:
            _live.discard(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), time.perf_counter() - t0


def _stop(signum: int, _frame) -> None:
    """SIGTERM: stop every run going (each ends its own worker: the sandbox gives workers a
    parent-death signal), start no other, record none of them, and exit. A later call resumes them
    from their checkpoints. (Ctrl-C reaches the whole process group by itself.)"""
    with _live_lock:
        _stopping.set()
        children = list(_live)
    for proc in children:
        proc.terminate()
    for proc in children:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"suite: stopped by signal {signum}; {len(children)} run(s) cut, none recorded", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


def steps_to_target(curve: list[list[float]], target: float | None, untrained_tests=()) -> int | None:
    """The first env step a *trained* policy's test met ``target``: the tests at the positions
    ``untrained_tests`` in ``curve`` are of policies before any update (a record's
    ``untrained_tests``), which no contender earned. Positions, not steps: an on-policy iteration's
    untrained test can share its step with the last test of the iteration before it."""
    if target is None:
        return None
    skip = set(untrained_tests)
    return next((int(step) for i, (step, mean) in enumerate(curve) if mean >= target and i not in skip), None)


def run_baseline(script: str, task: str, budget: int, seed: int, extra: list[str] | None = None) -> dict:
    proc, wall = _run(
        [
            sys.executable,
            str(ROOT / "bench" / script),
            "--env",
            task,
            "--budget-steps",
            str(budget),
            "--seed",
            str(seed),
            *(extra or []),
        ]
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-800:], "wall": wall}
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    if rec.get("error") or rec.get("score") is None:
        return {"error": str(rec.get("error") or "no score")[-800:], "wall": wall}
    return {
        "score": rec["score"],
        "env_steps": rec["env_steps"],
        "wall": wall,
        "curve": rec["curve"],
        "untrained_tests": rec.get("untrained_tests", []),
        **({"returns": rec["returns"]} if "returns" in rec else {}),  # the scored episodes
        # a resumed manual run: the step it continued from, and its wall time over every sitting
        **({"resumed_at": rec["resumed_at"], "run_wall": rec["wall_seconds"]} if "resumed_at" in rec else {}),
    }


def agent2_thread(runs: Path, key: str) -> str:
    """The thread that measures job ``key`` in ``runs``: ``key`` itself, unless it ended without an
    evaluated policy (a failed run, recorded as failed); then the next try, ``key-retry1``, … A thread
    that is unfinished (to resume) or finished with a policy (to record) is the one returned."""
    for n in range(1000):
        thread = key if n == 0 else f"{key}-retry{n}"
        result_file = runs / thread / "result.json"
        if (
            not result_file.exists()
            or (json.loads(result_file.read_text()).get("best") or {}).get("eval_mean") is not None
        ):
            return thread
    raise RuntimeError(f"{key}: 1000 failed tries in {runs}")


def run_agent2(task: str, budget: int, seed: int, designer: str, runs: Path, thread: str) -> dict:
    """``agent2 run``, or ``agent2 resume`` when ``runs`` holds this thread unfinished (a stopped run)."""
    from graph.runner import thread_recorded

    result_file = runs / thread / "result.json"
    cmd = [
        "run",
        "--env",
        task,
        "--budget-steps",
        str(budget),
        "--seed",
        str(seed),
        "--thread-id",
        thread,
        "--no-progress",
        "--designer",
        designer,
    ]
    if result_file.exists():  # finished, but the suite was stopped before it saved the record
        cmd, wall = [], 0.0
    elif (runs / "checkpoints.sqlite").exists() and thread_recorded(thread, str(runs)):
        cmd = ["resume", thread]  # continues from the iteration's training checkpoint
    if cmd:
        proc, wall = _run([sys.executable, "-m", "app.cli", *cmd, "--runs-dir", str(runs)])
        if cmd[0] == "resume" and "--restart-iteration" in proc.stderr:  # a checkpoint of older code or
            proc, more = _run(
                [
                    sys.executable,
                    "-m",
                    "app.cli",
                    *cmd,
                    "--restart-iteration",  # another job
                    "--runs-dir",
                    str(runs),
                ]
            )
            wall += more
    if not result_file.exists():
        return {"error": (proc.stderr or proc.stdout)[-800:], "wall": wall}
    result = json.loads(result_file.read_text())
    with sqlite3.connect(runs / "agent2.db") as db:
        iters = db.execute(
            "select iteration, env_steps from iterations where thread_id = ? order by iteration", [thread]
        ).fetchall()
        marked = any(col[1] == "untrained" for col in db.execute("pragma table_info(metrics)"))  # older runs: not
        points = db.execute(
            f"select iteration, env_step, test_mean, {'untrained' if marked else '0'} from metrics "
            "where thread_id = ? order by iteration, env_step",
            [thread],
        ).fetchall()
    offset, offsets = 0, {}
    for it, steps in iters:
        offsets[it] = offset
        offset += steps or 0
    curve = [[offsets.get(it, 0) + step, mean] for it, step, mean, _ in points]
    untrained_tests = [i for i, (_, _, _, untrained) in enumerate(points) if untrained]
    best = result.get("best") or {}
    if best.get("eval_mean") is None:
        return {"error": f"run ended {result['status']} without an evaluated policy", "wall": wall}
    return {
        "score": best["eval_mean"],  # on fresh seeds where the policy was chosen among several (nodes/confirm.py)
        **({"metrics": best["eval_metrics"]} if best.get("eval_metrics") else {}),  # MetaDrive: success, route
        **({"selection_score": best["selection_mean"]} if best.get("selection_mean") is not None else {}),
        "env_steps": result["env_steps_total"],
        "wall": wall,
        "curve": curve,
        "untrained_tests": untrained_tests,
        "iterations": len(result["iterations"]),
        "status": result["status"],
        "algorithms": [it["algorithm"] for it in result["iterations"]],
        "run_wall": result.get("wall_seconds"),  # the whole run's, over every sitting ("wall": this one's)
        **({"resumed": True} if cmd[:1] == ["resume"] else {}),
        **({"adopted": True} if not cmd else {}),  # finished in an earlier sitting: read, not run
    }


def run_key(task: str, contender: str, budget: int, seed: int) -> str:
    return f"{task}-{contender}-b{budget}-s{seed}"


def measure(task: str, contender: str, budget: int, seed: int, runs: Path) -> dict:
    """One run of one contender; ``runs`` is where it keeps its folder (kept between calls in --full).
    Two suites never train one job in one folder: the second is told ``Busy`` (a lock file per job)."""
    import fcntl

    if _stopping.is_set():
        raise Stopped(f"{task} {contender} seed {seed}")
    runs.mkdir(parents=True, exist_ok=True)
    with open(runs / f"{run_key(task, contender, budget, seed)}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"{task} {contender} seed {seed}: another suite is running it in {runs}") from None
        return _measure(task, contender, budget, seed, runs)  # the lock goes with the file's closing


def _measure(task: str, contender: str, budget: int, seed: int, runs: Path) -> dict:
    base = {
        "task": task,
        "contender": contender,
        "seed": seed,
        "budget": budget,
        **provenance(),
        "torch_threads": torch_threads(),  # its wall depends on it
    }
    key = run_key(task, contender, budget, seed)
    before = sitting(runs, key)
    base["run_commits"] = sitting(runs, key, base["commit"])
    if contender == "manual":
        out = run_baseline("plain_tianshou.py", task, budget, seed, ["--folder", str(runs / key)])
    elif contender == "zoo":
        out = run_baseline("fixed_run.py", task, budget, seed, ["--folder", str(runs / key / "iter_1")])
    elif contender == "tuner":
        out = run_baseline("tuner.py", task, budget, seed, ["--folder", str(runs / key)])
    else:
        designer = "llm" if contender == "agent2-llm" else "expert"
        out = run_agent2(task, budget, seed, designer, runs, agent2_thread(runs, key))
    rec = finish({**base, **out, **({"failed": True} if "error" in out else {})})
    if out.get("adopted") and before:  # the run ended in an earlier sitting: its commits, not this one
        rec.update(commit=before[-1], run_commits=before, recorded_at=base["commit"])
        rec.pop("spans_commits", None)
    return rec


def failed_record(job: tuple, error: str) -> dict:
    task, contender, budget, seed = job
    base = {"task": task, "contender": contender, "seed": seed, "budget": budget, **provenance()}
    return finish({**base, "error": error[-800:], "wall": 0.0, "failed": True})


def write_record(path: Path, record: dict) -> None:
    """Write ``record`` whole or not at all (a stop mid-write leaves the earlier file, never half a one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)


def sitting(runs: Path, key: str, sha: str | None = None) -> list[str]:
    """Every commit that has worked on run ``key``, ``sha`` added last: a run stopped and continued in a
    later session may span several (kept in ``runs/KEY.commits`` beside the run's folder)."""
    log = runs / f"{key}.commits"
    seen = log.read_text().split() if log.exists() else []
    if sha is not None and sha not in seen:
        runs.mkdir(parents=True, exist_ok=True)
        log.write_text("\n".join([*seen, sha]) + "\n")
        seen.append(sha)
    return seen


def record_path(task: str, contender: str, budget: int, seed: int) -> Path:
    return FULL / task / f"{contender}-b{budget}-seed{seed}.json"


def finished(path: Path) -> bool:
    return path.exists() and not json.loads(path.read_text()).get("failed")


def summarise(records: list[dict], targets: dict[str, float | None]) -> list[dict]:
    rows = []
    for task in dict.fromkeys(r["task"] for r in records):
        for contender in dict.fromkeys(r["contender"] for r in records if r["task"] == task):
            rs = [r for r in records if r["task"] == task and r["contender"] == contender]
            scores = [r["score"] for r in rs if r.get("score") is not None]
            reached = [
                s
                for s in (steps_to_target(r.get("curve", []), targets[task], r.get("untrained_tests", ())) for r in rs)
                if s is not None
            ]
            rows.append(
                {
                    "task": task,
                    "contender": contender,
                    "runs": len(rs),
                    "failed": len(rs) - len(scores),
                    "mean": statistics.mean(scores) if scores else None,
                    "std": statistics.pstdev(scores) if len(scores) > 1 else 0.0 if scores else None,
                    "iqm_ci": list(iqm_ci(scores)) if scores else None,
                    "reached": len(reached),
                    "steps_to_target": int(statistics.median(reached)) if reached else None,
                    "env_steps": statistics.mean(r["env_steps"] for r in rs if not r.get("failed")) if scores else None,
                    "wall": statistics.mean(r.get("run_wall") or r["wall"] for r in rs if not r.get("failed"))
                    if scores
                    else None,
                    "commits": list(dict.fromkeys(c for r in rs for c in r.get("run_commits") or [r["commit"]])),
                    "metrics": episode_metrics(rs),
                }
            )
    return rows


def episode_metrics(records: list[dict]) -> dict[str, float]:
    """The evaluations' episode metrics (MetaDrive: success rate, route completion), each the mean over
    the records that carry it."""
    keys = dict.fromkeys(k for r in records for k in r.get("metrics") or {})
    return {k: statistics.mean(r["metrics"][k] for r in records if k in (r.get("metrics") or {})) for k in keys}


def _gain(a: float | None, b: float | None) -> str:
    """(a − b) / |b| in percent; "—" where |b| is too close to 0 for a ratio to mean anything (a
    baseline that scored −0.00 on MountainCar gave +26 trillion %)."""
    if a is None or b is None or abs(b) < 1e-3 * max(1.0, abs(a)):
        return "—"
    return f"{100 * (a - b) / abs(b):+.0f} %"


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f}"


def _val(x: float, like: float | None = None) -> str:
    """A score with the digits its size (or that of ``like``) needs: a win rate of 0.75 is not "0.8"."""
    return f"{x:.2f}" if abs(x if like is None else like) < 10 else f"{x:.1f}"


def table(rows: list[dict], targets: dict[str, float | None]) -> str:
    lines = [
        "| task (target) | contender | score (mean ± std over seeds) | IQM [95% bootstrap CI] | a test reached the target "
        "| steps to target (median) | env steps | wall (s) | Agent² gain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by = {(r["task"], r["contender"]): r for r in rows}
    for r in rows:
        score = "failed" if r["mean"] is None else f"{_val(r['mean'])} ± {_val(r['std'], r['mean'])}"
        ours = by.get((r["task"], "agent2"), {}).get("mean")
        gain = "" if r["contender"].startswith("agent2") else _gain(ours, r["mean"])
        iqm = "—" if not r.get("iqm_ci") else "{} [{}, {}]".format(*map(_val, r["iqm_ci"]))
        lines.append(
            f"| {r['task']} ({_target(targets[r['task']])}) | {r['contender']} | {score} | {iqm} | "
            f"{r['reached']}/{r['runs']} | "
            f"{r['steps_to_target'] or '—'} | {_num(r['env_steps'])} | {_num(r['wall'])} | {gain} |"
        )
    return "\n".join(lines)


def _target(target: float | None) -> str:
    return "no target" if target is None else f"{target:g}"


def plot(rows: list[dict], targets: dict[str, float | None], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.5), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=False):
        rs = [r for r in rows if r["task"] == task and r["mean"] is not None]
        ax.bar(
            [r["contender"] for r in rs],
            [r["mean"] for r in rs],
            yerr=[r["std"] for r in rs],
            capsize=4,
            color=[
                {"manual": "#999999", "zoo": "#6a9fd4", "tuner": "#8fbf7f"}.get(r["contender"], "#d46a6a") for r in rs
            ],
        )
        if targets[task] is not None:
            ax.axhline(targets[task], color="k", ls="--", lw=1, label="target")
        ax.set_title(task)
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


HISTORY_FIELDS = [
    "commit",
    "date",
    "mode",
    "budget",
    "seeds",
    "task",
    "contender",
    "runs",
    "mean",
    "std",
    "reached",
    "steps_to_target",
    "env_steps",
    "wall",
]


def record_history(rows: list[dict], sha: str, mode: str, budgets: dict[str, int], seeds: list[int]) -> list[str]:
    """Append to history.csv; the changes of Agent²'s scores against the last other commit measured with
    the same setup (mode, task, budget, seeds)."""
    path = RESULTS / "history.csv"
    old = list(csv.DictReader(path.open())) if path.exists() else []
    seeds_key = " ".join(map(str, seeds))
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
        if not old:
            writer.writeheader()
        for r in rows:
            writer.writerow(
                {
                    "commit": sha,
                    "date": time.strftime("%Y-%m-%d"),
                    "mode": mode,
                    "budget": budgets[r["task"]],
                    "seeds": seeds_key,
                    **{k: r[k] for k in HISTORY_FIELDS[5:]},
                }
            )
    changes = []
    for r in rows:
        if not r["contender"].startswith("agent2") or r["mean"] is None:
            continue
        before = [
            o
            for o in old
            if (o["mode"], o["task"], o["contender"], o["budget"], o["seeds"])
            == (mode, r["task"], r["contender"], str(budgets[r["task"]]), seeds_key)
            and o["commit"] != sha
            and o["mean"]
        ]
        if before:
            prev = before[-1]
            delta = r["mean"] - float(prev["mean"])
            worse = delta < -max(float(prev["std"] or 0), r["std"] or 0)
            changes.append(
                f"{r['task']} {r['contender']}: {float(prev['mean']):.1f} at {prev['commit']} -> "
                f"{r['mean']:.1f} now ({delta:+.1f}){'  WORSE beyond the seed spread' if worse else ''}"
            )
    return changes


def family_table(rows: list[dict], budgets: dict[str, int]) -> str:
    """The issue-16 table: per task (every task of the call, measured or not), Agent² over seeds, the
    seeds that met the target and how far the mean is short of it, the manual, zoo and tuner baselines
    (each with the commits that measured it), the paper's baseline → Agent² and the published library
    figures."""
    by = {(r["task"], r["contender"]): r for r in rows}
    lines = [
        "| family | task (target) | budget | Agent² (mean ± std, met/seeds) | manual | zoo | tuner | "
        "paper: baseline → Agent² | published |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(r: dict | None, met: bool = False, target: float | None = None, applies: bool = True) -> str:
        if r is None:
            return "not run" if applies else "—"
        if r["mean"] is None:
            return f"failed ({r['failed']} of {r['runs']})"
        spread = f" ± {_val(r['std'], r['mean'])}" if r["runs"] - r["failed"] > 1 else ""
        seeds_ok = r["runs"] - r["failed"]
        short = (
            f"; mean {_val(target - r['mean'], r['mean'])} short of the target"
            if met and target is not None and r["mean"] < target
            else ""
        )
        failed = f"; {r['failed']} failed" if r["failed"] else ""
        return (
            f"{_val(r['mean'])}{spread} "
            + (
                f"(met {r['met']} of {seeds_ok}{short}{failed})"
                if met
                else f"({seeds_ok} seed{'s' * (seeds_ok != 1)}{failed})"
            )
            + "".join(f"; {k} {v:.2f}" for k, v in (r.get("metrics") or {}).items())
            + f" at {', '.join(r['commits'])}"
        )

    for task in dict.fromkeys([*budgets, *(r["task"] for r in rows)]):
        t = BUILTIN_TASKS.get(task)
        budget = f"{budgets[task] // 1000}k" if task in budgets else "—"
        single = not (t and t.multi_agent)  # the manual script and the tuner train one agent (see the jobs)
        lines.append(
            f"| {t.family if t else '—'} | {task} ({t.target if t else '—'}) | {budget} | "
            f"{cell(by.get((task, 'agent2')), met=True, target=t.target if t else None)} | "
            f"{cell(by.get((task, 'manual')), applies=single)} | {cell(by.get((task, 'zoo')), applies=task in ZOO)} | "
            f"{cell(by.get((task, 'tuner')), applies=single)} | {PAPER.get(task, '—')} | "
            f"{LIBRARY.get(task, '—')} |"
        )
    return "\n".join(lines)


def met_target(record: dict, target: float | None) -> bool:
    """An Agent² run met its target when its own status says so (decided beyond the evaluation's noise,
    on its confirmation where it had one: 0.90 over 200 battles at a 0.9 target is not met); a baseline's
    record, which has no status, when its score reaches the target."""
    if record.get("score") is None or target is None:
        return False
    if record.get("status"):
        return record["status"] == "target_met"
    return record["score"] >= target


def suite_mode(full: bool, quick: bool, tasks: list[str] | None) -> str:
    """``full``; ``quick`` (also with ``--tasks``, or with no tasks and no mode); ``custom`` (tasks alone)."""
    return "full" if full else "quick" if quick or not tasks else "custom"


def default_contenders(mode: str, llm: bool) -> list[str]:
    """The contenders a call that names none runs: ``--quick`` (with or without ``--tasks``) leaves the
    tuner out; ``agent2-llm`` joins when an LLM endpoint is configured."""
    return [*(QUICK_CONTENDERS if mode == "quick" else CONTENDERS), *(["agent2-llm"] if llm else [])]


def full_records(jobs: list[tuple[str, str, int, int]]) -> list[dict]:
    return [json.loads(p.read_text()) for p in (record_path(*job) for job in jobs) if p.exists()]


def main() -> None:
    ap = argparse.ArgumentParser()
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="classic control, small budgets (< 20 min, 2 cores)")
    mode.add_argument(
        "--full",
        action="store_true",
        help="every installed built-in task, default budgets; resumable, each result saved when it ends",
    )
    ap.add_argument("--tasks", nargs="*")
    ap.add_argument("--budget", type=int, help="env steps for every task (default: the mode's)")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument(
        "--contenders",
        nargs="*",
        choices=[*CONTENDERS, "agent2-llm"],
        help="default: manual, zoo, tuner, agent2 (--quick: without tuner), and agent2-llm with --llm",
    )
    ap.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="runs at once (one core each: AGENT2_TORCH_THREADS=N gives each run N torch threads)",
    )
    ap.add_argument("--shard", default="0/1", metavar="I/N", help="--full: only the runs whose index modulo N is I")
    ap.add_argument(
        "--runs-dir",
        type=Path,
        default=ROOT / "bench" / "runs",
        help="--full: where runs keep their folders between calls",
    )
    ap.add_argument("--table", action="store_true", help="--full: only print the table of the results on disk")
    ap.add_argument(
        "--rescore",
        action="store_true",
        help="--full: evaluate this shard's finished manual runs again from their folders in --runs-dir, "
        "without training (after a change to the evaluation; earlier records kept as …-at-COMMIT.json)",
    )
    ap.add_argument(
        "--again",
        action="store_true",
        help="--full: measure this shard's finished runs again (the earlier records are kept as …-at-COMMIT.json)",
    )
    ap.add_argument(
        "--llm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add the LLM designer as a contender (default: when a model endpoint is configured)",
    )
    args = ap.parse_args()
    threads, cores = torch_threads(), os.cpu_count() or 1
    if threads * args.jobs > cores:
        print(
            f"suite: warning: {args.jobs} runs at once x {threads} torch threads (AGENT2_TORCH_THREADS) is more "
            f"than the {cores} cores; threads that share a core make updates ~10x slower",
            file=sys.stderr,
        )
    signal.signal(signal.SIGTERM, _stop)
    try:
        shard, shards = (int(x) for x in args.shard.split("/"))
        assert 0 <= shard < shards
    except (ValueError, AssertionError):
        ap.error(f"--shard {args.shard!r}: expected I/N with 0 <= I < N, e.g. 0/2")
    unknown = [t for t in args.tasks or [] if t not in BUILTIN_TASKS and not args.budget]
    if unknown:
        ap.error(f"--tasks {unknown}: not built-in tasks, so --budget is needed")
    if args.llm is None:
        from nodes.designers.llm_config import endpoint_configured

        args.llm = endpoint_configured()
    mode_name = suite_mode(args.full, args.quick, args.tasks)
    budgets = task_budgets(args.tasks, args.budget, args.full, args.quick)
    targets = {t: BUILTIN_TASKS[t].target if t in BUILTIN_TASKS else None for t in budgets}
    contenders = args.contenders or default_contenders(mode_name, args.llm)
    jobs = [
        (task, c, budget, seed)
        for task, budget in budgets.items()
        for seed in args.seeds
        for c in contenders
        if not (c in ("manual", "tuner") and BUILTIN_TASKS.get(task) and BUILTIN_TASKS[task].multi_agent)
        and not (c == "zoo" and task not in ZOO)
    ]
    if args.full:
        run_full(args, jobs, budgets, targets, shard, shards)
        return
    prov = provenance()
    print(f"suite ({mode_name}): {len(jobs)} runs, {args.jobs} at once, commit {prov['commit']}", file=sys.stderr)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agent2-suite-") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(measure, task, c, budget, seed, Path(tmp) / f"runs-{i}")
            for i, (task, c, budget, seed) in enumerate(jobs)
        ]
        records = []
        for i, fut in enumerate(futures):
            records.append(fut.result())
            _report(records[-1], i, len(jobs), t0)
    total = time.perf_counter() - t0
    rows = summarise(records, targets)
    sha = prov["commit"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{sha}-{mode_name}.json").write_text(
        json.dumps(
            {
                **finish(prov),
                "mode": mode_name,
                "seeds": args.seeds,
                "jobs": args.jobs,
                "wall_seconds": total,
                "budgets": budgets,
                "records": records,
                "summary": rows,
            },
            indent=1,
        )
    )
    plot(rows, targets, RESULTS / f"{sha}-{mode_name}.png")
    changes = record_history(rows, sha, mode_name, budgets, args.seeds)
    print(table(rows, targets))
    print(
        f"\n{len(jobs)} runs in {total:.0f} s ({args.jobs} at once), commit {sha}; "
        f"raw: bench/results/{sha}-{mode_name}.json, plot: bench/results/{sha}-{mode_name}.png"
    )
    for line in changes or ["no earlier commit measured with this setup"]:
        print(line)


def _report(r: dict, i: int, n: int, t0: float) -> None:
    shown = "failed: " + r["error"][-200:] if r.get("failed") else f"{r['score']:.1f}"
    print(
        f"[{i + 1}/{n} {time.perf_counter() - t0:5.0f} s] {r['task']} {r['contender']} seed {r['seed']}: {shown}",
        file=sys.stderr,
        flush=True,
    )


def run_full(args: argparse.Namespace, jobs: list, budgets: dict, targets: dict, shard: int, shards: int) -> None:
    """Run this shard's unfinished jobs, saving each result when it ends; then the table of all on disk."""
    if (args.again or args.rescore) and not args.table:
        keep_earlier_records([job for i, job in enumerate(jobs) if i % shards == shard], args.runs_dir, args.rescore)
    todo = [job for i, job in enumerate(jobs) if i % shards == shard and not finished(record_path(*job))]
    if not args.table:
        print(
            f"suite (full, shard {shard}/{shards}): {len(todo)} of {len(jobs)} runs to do, {args.jobs} at once, "
            f"commit {commit()}, runs in {args.runs_dir}",
            file=sys.stderr,
        )
        t0 = time.perf_counter()
        args.runs_dir.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(measure, *job, args.runs_dir): job for job in todo}
            for i, fut in enumerate(as_completed(futures)):
                job = futures[fut]
                try:
                    r = fut.result()
                except Stopped:
                    raise
                except Busy as e:  # the other suite records it
                    print(f"skipped: {e}", file=sys.stderr, flush=True)
                    continue
                except Exception as e:  # a bug in measuring one run: record it failed, go on with the rest
                    r = failed_record(job, f"{type(e).__name__}: {e}")
                write_record(record_path(*job), r)
                _report(r, i, len(todo), t0)
    records = full_records(jobs)
    rows = summarise(records, targets)
    for row in rows:
        row["met"] = sum(
            met_target(r, targets[r["task"]])
            for r in records
            if (r["task"], r["contender"]) == (row["task"], row["contender"])
        )
    print(table(rows, targets))
    print()
    print(family_table(rows, budgets))
    commits = sorted({r["commit"] for r in records})
    print(
        f"\n{len(records)} of {len(jobs)} runs on disk (bench/results/suite/<task>/<contender>-b<budget>-seed<seed>.json, "
        "each with the command that measured it), "
        f"{sum(bool(r.get('failed')) for r in records)} failed; measured at {', '.join(commits) or '—'}"
    )


def keep_earlier_records(jobs: list, runs_dir: Path, rescore: bool = False) -> None:
    """``--again``: move each finished record of ``jobs`` aside (named for the commit it measured), so
    the run is measured anew; refuse a runs folder that holds one of those runs already. ``--rescore``:
    the same, for manual runs whose folder holds them (plain_tianshou.py, given a finished run's
    folder, evaluates its best policy again without training); refuse any other."""
    for job in jobs:
        path = record_path(*job)
        if not finished(path):
            continue
        folder = runs_dir / run_key(*job)
        if rescore and (job[1] != "manual" or not (folder / "checkpoint.pt").exists()):
            raise SystemExit(
                f"--rescore: {folder} holds no finished manual run to evaluate again "
                "(only manual runs are rescored; see --contenders and --runs-dir)"
            )
        if not rescore and folder.exists():
            raise SystemExit(f"--again: {folder} holds that run already; give a --runs-dir without it")
        old = json.loads(path.read_text())
        kept = path.with_name(f"{path.stem}-at-{old.get('commit', 'unknown')}.json")
        n = 1
        while kept.exists():  # the same commit measured again: keep both
            n += 1
            kept = path.with_name(f"{path.stem}-at-{old.get('commit', 'unknown')}-{n}.json")
        path.rename(kept)


def task_budgets(tasks: list[str] | None, budget: int | None, full: bool, quick: bool) -> dict[str, int]:
    """Each task's env-step budget: ``budget`` when given; else ``--quick``'s small one for its tasks
    (also when named with ``--tasks``), else the task's own (``--full``, custom sets)."""
    if not tasks:
        names = [n for n in BUILTIN_TASKS if _installed(n)] if full else list(QUICK)
        return task_budgets(names, budget, full, not full)
    return {t: budget or (QUICK[t] if quick and t in QUICK else BUILTIN_TASKS[t].budget_steps) for t in tasks}


def _installed(task: str) -> bool:
    from envs.loading import make_raw_env

    try:
        make_raw_env(task).close()
        return True
    except Exception:
        return False


if __name__ == "__main__":
    main()
