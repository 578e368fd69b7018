"""The generality suite: environments a user would bring, run with Agent²'s default settings.

    python bench/generality.py                       # every env, seed 0 (resumes: finished runs are kept)
    python bench/generality.py --envs taxi blackjack --seeds 0 1 2
    python bench/generality.py --table               # print the table of what is measured so far

Each entry is an env reference as a user writes it (a Gymnasium id, ``module:EnvId``, or
``file.py:factory``), a target and a budget (≤ 300k env steps). Every run is ``agent2 run --env REF
--target T --budget-steps B --seed S`` and nothing else: the expert designer's defaults, no per-env
settings. Each finished run is written at once to bench/results/generality/<key>-seed<S>.json (with
the commit it measured), so a killed suite continues where it stopped. Optional packages (minigrid,
minatar) come with ``make setup``; an env whose package is missing is reported as such, not skipped
silently.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import commit, run_agent2  # noqa: E402

OUT = ROOT / "bench" / "results" / "generality"
FILE = "bench/generality_envs.py"


@dataclass(frozen=True)
class Entry:
    key: str
    env: str
    target: float
    budget: int
    kind: str
    """What the env tests, in a few words."""
    needs: str = ""
    """An optional package the env comes from."""


SUITE = [
    Entry("taxi", "Taxi-v4", 7.0, 300_000, "one-hot state (Discrete 500), exploration"),
    Entry("frozenlake8x8", "FrozenLake8x8-v1", 0.5, 300_000, "slippery, sparse success reward"),
    Entry("cliffwalking", "CliffWalking-v1", -17.0, 100_000, "one-hot state, -100 cliff"),
    Entry("blackjack", "Blackjack-v1", -0.1, 100_000, "Tuple of Discrete, noisy: judged by its 95% CI"),
    Entry(
        "minigrid-empty",
        "minigrid:MiniGrid-Empty-5x5-v0",
        0.9,
        100_000,
        "module:EnvId, Dict with text mission",
        "minigrid",
    ),
    Entry(
        "minigrid-doorkey",
        f"{FILE}:make_doorkey",
        0.9,
        300_000,
        "MiniGrid in a file, sparse, key then door",
        "minigrid",
    ),
    Entry("minatar-breakout", f"{FILE}:make_minatar_breakout", 5.0, 300_000, "image 10×10×4 (bool)", "minatar"),
    Entry("image-goal", f"{FILE}:make_image_goal", 0.8, 100_000, "user file, RGB image 12×12×3 (uint8)"),
    Entry("text-goal-room", f"{FILE}:make_text_goal_room", 0.8, 100_000, "Dict: position + text mission that varies"),
    Entry("multi-switch", f"{FILE}:make_multi_switch", 9.0, 50_000, "MultiDiscrete actions"),
    Entry(
        "hidden-velocity-cartpole", f"{FILE}:make_hidden_velocity_cartpole", 400.0, 200_000, "memory: velocities hidden"
    ),
    Entry(
        "point-goal",
        f"{FILE}:make_point_goal",
        -20.0,
        100_000,
        "goal-conditioned Dict, sparse -1 reward, continuous actions",
    ),
    Entry(
        "bit-flip",
        f"{FILE}:make_bit_flip",
        -8.0,
        100_000,
        "goal-conditioned, 12 bits: random play never reaches a goal (HER)",
    ),
]


def result_path(e: Entry, seed: int) -> Path:
    return OUT / f"{e.key}-seed{seed}.json"


def missing_package(e: Entry) -> bool:
    return bool(e.needs) and importlib.util.find_spec(e.needs) is None


def measure(e: Entry, seed: int) -> dict:
    sha = commit()  # read before the run: the commit measured
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        try:
            result = run_agent2(
                e.env, Path(tmp), f"{e.key}-s{seed}", seed=seed, budget=e.budget, extra=["--target", str(e.target)]
            )
        except RuntimeError as err:  # no result.json: a traceback or a refusal
            return {
                "key": e.key,
                "env": e.env,
                "seed": seed,
                "target": e.target,
                "budget": e.budget,
                "commit": sha,
                "error": str(err)[-1500:],
                "wall": time.perf_counter() - t0,
            }
    best = result.get("best") or {}
    return {
        "key": e.key,
        "env": e.env,
        "seed": seed,
        "target": e.target,
        "budget": e.budget,
        "commit": sha,
        "status": result["status"],
        "score": best.get("eval_mean"),
        "ci95": best.get("eval_ci95"),
        "episodes": best.get("eval_episodes"),
        "met": best.get("eval_mean") is not None and best["eval_mean"] >= e.target,
        "env_steps": result["env_steps_total"],
        "wall": round(result["outside_wall_seconds"], 1),
        "iterations": len(result["iterations"]),
        "critic": [f"{r['diagnosis']}→{r.get('fix_kind', '?')}" for r in result["iterations"]],
        "algorithms": [r["algorithm"] for r in result["iterations"]],
        "observation": result.get("observation_encoding", ""),
    }


def table(entries: list[Entry], seeds: list[int]) -> str:
    lines = [
        "| env | what it tests | target | seed | score (95% CI) | met | env steps | wall (s) | critic | commit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        for s in seeds:
            p = result_path(e, s)
            if not p.exists():
                lines.append(f"| `{e.env}` | {e.kind} | {e.target:g} | {s} | not run yet | | | | | |")
                continue
            r = json.loads(p.read_text())
            if "error" in r:
                lines.append(
                    f"| `{e.env}` | {e.kind} | {e.target:g} | {s} | **no result**: "
                    f"{r['error'].strip().splitlines()[-1][:120]} | no | | {r['wall']:.0f} | | {r['commit']} |"
                )
                continue
            ci = f" [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]" if r.get("ci95") else ""
            score = "—" if r["score"] is None else f"{r['score']:.2f}{ci}"
            lines.append(
                f"| `{e.env}` | {e.kind} | {e.target:g} | {s} | {score} | {'yes' if r['met'] else 'no'} | "
                f"{r['env_steps']} | {r['wall']:.0f} | {', '.join(r['critic'])} ({'/'.join(r['algorithms'])}) | "
                f"{r['commit']} |"
            )
    return "\n".join(lines)


def seeds_table(entries: list[Entry], seeds: list[int]) -> str:
    """One row per env: each seed's score (✗ where it missed) and how many of the measured seeds met."""
    head = "| env | target | " + " | ".join(f"seed {s}" for s in seeds) + " | met (seeds measured) |"
    lines = [head, "|" + "---|" * (len(seeds) + 3)]
    for e in entries:
        cells, met, measured = [], 0, 0
        for s in seeds:
            p = result_path(e, s)
            r = json.loads(p.read_text()) if p.exists() else None
            if r is None:
                cells.append("—")
                continue
            measured += 1
            met += bool(r.get("met"))
            score = "no result" if r.get("score") is None else f"{r['score']:.2f}"
            cells.append(score + ("" if r.get("met") else " ✗"))
        lines.append(f"| `{e.env}` | {e.target:g} | " + " | ".join(cells) + f" | {met} of {measured} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", nargs="*", help="suite keys (default: all): " + ", ".join(e.key for e in SUITE))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--table", action="store_true", help="only print the table of the results on disk")
    ap.add_argument("--again", action="store_true", help="measure again even where a result is on disk")
    ap.add_argument("--seeds-table", action="store_true", help="only print one row per env over --seeds")
    args = ap.parse_args()
    known = {e.key: e for e in SUITE}
    bad = [k for k in args.envs or [] if k not in known]
    if bad:
        ap.error(f"unknown suite key(s) {bad}; choose from {sorted(known)}")
    entries = [known[k] for k in args.envs] if args.envs else SUITE
    OUT.mkdir(parents=True, exist_ok=True)
    if args.seeds_table:
        print(seeds_table(entries, args.seeds))
        return
    if not args.table:
        for e in entries:
            for s in args.seeds:
                path = result_path(e, s)
                if path.exists() and not args.again:
                    continue
                if missing_package(e):
                    print(f"{e.key}: package {e.needs!r} is not installed (make setup installs it)", flush=True)
                    continue
                print(
                    f"{e.key} seed {s}: agent2 run --env {e.env} --target {e.target:g} --budget-steps {e.budget}",
                    flush=True,
                )
                r = measure(e, s)
                path.write_text(json.dumps(r, indent=1))
                print(f"  -> {r.get('status', 'error')} {r.get('score')} in {r['wall']:.0f} s", flush=True)
    print(table(entries, args.seeds))
    done = [
        json.loads(result_path(e, s).read_text()) for e in entries for s in args.seeds if result_path(e, s).exists()
    ]
    print(
        f"\n{sum(bool(r.get('met')) for r in done)} of {len(done)} measured runs met their target; "
        f"{sum('error' in r for r in done)} ended without a result."
    )
    for s in args.seeds:
        at = [r for r in done if r["seed"] == s]
        print(f"seed {s}: {sum(bool(r.get('met')) for r in at)} of {len(at)} met")


if __name__ == "__main__":
    main()
