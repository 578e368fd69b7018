"""The performance suite: Agent² against a hand-written baseline and a tuned reference.

    python bench/suite.py --quick            # classic control, small budgets: under 20 min on 2 cores
    python bench/suite.py --full             # every built-in task that is installed, default budgets
    python bench/suite.py --tasks CartPole-v1 --seeds 0 1 2 --budget 30000

Contenders, at the same env-step budget and seeds: ``manual`` (bench/plain_tianshou.py: the original
MDP with Tianshou's defaults, as a user writes it from Tianshou's examples), ``zoo`` (bench/zoo.py:
RL Baselines3 Zoo's tuned hyper-parameters through Tianshou, original MDP) and ``agent2`` (the expert
designer; ``agent2-llm`` too when a model endpoint is configured, or with ``--llm``). Every score is the
mean of 20 deterministic evaluation episodes of the contender's best test policy on the original
reward (Agent²'s evaluation adds episodes, up to 200, while the 95% interval of its mean still holds the
target); a task's figure is the mean ± std over seeds and the interquartile mean with its 95%
percentile-bootstrap interval (the rliable way). "Steps to target": env steps at the first test
at or above the target (median over the seeds that got there). Gains: (agent2 − other) / |other|.

Writes bench/results/<commit>-<mode>.json (every run), appends bench/results/history.csv (one row per
task and contender, keyed by commit) and bench/results/<commit>-<mode>.png, prints a Markdown table
and the change of Agent²'s scores against the last other commit measured in the same mode.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.zoo import ZOO  # noqa: E402
from envs.registry import BUILTIN_TASKS  # noqa: E402
from tools.statistics import iqm_ci  # noqa: E402

RESULTS = ROOT / "bench" / "results"
QUICK = {"CartPole-v1": 30_000, "Acrobot-v1": 60_000, "Pendulum-v1": 10_000}
CONTENDERS = ("manual", "zoo", "agent2")


def _run(cmd: list[str], env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``cmd`` (one torch thread); its output and wall seconds."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "AGENT2_TORCH_THREADS": "1", **(env or {})})
    return proc, time.perf_counter() - t0


def steps_to_target(curve: list[list[float]], target: float | None) -> int | None:
    if target is None:
        return None
    return next((int(step) for step, mean in curve if mean >= target), None)


def run_baseline(script: str, task: str, budget: int, seed: int) -> dict:
    proc, wall = _run([sys.executable, str(ROOT / "bench" / script), "--env", task, "--budget-steps",
                       str(budget), "--seed", str(seed)])
    if proc.returncode != 0:
        return {"error": proc.stderr[-800:]}
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"score": rec["score"], "env_steps": rec["env_steps"], "wall": wall, "curve": rec["curve"]}


def run_agent2(task: str, budget: int, seed: int, designer: str, runs: Path) -> dict:
    thread = f"{task}-{designer}-{seed}"
    proc, wall = _run([sys.executable, "-m", "graph.cli", "run", "--env", task, "--budget-steps", str(budget),
                       "--seed", str(seed), "--runs-dir", str(runs), "--thread-id", thread, "--no-progress",
                       "--designer", designer])
    result_file = runs / thread / "result.json"
    if not result_file.exists():
        return {"error": proc.stderr[-800:]}
    result = json.loads(result_file.read_text())
    with sqlite3.connect(runs / "agent2.db") as db:
        iters = db.execute("select iteration, env_steps from iterations where thread_id = ? order by iteration",
                           [thread]).fetchall()
        points = db.execute("select iteration, env_step, test_mean from metrics where thread_id = ? "
                            "order by iteration, env_step", [thread]).fetchall()
    offset, offsets = 0, {}
    for it, steps in iters:
        offsets[it] = offset
        offset += steps or 0
    curve = [[offsets.get(it, 0) + step, mean] for it, step, mean in points]
    best = result.get("best") or {}
    return {"score": best.get("eval_mean"), "env_steps": result["env_steps_total"], "wall": wall,
            "curve": curve, "iterations": len(result["iterations"]), "status": result["status"],
            "algorithms": [it["algorithm"] for it in result["iterations"]]}


def measure(task: str, contender: str, budget: int, seed: int, runs: Path) -> dict:
    base = {"task": task, "contender": contender, "seed": seed, "budget": budget}
    if contender == "manual":
        return {**base, **run_baseline("plain_tianshou.py", task, budget, seed)}
    if contender == "zoo":
        return {**base, **run_baseline("fixed_run.py", task, budget, seed)}
    designer = "llm" if contender == "agent2-llm" else "expert"
    return {**base, **run_agent2(task, budget, seed, designer, runs)}


def summarise(records: list[dict], targets: dict[str, float | None]) -> list[dict]:
    rows = []
    for task in dict.fromkeys(r["task"] for r in records):
        for contender in dict.fromkeys(r["contender"] for r in records if r["task"] == task):
            rs = [r for r in records if r["task"] == task and r["contender"] == contender]
            scores = [r["score"] for r in rs if r.get("score") is not None]
            reached = [s for s in (steps_to_target(r.get("curve", []), targets[task]) for r in rs) if s is not None]
            rows.append({
                "task": task, "contender": contender, "runs": len(rs), "failed": len(rs) - len(scores),
                "mean": statistics.mean(scores) if scores else None,
                "std": statistics.pstdev(scores) if len(scores) > 1 else 0.0 if scores else None,
                "iqm_ci": list(iqm_ci(scores)) if scores else None,
                "reached": len(reached), "steps_to_target": int(statistics.median(reached)) if reached else None,
                "env_steps": statistics.mean(r["env_steps"] for r in rs if "env_steps" in r) if scores else None,
                "wall": statistics.mean(r["wall"] for r in rs if "wall" in r) if scores else None,
            })
    return rows


def _gain(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{100 * (a - b) / abs(b):+.0f} %"


def table(rows: list[dict], targets: dict[str, float | None]) -> str:
    lines = ["| task (target) | contender | score (mean ± std over seeds) | IQM [95% bootstrap CI] | reached target "
             "| steps to target (median) | env steps | wall (s) | Agent² gain |", "|---|---|---|---|---|---|---|---|---|"]
    by = {(r["task"], r["contender"]): r for r in rows}
    for r in rows:
        score = "failed" if r["mean"] is None else f"{r['mean']:.1f} ± {r['std']:.1f}"
        ours = by.get((r["task"], "agent2"), {}).get("mean")
        gain = "" if r["contender"].startswith("agent2") else _gain(ours, r["mean"])
        iqm = "—" if not r.get("iqm_ci") else "{:.1f} [{:.1f}, {:.1f}]".format(*r["iqm_ci"])
        lines.append(f"| {r['task']} ({targets[r['task']]:g}) | {r['contender']} | {score} | {iqm} | "
                     f"{r['reached']}/{r['runs']} | "
                     f"{r['steps_to_target'] or '—'} | {r['env_steps'] or 0:.0f} | {r['wall'] or 0:.0f} | {gain} |")
    return "\n".join(lines)


def plot(rows: list[dict], targets: dict[str, float | None], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rs = [r for r in rows if r["task"] == task and r["mean"] is not None]
        ax.bar([r["contender"] for r in rs], [r["mean"] for r in rs], yerr=[r["std"] for r in rs], capsize=4,
               color=["#999999" if r["contender"] == "manual" else "#6a9fd4" if r["contender"] == "zoo"
                      else "#d46a6a" for r in rs])
        if targets[task] is not None:
            ax.axhline(targets[task], color="k", ls="--", lw=1, label="target")
        ax.set_title(task)
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def commit() -> str:
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return sha.strip() + ("-dirty" if dirty else "")


def record_history(rows: list[dict], sha: str, mode: str) -> list[str]:
    """Append to history.csv; the changes of Agent²'s scores against the last other commit in this mode."""
    path = RESULTS / "history.csv"
    old = list(csv.DictReader(path.open())) if path.exists() else []
    fields = ["commit", "date", "mode", "task", "contender", "runs", "mean", "std", "reached", "steps_to_target",
              "env_steps", "wall"]
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if not old:
            writer.writeheader()
        for r in rows:
            writer.writerow({"commit": sha, "date": time.strftime("%Y-%m-%d"), "mode": mode,
                             **{k: r[k] for k in fields[3:]}})
    changes = []
    for r in rows:
        if not r["contender"].startswith("agent2") or r["mean"] is None:
            continue
        before = [o for o in old if o["mode"] == mode and o["task"] == r["task"] and o["contender"] == r["contender"]
                  and o["commit"] != sha and o["mean"]]
        if before:
            prev = before[-1]
            delta = r["mean"] - float(prev["mean"])
            worse = delta < -max(float(prev["std"] or 0), r["std"] or 0)
            changes.append(f"{r['task']} {r['contender']}: {float(prev['mean']):.1f} at {prev['commit']} -> "
                           f"{r['mean']:.1f} now ({delta:+.1f}){'  WORSE beyond the seed spread' if worse else ''}")
    return changes


def main() -> None:
    ap = argparse.ArgumentParser()
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="classic control, small budgets (< 20 min, 2 cores)")
    mode.add_argument("--full", action="store_true", help="every installed built-in task, default budgets")
    ap.add_argument("--tasks", nargs="*")
    ap.add_argument("--budget", type=int, help="env steps for every task (default: the mode's)")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs at once (one core each)")
    ap.add_argument("--llm", action=argparse.BooleanOptionalAction, default=None,
                    help="add the LLM designer as a contender (default: when a model endpoint is configured)")
    args = ap.parse_args()
    if args.llm is None:
        from nodes.designers.llm_config import endpoint_configured

        args.llm = endpoint_configured()
    mode_name = "full" if args.full else "quick" if args.quick or not args.tasks else "custom"
    if args.tasks:
        budgets = {t: args.budget or BUILTIN_TASKS[t].budget_steps if t in BUILTIN_TASKS else args.budget
                   for t in args.tasks}
    elif args.full:
        budgets = {name: t.budget_steps for name, t in BUILTIN_TASKS.items() if _installed(name)}
    else:
        budgets = {t: args.budget or b for t, b in QUICK.items()}
    targets = {t: BUILTIN_TASKS[t].target if t in BUILTIN_TASKS else None for t in budgets}
    contenders = [*CONTENDERS, *(["agent2-llm"] if args.llm else [])]
    jobs = [(task, c, budget, seed) for task, budget in budgets.items() for seed in args.seeds for c in contenders
            if not (c == "manual" and BUILTIN_TASKS.get(task) and BUILTIN_TASKS[task].multi_agent)
            and not (c == "zoo" and task not in ZOO)]
    print(f"suite ({mode_name}): {len(jobs)} runs, {args.jobs} at once", file=sys.stderr)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agent2-suite-") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(measure, task, c, budget, seed, Path(tmp) / f"runs-{i}")
                   for i, (task, c, budget, seed) in enumerate(jobs)]
        records = []
        for i, fut in enumerate(futures):
            records.append(fut.result())
            r = records[-1]
            shown = "failed: " + r["error"][-200:] if "error" in r else f"{r['score']:.1f}"
            print(f"[{i + 1}/{len(jobs)} {time.perf_counter() - t0:5.0f} s] {r['task']} {r['contender']} seed "
                  f"{r['seed']}: {shown}", file=sys.stderr, flush=True)
    total = time.perf_counter() - t0
    rows = summarise(records, targets)
    sha = commit()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{sha}-{mode_name}.json").write_text(json.dumps(
        {"commit": sha, "mode": mode_name, "seeds": args.seeds, "jobs": args.jobs, "wall_seconds": total,
         "budgets": budgets, "records": records, "summary": rows}, indent=1))
    plot(rows, targets, RESULTS / f"{sha}-{mode_name}.png")
    changes = record_history(rows, sha, mode_name)
    print(table(rows, targets))
    print(f"\n{len(jobs)} runs in {total:.0f} s ({args.jobs} at once), commit {sha}; "
          f"raw: bench/results/{sha}-{mode_name}.json, plot: bench/results/{sha}-{mode_name}.png")
    for line in changes or ["no earlier commit measured in this mode"]:
        print(line)


def _installed(task: str) -> bool:
    from envs.loading import make_raw_env

    try:
        make_raw_env(task).close()
        return True
    except Exception:  # noqa: BLE001 - an optional simulator that is not installed
        return False


if __name__ == "__main__":
    main()
