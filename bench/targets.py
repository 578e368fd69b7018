"""Expert designer on every built-in task, seed 0, default budgets: score, steps and wall time.

    python bench/targets.py [--tasks CartPole-v1 Pendulum-v1 ...] [--seed 0]

Prints a markdown table (paste into bench/RESULTS.md and the README) and writes the raw results to
bench/results/targets-<commit>.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, provenance, run_agent2, save_raw

sys.path.insert(0, str(ROOT))
from envs.registry import BUILTIN_TASKS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", nargs="*", default=list(BUILTIN_TASKS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    prov, rows = provenance(), []
    print("| task | target | eval (20 ep.) | met | env steps used / budget | iterations | wall (s) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tasks:
            task = BUILTIN_TASKS[name]
            r = run_agent2(name, Path(tmp), name, seed=args.seed)
            best = r["best"] or {}
            score = best.get("eval_mean")
            shown = "failed" if score is None else f"{score:.1f} ± {best.get('eval_std') or 0:.1f}"
            met = "yes" if r["status"] == "target_met" else "no"
            print(
                f"| {name} | {task.target:g} | {shown} | {met} | {r['env_steps_total']} / {task.budget_steps} | "
                f"{len(r['iterations'])} | {r['outside_wall_seconds']:.0f} |",
                flush=True,
            )
            rows.append(
                {
                    "task": name,
                    "target": task.target,
                    "seed": args.seed,
                    "status": r["status"],
                    "score": score,
                    "std": best.get("eval_std"),
                    "ci95": best.get("eval_ci95"),
                    "episodes": best.get("eval_episodes"),
                    "env_steps": r["env_steps_total"],
                    "budget": task.budget_steps,
                    "iterations": len(r["iterations"]),
                    "wall": r["outside_wall_seconds"],
                }
            )
    save_raw("targets", prov, {"rows": rows})


if __name__ == "__main__":
    main()
