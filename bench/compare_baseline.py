"""Agent² beside a hand-written plain Tianshou baseline on the same task, budget and seed.

    python bench/compare_baseline.py --env Pendulum-v1 --budget-steps 60000 --seed 0

Prints both scores (mean of 20 evaluation episodes on the original reward), both wall times and
their ratio, and Agent²'s orchestration overhead: the share of its wall time (measured from outside
the CLI) spent outside env steps (training collection, tests, evaluation) and network updates; writes
both raw results to bench/results/compare-<env>-<commit>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, provenance, run_agent2, save_raw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", default="CartPole-v1")
    ap.add_argument("--budget-steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    prov = provenance()
    sys.path.insert(0, str(ROOT))
    from nodes.intake import default_budget

    budget = args.budget_steps or default_budget(args.env)
    base = json.loads(
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "plain_tianshou.py"),
                "--env",
                args.env,
                "--budget-steps",
                str(budget),
                "--seed",
                str(args.seed),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[-1]
    )
    with tempfile.TemporaryDirectory() as tmp:
        a2 = run_agent2(args.env, Path(tmp), "bench", seed=args.seed, budget=budget)
    save_raw(f"compare-{args.env}", prov, {"budget": budget, "seed": args.seed, "plain": base, "agent2": a2})
    work = sum(a2["work_seconds"].values())
    wall = a2["outside_wall_seconds"]
    best = a2["best"] or {}
    print(f"task {args.env}, budget {budget} env steps, seed {args.seed}")
    print(
        f"plain Tianshou (defaults): score {base['score']:.1f} ± {base['score_std']:.1f}, "
        f"{base['env_steps']} steps, {base['wall_seconds']:.1f} s"
    )
    print(
        f"Agent² (expert):           score {best.get('eval_mean', float('nan')):.1f} ± "
        f"{best.get('eval_std') or 0:.1f}, {a2['env_steps_total']} steps, {wall:.1f} s, "
        f"{len(a2['iterations'])} iteration(s), status {a2['status']}"
    )
    print(f"wall-time ratio Agent²/plain: {wall / base['wall_seconds']:.2f}")
    o = a2["overhead"]
    print(
        f"Agent² time in env steps + updates: {work:.1f} s of {wall:.1f} s "
        f"({json.dumps({k: round(v, 1) for k, v in a2['work_seconds'].items()})}); outside them: "
        f"Agent² orchestration {o['agent2_seconds']:.1f} s ({100 * o['agent2_share']:.1f}%, of which worker "
        f"set-up {o['worker_setup_seconds']:.1f} s), Tianshou trainer-loop bookkeeping "
        f"{o['tianshou_loop_seconds']:.1f} s ({100 * o['tianshou_loop_share']:.1f}%)"
    )


if __name__ == "__main__":
    main()
