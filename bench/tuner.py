"""The tuner contender: what practitioners use instead of Agent² — RL Baselines3 Zoo's tuning, Optuna's
TPE sampler and median pruner over one algorithm's hyper-parameters — given the same total env-step
budget as an Agent² run.

    python bench/tuner.py --env CartPole-v1 --budget-steps 30000 --seed 0 [--trials 6]

The algorithm is the zoo's for the env where it has an entry, else the expert designer's first choice
(PPO for discrete actions, SAC for continuous ones); its other settings start from that config. The
search space is rl_zoo3's ``hyperparams_opt.py`` for the algorithm, on ``AlgoConfig``'s fields, with
the original MDP (SAC/TD3 keep one update per env step: the zoo's ``train_freq`` bursts have the same
ratio). The test curve is over the budget spent so far (trials one after another), so "steps to
target" counts every earlier trial's steps. Each trial trains ``budget // trials`` env steps through Agent²'s worker (the same
tests and best-test policy as every contender) and reports each test to the median pruner, which
stops a trial whose best test is under the median of earlier trials at the same test (from the third
trial on, and, as RL Zoo's ``n_warmup_steps = n_evaluations // 3``, never within a trial's first third
of tests: pruning from the second test stopped every MuJoCo trial after the first two within 1k–12.5k
steps). Steps a pruned trial did not use go to further trials:
trials run until the total budget is spent. Every env step of every trial counts against the
budget, pruned ones included. Score: the best trial's best test policy, evaluated like every
contender (20 deterministic episodes, original reward). Prints one JSON line, as fixed_run.py does.

``--folder DIR`` keeps the Optuna study (``DIR/study.db``, SQLite) and the trials' folders there, so a
call stopped part-way continues when called again: finished trials stay as they ended, the trial that
was cut continues from its worker's last checkpoint (its steps since then are spent again and
counted), and the budget left goes to new trials. The TPE sampler's random state is not kept: a
resumed call seeds it from ``--seed`` and the trials so far, so the trials after a stop are new draws,
not those an unstopped call would have drawn (nor, as before this was fixed, trial 0's again).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.fixed_run import expert_config, zoo_config
from bench.zoo import ZOO
from nodes.design_mdp import original_mdp
from tools.profiling import profile_env
from tools.run_rules import epoch_steps, trained_points
from tools.schemas import AlgoConfig, TrainJob
from tools.training import run_evaluation, run_training, steps_consumed

NETS = {"small": [64, 64], "medium": [256, 256]}


def sample(trial: optuna.Trial, algorithm: str) -> dict:
    """rl_zoo3's samplers (hyperparams_opt.py: sample_ppo_params, sample_sac_params, sample_td3_params,
    sample_dqn_params) on AlgoConfig's fields."""
    gamma = 1 - trial.suggest_float("one_minus_gamma", 1e-4, 0.1, log=True)
    lr = trial.suggest_float("lr", 1e-5, 1e-2, log=True)
    net = NETS[trial.suggest_categorical("net_arch", list(NETS))]
    act = trial.suggest_categorical("activation", ["tanh", "relu"])
    common = {"gamma": gamma, "lr": lr, "hidden_sizes": net, "activation": act}
    if algorithm in ("PPO", "A2C"):
        return {
            **common,
            "batch_size": 2 ** trial.suggest_int("log2_batch", 3, 9),
            "collect_steps": 2 ** trial.suggest_int("log2_collect", 5, 12),
            "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.1, log=True),
            "eps_clip": trial.suggest_categorical("clip", [0.1, 0.2, 0.3, 0.4]),
            "repeat": trial.suggest_categorical("epochs", [1, 5, 10, 20]),
            "gae_lambda": 1 - trial.suggest_float("one_minus_lambda", 1e-3, 0.2, log=True),
            "max_grad_norm": trial.suggest_float("max_grad_norm", 0.3, 5.0, log=True),
            "vf_coef": trial.suggest_float("vf_coef", 0.0, 1.0),
        }
    if algorithm == "DQN":
        return {
            **common,
            "batch_size": 2 ** trial.suggest_int("log2_batch", 4, 9),
            "buffer_size": trial.suggest_categorical("buffer", [10_000, 50_000, 100_000]),
            "eps_final": trial.suggest_float("eps_final", 0.0, 0.2),
            "eps_decay_fraction": trial.suggest_float("eps_fraction", 0.0, 0.5),
            "target_update_freq": trial.suggest_categorical("target_update", [1, 1000, 5000, 10000]),
            "start_steps": trial.suggest_categorical("learning_starts", [0, 1000, 5000, 10000]),
            "update_per_step": 1 / trial.suggest_categorical("train_freq", [1, 4, 8, 16]),
        }
    return {
        **common,  # SAC, TD3
        "batch_size": 2 ** trial.suggest_int("log2_batch", 4, 10),
        "buffer_size": trial.suggest_categorical("buffer", [10_000, 100_000, 1_000_000]),
        "start_steps": trial.suggest_categorical("learning_starts", [0, 1000, 10_000]),
        "tau": trial.suggest_categorical("tau", [0.001, 0.005, 0.01, 0.02, 0.05, 0.08]),
    }


def base_config(env: str, budget: int) -> tuple[AlgoConfig, bool]:
    if env in ZOO:
        return zoo_config(env, budget)
    p = profile_env(env, episodes=1)
    first = "PPO" if p.action.kind == "discrete" else "SAC"
    return expert_config(env, first, budget, []), False


def trial_config(base: AlgoConfig, params: dict, steps: int) -> AlgoConfig:
    cfg = AlgoConfig.model_validate({**base.model_dump(), **params, "budget_steps": steps})
    if cfg.on_policy:  # whole collections within the trial's budget, a minibatch within one collection
        collect = max(min(cfg.collect_steps, steps), cfg.n_train_envs)
        budget = max(collect, steps // collect * collect)  # the worker trains whole collections: no overshoot
        cfg = cfg.model_copy(
            update={"collect_steps": collect, "batch_size": min(cfg.batch_size, collect), "budget_steps": budget}
        )
    return cfg.model_copy(update={"epoch_steps": epoch_steps(cfg)})


STUDY = "study.db"
"""The Optuna study in ``--folder``: every trial's parameters, state, tests and env steps."""


def open_study(work: Path, seed: int, warmup_tests: int) -> optuna.Study:
    """The study in ``work``, new or as a stopped call left it. A resumed call's sampler is seeded from
    ``seed`` and the number of trials so far: seeded with ``seed`` alone, it would draw the first
    trials' parameters again (TPE starts with random draws from its seed), so every resumed call
    repeated trial 0's."""
    work.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name="tuner",
        storage=f"sqlite:///{work / STUDY}",
        load_if_exists=True,  # a stopped call continues: finished trials stay, a cut one resumes
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=warmup_tests),
    )
    if study.trials:
        resumed = np.random.SeedSequence([seed, len(study.trials)]).generate_state(1)[0]
        study.sampler = optuna.samplers.TPESampler(seed=int(resumed))
    return study


def tune(env: str, budget: int, seed: int, trials: int, eval_episodes: int, work: Path) -> dict:
    base, normalize = base_config(env, budget)
    mdp = original_mdp(profile_env(env, episodes=1).obs_dim).model_copy(
        update={"normalize_obs": normalize, "summary": "original MDP"}
    )
    per_trial = max(1000, budget // trials)
    # RL Zoo's median pruner never prunes in a trial's first third of evaluations (n_warmup_steps =
    # n_evaluations // 3); a trial here reports each test (the one at step 0 included)
    tests = 1 + math.ceil(per_trial / epoch_steps(base.model_copy(update={"budget_steps": per_trial})))
    study = open_study(work, seed, warmup_tests=max(1, tests // 3))
    done = [t for t in study.trials if t.state.is_finished()]
    used = sum(int(t.user_attrs.get("env_steps", 0)) for t in done)
    resumed_at = used if study.trials else None
    wall_before, start = float(study.user_attrs.get("wall", 0.0)), time.perf_counter()
    while True:
        cut = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if cut:  # the trial a stopped call was training: its worker continues from its checkpoint
            trial = optuna.Trial(study, cut[0]._trial_id)
        elif budget - used >= min(per_trial, 1000):
            trial = study.ask()
        else:
            break
        if "budget" not in trial.user_attrs:  # a new trial, or one whose call stopped right after ask()
            trial.set_user_attr("offset", used)
            trial.set_user_attr("budget", min(per_trial, budget - used))
        used += run_trial(trial, env, mdp, base, seed, work)
        study.set_user_attr("wall", wall_before + time.perf_counter() - start)
    log = [
        {
            "trial": t.number,
            "state": t.state.name,
            "best_test": t.value if t.value is not None else max(t.user_attrs.get("tests", {}).values(), default=None),
            "env_steps": t.user_attrs.get("env_steps"),
            "params": t.params,
        }
        for t in study.trials
    ]
    tests = sorted(
        (t.user_attrs["offset"] + int(step), mean, int(step) in t.user_attrs.get("untrained", []))
        for t in study.trials
        for step, mean in t.user_attrs.get("tests", {}).items()
    )
    curve = [[step, mean] for step, mean, _ in tests]
    untrained_tests = [i for i, (_, _, untrained) in enumerate(tests) if untrained]  # positions in the curve
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not finished:
        return {"error": "no trial finished", "trials": log, "env_steps": used, "wall_seconds": wall_before}
    best = study.best_trial
    ev = run_evaluation(work / f"trial_{best.number}", eval_episodes)
    return {
        "score": ev.mean,
        "score_std": ev.std,
        "env_steps": used,
        "curve": curve,
        "untrained_tests": untrained_tests,
        "trials": log,
        "best_trial": best.number,
        "best_params": best.params,
        "algorithm": base.algorithm,
        "error": ev.error,
        "wall_seconds": wall_before + time.perf_counter() - start,
        **({"resumed_at": resumed_at} if resumed_at is not None else {}),
    }


def run_trial(trial: optuna.Trial, env: str, mdp, base: AlgoConfig, seed: int, work: Path) -> int:
    """Train one trial (or continue it from its worker's checkpoint), reporting each test to the
    pruner; tell the study how it ended. Returns the env steps the trial spent, over every call."""
    budget = int(trial.user_attrs["budget"])
    cfg = trial_config(base, sample(trial, base.algorithm), budget)  # a resumed trial: its stored values
    folder = work / f"trial_{trial.number}"
    # tests by env step: a resumed worker tests again what came after its checkpoint
    tests = {int(k): v for k, v in trial.user_attrs.get("tests", {}).items()}
    # the untrained policy's test: a baseline, not what a trial's settings reached
    untrained = set(trial.user_attrs.get("untrained", []))
    seen = [0]

    def on_progress(event: dict) -> None:
        seen[0] = max(seen[0], int(event.get("env_step") or 0))
        if event.get("kind") == "test" and event.get("mean") is not None and math.isfinite(event["mean"]):
            step = int(event.get("env_step", 0))
            new = step not in tests
            tests[step] = event["mean"]
            trial.set_user_attr("tests", {str(k): v for k, v in tests.items()})  # the curve: offset + step
            if event.get("untrained"):
                untrained.add(step)
                trial.set_user_attr("untrained", sorted(untrained))
            trained = [v for k, v in tests.items() if k not in untrained]
            if new and trained:
                trial.report(max(trained), len(tests))
                if trial.should_prune():
                    raise optuna.TrialPruned()

    try:
        result = run_training(
            TrainJob(env=env, mdp=mdp, algo=cfg, seed=seed + trial.number, target=None), folder, on_progress=on_progress
        )
        trained = trained_points(result.curve)
        state, value = optuna.trial.TrialState.COMPLETE, max((c.mean for c in trained), default=None)
    except optuna.TrialPruned:
        state, value = optuna.trial.TrialState.PRUNED, None
    steps = max(steps_consumed(folder), seen[0])  # a pruned worker dies before its last checkpoint
    if state == optuna.trial.TrialState.COMPLETE and value is None:
        state = optuna.trial.TrialState.FAIL
    trial.set_user_attr("env_steps", steps)
    trial.study.tell(trial, value, state=state)
    return steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True)
    ap.add_argument("--budget-steps", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trials", type=int, default=6, help="the budget is split into this many trial budgets")
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument("--folder", type=Path, help="where the study and its trials are kept; called again, it continues")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="agent2-tuner-") as tmp:
        out = tune(args.env, args.budget_steps, args.seed, args.trials, args.eval_episodes, args.folder or Path(tmp))
    print(
        json.dumps(
            {
                "env": args.env,
                "contender": "tuner",
                "seed": args.seed,
                "budget_steps": args.budget_steps,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                **out,
            }
        )
    )


if __name__ == "__main__":
    main()
