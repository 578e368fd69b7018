"""Reliability: kill -9 at random moments, resume, and check nothing is lost or duplicated.

Two trials run by default (the CLI killed, the training worker killed); the full 20-trial sweep
is ``-m slow`` and ``python bench/reliability.py``.
"""

import pytest
from conftest import IDENTITY_MDP, cli_args
from faults import TARGETS, run_trial


@pytest.mark.parametrize("target,seed", [("cli-training", 101), ("worker", 202)])
def test_a_killed_run_resumes_to_a_valid_result(runs_dir, target, seed):
    """The kill lands while a worker trains past a checkpoint; the trial then checks that the iteration
    continued from that checkpoint (resumed_at_step > 0, no crash) within 1.1x the env steps."""
    trial = run_trial(seed, target, runs_dir)
    assert trial.killed and trial.killed_in is not None, f"no kill during training ({trial.delay:.1f} s)"
    assert trial.problems == []
    assert trial.resumed_at_step > 0 and trial.steps_ratio <= 1.1


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_twenty_seeded_kills(runs_dir, seed):
    trial = run_trial(seed, TARGETS[seed % len(TARGETS)], runs_dir, max_delay=11.0)
    assert trial.problems == []


def test_concurrent_runs_share_one_runs_folder(runs_dir):
    """Three runs at once write the same run database and checkpoint database (a third of the usual
    budget: two short iterations each still write both databases several times while the others do)."""
    import subprocess

    from faults import ROOT, RUN, _cli, check_run

    threads = [f"concurrent-{i}" for i in range(3)]
    procs = [
        subprocess.Popen(
            _cli(
                "run", *RUN, "--budget-steps", "4096", "--seed", str(i), "--runs-dir", str(runs_dir), "--thread-id", t
            ),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i, t in enumerate(threads)
    ]
    errors = [p.communicate(timeout=600)[1].decode()[-500:] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    for t in threads:
        assert check_run(runs_dir, t) == []
    listed = subprocess.run(_cli("runs", "--runs-dir", str(runs_dir)), cwd=ROOT, capture_output=True, text=True)
    assert all(t in listed.stdout for t in threads)


def test_an_env_with_nan_rewards_ends_cleanly(runs_dir):
    """The env's own reward turns NaN in states only a learning agent reaches: each iteration stops
    as diverged (not a crash), the critic reacts, and the run ends with a result that says why."""
    import json

    from conftest import ROOT, agent2

    proc = agent2(
        *cli_args(
            "run",
            env=f"{ROOT}/tests/envfiles/nan_reward.py:make_env",
            budget_steps=12000,
            max_iterations=2,
            eval_episodes=3,
            runs_dir=runs_dir,
            thread_id="nan",
            no_progress=True,
        )
    )
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    result = json.loads((runs_dir / "nan" / "result.json").read_text())
    first = result["iterations"][0]
    assert first["stop_reason"] == "divergence" and "non-finite" in first["reason"]
    assert first["verdict"] in ("revise_mdp", "revise_algo")
    assert all(it["eval_mean"] is None or it["eval_mean"] == it["eval_mean"] for it in result["iterations"])


def test_nan_from_the_reward_code_stops_training_and_the_critic_sanitises(tmp_path):
    """Generated reward code that returns NaN in some states: the worker stops the iteration as
    diverged, the expert's critic asks for a sanitised reward, and the new design handles NaN."""
    from envs.mdp_wrapper import load_mdp_module
    from nodes.designers.base import DesignContext
    from nodes.designers.expert import ExpertDesigner
    from tools.profiling import profile_env
    from tools.schemas import AlgoConfig, EvalResult, MDPDesign, TaskSpec, TrainJob
    from tools.training import run_training

    code = IDENTITY_MDP.replace("return reward", "return float('nan') if abs(next_obs[0]) > 0.05 else reward")
    mdp = MDPDesign(code=code, obs_dim=4, summary="raw obs, NaN-prone reward")
    algo = AlgoConfig(algorithm="PPO", budget_steps=4096, epoch_steps=1024, collect_steps=512, n_train_envs=4)
    result = run_training(TrainJob(env="CartPole-v1", mdp=mdp, algo=algo), tmp_path / "iter_1")
    assert result.stop_reason == "divergence" and "reward() returned a non-finite value nan" in result.error
    expert = ExpertDesigner()
    task = TaskSpec(text="t", env="CartPole-v1", target=475, budget_steps=50_000)
    ctx = DesignContext(
        task=task,
        profile=profile_env("CartPole-v1", episodes=2),
        mdp=mdp,
        algo=algo,
        train=result,
        eval=EvalResult(mean=None, std=None, episodes=0, returns=[], mean_length=0),
    )
    critique = expert.critique(ctx)
    assert critique.verdict == "revise_mdp" and critique.mdp_changes.sanitize_reward
    ctx.critique, ctx.iteration = critique, 2
    design = expert.design_mdp(ctx)
    assert "non-finite rewards -> 0" in design.summary
    fns = load_mdp_module(design.code)
    assert fns.reward(None, 0, None, float("nan"), {}) == 0.0 and fns.reward(None, 0, None, 1.0, {}) == 1.0


def test_a_truncated_checkpoint_is_detected_and_the_previous_one_used(runs_dir):
    import os
    import subprocess

    from faults import ROOT, _cli, check_run, kill_once_written

    it = runs_dir / "torn" / "iter_1"
    kill_once_written(
        _cli(
            *cli_args(
                "run",
                env="CartPole-v1",
                budget_steps=12000,
                target=1e9,
                max_iterations=1,
                eval_episodes=3,
                no_progress=True,
                runs_dir=runs_dir,
                thread_id="torn",
            )
        ),
        ROOT,
        it / "checkpoint.pt.prev",
    )
    with open(it / "checkpoint.pt", "r+b") as f:  # torn on disk: half of it is gone
        f.truncate(os.path.getsize(it / "checkpoint.pt") // 2)
    done = subprocess.run(
        _cli("resume", "torn", "--runs-dir", str(runs_dir)), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    log = (it / "worker.log").read_text()
    assert "checkpoint.pt is unreadable" in log and "resuming from the previous checkpoint" in log
    assert check_run(runs_dir, "torn") == []
    with open(it / "checkpoint.pt", "r+b") as f:  # the check itself reports a torn file as torn
        f.truncate(os.path.getsize(it / "checkpoint.pt") // 2)
    assert check_run(runs_dir, "torn") == ["iter_1/checkpoint.pt is torn: it does not load"]
