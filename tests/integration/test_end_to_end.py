"""Real runs through the graph with tiny budgets: export and play, a kill -9 and a resume."""

import json
from pathlib import Path

import pytest
from conftest import ENV_FILE, agent2, cli_args

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
    assert result["status"] == "budget_exhausted"  # a target of 100 cannot be met in this corridor
    assert len(result["iterations"]) == 2  # the critic looped back once
    first, second = result["iterations"]
    assert first["verdict"] in ("revise_algo", "revise_mdp") and first["mdp_code"]
    assert result["best"]["eval_mean"] == max(i["eval_mean"] for i in result["iterations"])
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
    shown = agent2("show", "go-right", "--runs-dir", str(runs_dir))
    assert shown.returncode == 0 and "budget_exhausted" in shown.stdout
    assert "go-right" in agent2("runs", "--runs-dir", str(runs_dir)).stdout


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
    third = run_training(changed, tmp_path, eval_episodes=2)
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
