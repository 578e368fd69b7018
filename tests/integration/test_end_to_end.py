"""Real runs through the graph with tiny budgets: export and play, a kill -9 and a resume."""

import json
from pathlib import Path

import pytest
from conftest import ENV_FILE, agent2, cli_args, missed_status, quick_win_winners

from tools.rundb import RunDB
from tools.train_worker import PROGRESS


def test_user_env_file_runs_the_loop_exports_and_plays(runs_dir):
    proc = agent2(
        *cli_args(
            "run",
            env=f"{ENV_FILE}:make_env",
            target=100,
            budget_steps=20000,
            max_iterations=2,
            eval_episodes=5,
            runs_dir=runs_dir,
            thread_id="go-right",
            no_progress=True,
        ),
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((runs_dir / "go-right" / "result.json").read_text())
    assert result["status"] == missed_status(result)  # a target of 100 cannot be met in this corridor
    assert len(result["iterations"]) == 2  # the critic looped back once
    first, second = result["iterations"]
    assert first["verdict"] in ("revise_algo", "revise_mdp") and first["mdp_code"]
    # chosen from two evaluations, so evaluated again on fresh seeds: that figure is the run's
    assert result["best"]["compared"] == 2
    assert result["best"]["selection_mean"] == max(i["eval_mean"] for i in result["iterations"])
    assert result["env_steps_total"] <= 20000 + 2048
    agent_dir = Path(result["agent_dir"])
    for name in ("policy.pt", "mdp.py", "config.json", "report.md", "learning_curve.png"):
        assert (agent_dir / name).exists(), name
    assert "## Iterations" in (agent_dir / "report.md").read_text()
    play = agent2("play", str(agent_dir), "--episodes", "3")
    assert play.returncode == 0, play.stderr
    assert play.stdout.count("episode ") == 3
    rows = RunDB(runs_dir).iterations("go-right")
    assert [r["iteration"] for r in rows] == [1, 2]
    first_tests = [m["untrained"] for m in RunDB(runs_dir).metrics("go-right") if m["iteration"] == 1]
    assert first_tests[0] == 1 and not any(first_tests[1:]), first_tests  # the baseline test is marked
    shown = agent2("show", "go-right", "--runs-dir", str(runs_dir))
    assert shown.returncode == 0 and result["status"] in shown.stdout
    assert "go-right" in agent2("runs", "--runs-dir", str(runs_dir)).stdout


def test_a_policy_chosen_among_several_is_scored_on_fresh_seeds(runs_dir):
    """Two candidates, each evaluated on its own seeds; the higher wins. Its evaluation is the best of
    two noisy draws, so the run scores it again on seeds no evaluation used. QuickWin's envs win or
    lose by their seed alone, so each figure is known in advance: candidate 0 (seed 0) evaluates at 0.5
    and candidate 1 at 0.4 on their own seeds; on fresh seeds the winner plays 0.4."""
    evaluated = [quick_win_winners(c + 100_000) / 10 for c in (0, 1)]  # EVAL_SEED_OFFSET
    fresh = quick_win_winners(500_000) / 10  # the winner's seed 0 + CONFIRM_SEED_OFFSET
    assert evaluated == [0.5, 0.4] and fresh == 0.4  # the draws this test relies on
    proc = agent2(
        *cli_args(
            "run",
            env=f"{ENV_FILE}:quick_win",
            budget_steps=10000,
            max_iterations=1,
            candidates=2,
            eval_episodes=10,
            runs_dir=runs_dir,
            thread_id="curse",
            no_progress=True,
        ),
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((runs_dir / "curse" / "result.json").read_text())
    best = result["best"]
    assert [c["eval_mean"] for c in result["iterations"][0]["candidates"]] == evaluated
    assert (best["compared"], best["selection_mean"], best["eval_mean"]) == (2, 0.5, fresh)
    assert best["eval_episodes"] == 10 and best["confirmation_error"] is None
    assert "On fresh seeds: 0.40" in (Path(result["agent_dir"]) / "report.md").read_text()
    assert RunDB(runs_dir).get_run("curse")["best_score"] == fresh
    assert "chosen from 2 evaluated policies at 0.50" in proc.stdout


def test_a_finished_iteration_is_not_trained_again(tmp_path):
    from nodes.design_mdp import original_mdp
    from tools.schemas import AlgoConfig, TrainJob
    from tools.training import StaleCheckpointError, forget_training, run_training

    job = TrainJob(
        env="CartPole-v1",
        mdp=original_mdp(4),
        target=None,
        algo=AlgoConfig(
            algorithm="PPO",
            budget_steps=1024,
            epoch_steps=512,
            collect_steps=512,
            n_train_envs=2,
            n_test_envs=2,
            test_episodes=2,
        ),
    )
    first = run_training(job, tmp_path, eval_episodes=2)
    assert first.env_steps >= 1024 and (tmp_path / "eval_result.json").exists()
    sessions = (tmp_path / PROGRESS).read_text().count('"start"')
    again = run_training(job, tmp_path, eval_episodes=2)  # e.g. a resume after a kill during evaluation
    assert again == first and (tmp_path / PROGRESS).read_text().count('"start"') == sessions
    changed = job.model_copy(update={"seed": 1})
    with pytest.raises(StaleCheckpointError, match="the job changed: seed"):  # never resumed, never dropped
        run_training(changed, tmp_path, eval_episodes=2)
    forget_training(tmp_path)  # what 'agent2 resume --restart-iteration' does
    (tmp_path / ".checkpoint.pt.12.abcdefgh").write_bytes(b"x" * 4096)  # a writer killed mid-write (no lock)
    third = run_training(changed, tmp_path, eval_episodes=2)
    assert (
        not (tmp_path / ".checkpoint.pt.12.abcdefgh").exists()
        and "removed the temp files" in (tmp_path / "worker.log").read_text()
    )
    assert third.resumed_at_step == 0  # another job starts afresh, not from the old checkpoint
    assert (tmp_path / PROGRESS).read_text().count('"start"') == 1


def test_the_progress_bars_leave_env_code_in_the_main_thread(runs_dir):
    """With bars on, the CLI listens to the nodes' events; the graph still runs its nodes in the main
    thread, where an env that installs a signal handler in reset (as MetaDrive does) can be profiled.
    Streaming LangGraph's custom events instead moved every node to a worker thread and broke it."""
    thread = "bars"
    proc = agent2(
        *cli_args(
            "run",
            env=f"{ENV_FILE}:main_thread_only",
            budget_steps=2000,
            max_iterations=1,
            eval_episodes=2,
            runs_dir=runs_dir,
            thread_id=thread,
        ),
        timeout=400,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "main thread" not in proc.stderr and (runs_dir / thread / "result.json").exists(), proc.stderr[-3000:]
    assert "iter 1" in proc.stderr  # the bar was drawn (its label), from the training events
