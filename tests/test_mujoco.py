"""MuJoCo built-in tasks: make, profile, the expert's design, and a tiny run through the graph."""

import json

from conftest import agent2
from envs.registry import BUILTIN_TASKS
from nodes.designers.base import DesignContext
from nodes.designers.expert import ExpertDesigner
from tools.profiling import profile_env
from tools.schemas import TaskSpec

MUJOCO = [t for t in BUILTIN_TASKS.values() if t.family == "mujoco"]


def test_every_mujoco_task_makes_and_profiles():
    assert {t.name for t in MUJOCO} == {"Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5", "Humanoid-v5"}
    for t in MUJOCO:
        p = profile_env(t.name, episodes=1, max_steps=200)
        assert p.action.kind == "continuous" and p.max_episode_steps == 1000 and not p.sparse_reward


def test_expert_gives_high_dimensional_control_a_bigger_sac():
    p = profile_env("Ant-v5", episodes=1, max_steps=200)
    ctx = DesignContext(task=TaskSpec(text="t", env="Ant-v5", target=2500, budget_steps=300_000), profile=p)
    cfg = ExpertDesigner().select_algorithm(ctx)
    assert cfg.algorithm == "SAC" and cfg.hidden_sizes == [256, 256] and cfg.start_steps >= 1000


def test_tiny_hopper_run_exports_and_plays(runs_dir):
    proc = agent2("run", "--env", "Hopper-v5", "--budget-steps", "1500", "--max-iterations", "1",
                  "--eval-episodes", "2", "--runs-dir", str(runs_dir), "--thread-id", "hop", "--no-progress",
                  timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((runs_dir / "hop" / "result.json").read_text())
    assert result["iterations"][0]["algorithm"] == "SAC" and result["best"]["eval_mean"] is not None
    play = agent2("play", result["agent_dir"], "--episodes", "1")
    assert play.returncode == 0 and "episode 1: return" in play.stdout
