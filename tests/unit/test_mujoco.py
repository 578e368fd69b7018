"""MuJoCo built-in tasks: make, profile, the expert's design, and a tiny run through the graph."""

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
