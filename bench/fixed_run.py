"""One fixed design trained like Agent²'s iterations are (same Tianshou worker, tests, best-policy
evaluation), without the generator: the tuned-reference contender of the suite.

    python bench/fixed_run.py --env CartPole-v1 --preset zoo --budget-steps 30000 --seed 0
    python bench/fixed_run.py --env Taxi-v4 --preset expert --algorithm DQN --budget-steps 150000 \
        --set eps_decay_fraction=0.5 --set eps_final=0.1 [--set novelty_bonus=1.0]
    python bench/fixed_run.py --env smax_3m --preset expert --algorithm MAPPO --budget-steps 600000 \
        --history 4 [--set 'encoder="gru"'] [--env-state]

``--mdp expert``: the expert designer's first MDP design for the env instead of the env's own MDP.
``--preset expert``: the expert designer's default config for ``--algorithm`` on this env (what the
loop would start that algorithm with), ``--set KEY=VALUE`` (a JSON value) changing single fields.

Prints one JSON line: score (mean ± std over the evaluation episodes of the best test policy,
original reward), env steps, wall seconds, the test curve, and the training worker's peak memory.
``--max-wall SECONDS`` (or SIGTERM) stops training there: the tests so far and the evaluation of the
best policy so far are the result, with ``stop_reason`` "stopped"; with ``--folder``, a later call
continues the run. ``--record NAME`` also writes it, with the commit, command and machine, to
bench/results/NAME-<commit>.json (the suite, which keeps its own records, leaves it out); a later
sitting at the same commit writes NAME-<commit>-2.json beside the first, which stays.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import provenance, save_raw
from bench.zoo import ZOO
from envs.loading import canonical_ref
from nodes.design_mdp import original_mdp
from nodes.designers.base import DesignContext
from nodes.designers.expert import ExpertDesigner
from tools.profiling import profile_env
from tools.run_files import BEST_POLICY, PROGRESS, TRAIN_RESULT
from tools.run_rules import epoch_steps
from tools.schemas import MAX_HISTORY, AlgoConfig, TaskSpec, TrainJob, TrainResult
from tools.training import interrupted, run_evaluation, run_training, steps_seen, tested_curve

TESTS_PER_RUN = 10


def zoo_config(env: str, budget: int) -> tuple[AlgoConfig, bool]:
    fields = dict(ZOO[env])
    normalize = bool(fields.pop("normalize", False))
    if normalize and fields["algorithm"] in ("PPO", "A2C"):
        fields["return_scaling"] = True
    cfg = AlgoConfig(**fields, budget_steps=budget, test_episodes=10, epoch_steps=max(1000, budget // TESTS_PER_RUN))
    return cfg.model_copy(update={"epoch_steps": epoch_steps(cfg)}), normalize


def expert_config(env: str, algorithm: str, budget: int, changes: list[str]) -> AlgoConfig:
    p = profile_env(env)
    cfg = ExpertDesigner().default_config(algorithm, p, budget, bool(p.sparse_reward))
    update = {}
    for item in changes:
        key, _, value = item.partition("=")
        if key not in AlgoConfig.model_fields:
            raise SystemExit(f"--set {item!r}: {key!r} is not an AlgoConfig field")
        update[key] = json.loads(value)
    cfg = AlgoConfig.model_validate(
        {**cfg.model_dump(), "test_episodes": 10, "epoch_steps": max(1000, budget // TESTS_PER_RUN), **update}
    )
    return cfg if "epoch_steps" in update else cfg.model_copy(update={"epoch_steps": epoch_steps(cfg)})


_STOP = threading.Event()  # SIGTERM: training is stopped and the run recorded as it stands


def _stop(signum, frame) -> None:
    _STOP.set()  # the training loop asks at its next poll: the worker is never left running


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True)
    ap.add_argument("--preset", choices=["zoo", "expert"], default="zoo")
    ap.add_argument("--algorithm", default="PPO", help="--preset expert: the algorithm")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="--preset expert: a field")
    ap.add_argument(
        "--mdp",
        choices=["original", "expert"],
        default="original",
        help="the MDP: the env's own (default; --history, --env-state and --normalize-obs apply to it) or the "
        "expert designer's first design for the env (what the loop's first iteration trains on)",
    )
    ap.add_argument(
        "--history", type=int, default=1, help="the MDP's observation history: the last H observations (memory)"
    )
    ap.add_argument(
        "--env-state",
        action="store_true",
        help="multi-agent: the centralised critic reads the env's own global state (the MDP's env_state)",
    )
    ap.add_argument(
        "--normalize-obs",
        action="store_true",
        help="--preset expert: running mean/std observation normalisation (the zoo preset sets its own)",
    )
    ap.add_argument("--budget-steps", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument(
        "--folder",
        type=Path,
        help="the iteration folder to train in and keep (default: a temporary "
        "one); a stopped run called again with it continues from its checkpoint",
    )
    ap.add_argument(
        "--max-wall",
        type=float,
        metavar="SECONDS",
        help="stop training after this many seconds (a run cut to fit a sitting; SIGTERM does the same): "
        "the best policy so far is evaluated and the result says where training stopped",
    )
    ap.add_argument(
        "--record",
        metavar="NAME",
        help="also write the result to bench/results/NAME-<commit>.json (-2, -3 … when one is there)",
    )
    args = ap.parse_args()
    args.env = canonical_ref(args.env)  # the training worker runs in another folder
    if args.mdp == "expert" and (args.history != 1 or args.env_state or args.normalize_obs):
        ap.error("--history, --env-state and --normalize-obs change the env's own MDP: not with --mdp expert")
    if not 1 <= args.history <= MAX_HISTORY:
        ap.error(f"--history must be 1 to {MAX_HISTORY}, got {args.history}")
    prov = provenance()
    if args.preset == "zoo":
        cfg, normalize = zoo_config(args.env, args.budget_steps)
    else:
        cfg, normalize = expert_config(args.env, args.algorithm, args.budget_steps, args.set), args.normalize_obs
    if args.mdp == "expert":  # the loop's first design: the expert's, from the same profile of random play
        task = TaskSpec(text="a fixed run", env=args.env, budget_steps=args.budget_steps)
        mdp = ExpertDesigner().design_mdp(DesignContext(task=task, profile=profile_env(args.env)))
    else:
        mdp = original_mdp(profile_env(args.env, episodes=1).obs_dim).model_copy(
            update={
                "normalize_obs": normalize,
                "history": args.history,
                "env_state": args.env_state,
                "summary": "original MDP" + (f", last {args.history} observations" if args.history > 1 else ""),
            }
        )
    start = time.perf_counter()
    if args.max_wall is not None or args.record:  # run by hand; the suite stops its runs outright
        signal.signal(signal.SIGTERM, _stop)
    with tempfile.TemporaryDirectory(prefix="agent2-fixed-") as tmp:
        folder = args.folder or Path(tmp) / "iter_1"
        train = run_training(
            TrainJob(env=args.env, mdp=mdp, algo=cfg, seed=args.seed, target=None),
            folder,
            timeout=args.max_wall,
            eval_episodes=args.eval_episodes,
            stop=_STOP.is_set,
        )
        stopped = interrupted(train)  # a worker that failed on its own keeps its error
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the evaluation is short: a second SIGTERM ends it
        if stopped and (folder / TRAIN_RESULT).exists():  # it ended before the stop: its own result stands
            train, stopped = TrainResult.model_validate_json((folder / TRAIN_RESULT).read_text()), False
        if stopped:  # the tests so far and the best policy so far stand for the run, marked as stopped
            if not (folder / BEST_POLICY).exists():
                raise SystemExit(f"stopped before the first test: {folder} holds no policy to evaluate")
            curve = tested_curve(folder)
            train = TrainResult(
                env_steps=steps_seen(folder / PROGRESS),
                best_test_mean=max(c.mean for c in curve),
                stop_reason="budget",
                curve=curve,
                iter_dir=str(folder),
            )
        ev = run_evaluation(folder, args.eval_episodes)
    wall = time.perf_counter() - start
    result = {
        "env": args.env,
        "contender": args.preset,
        "algo": cfg.model_dump(exclude={"rationale"}),
        "mdp": mdp.summary,
        "history": mdp.history,
        "env_state": mdp.env_state,
        "normalize_obs": mdp.normalize_obs,
        "seed": args.seed,
        "budget_steps": args.budget_steps,
        "env_steps": train.env_steps,
        "score": ev.mean,
        "score_std": ev.std,
        "metrics": ev.metrics,
        "mean_length": ev.mean_length,
        "wall_seconds": wall,
        "curve": [[p.env_step, p.mean] for p in train.curve],
        "untrained_tests": [i for i, p in enumerate(train.curve) if p.untrained],  # positions in "curve"
        "stop_reason": "stopped" if stopped else train.stop_reason,
        "error": train.error or ev.error,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    print(json.dumps(result))
    if args.record:
        save_raw(args.record, prov, {"run": result})


if __name__ == "__main__":
    main()
