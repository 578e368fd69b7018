"""Built-in tasks: a plain-language description, a target on the original metric, and a default budget.

Names follow the env ids of their libraries, so ``--env CartPole-v1`` picks the built-in task.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltinTask:
    name: str
    """The name users type; equal to the underlying env id."""
    env_id: str
    description: str
    target: float
    """Mean evaluation return (original reward) that counts as solved."""
    budget_steps: int
    """Default env-step budget for a whole run."""
    family: str = "classic_control"
    metric: str = "mean episode return (original reward)"


BUILTIN_TASKS: dict[str, BuiltinTask] = {
    t.name: t
    for t in [
        BuiltinTask(
            name="CartPole-v1",
            env_id="CartPole-v1",
            description="Keep the pole upright on the moving cart as long as possible "
            "(up to 500 steps), pushing the cart left or right.",
            target=475.0,
            budget_steps=100_000,
        ),
        BuiltinTask(
            name="Acrobot-v1",
            env_id="Acrobot-v1",
            description="Swing the free end of the two-link pendulum above the bar "
            "as fast as possible by applying torque to the middle joint.",
            target=-100.0,
            budget_steps=200_000,
        ),
        BuiltinTask(
            name="Pendulum-v1",
            env_id="Pendulum-v1",
            description="Swing the pendulum up and keep it balanced upright with "
            "as little torque as possible.",
            target=-200.0,
            budget_steps=60_000,
        ),
        BuiltinTask(
            name="MountainCarContinuous-v0",
            env_id="MountainCarContinuous-v0",
            description="Drive the under-powered car up the right hill to the flag, "
            "spending as little energy as possible; the reward is sparse.",
            target=90.0,
            budget_steps=100_000,
        ),
        BuiltinTask(
            name="LunarLander-v3",
            env_id="LunarLander-v3",
            description="Land the lander softly on the landing pad between the flags "
            "using its main and side engines, without crashing.",
            target=200.0,
            budget_steps=1_000_000,
            family="box2d",
        ),
        BuiltinTask(
            name="Hopper-v5", env_id="Hopper-v5",
            description="Make the one-legged hopper hop forward as fast as possible without falling, "
            "using little torque.",
            target=3000.0, budget_steps=300_000, family="mujoco"),
        BuiltinTask(
            name="Walker2d-v5", env_id="Walker2d-v5",
            description="Make the two-legged walker walk forward as fast as possible without falling, "
            "using little torque.",
            target=3000.0, budget_steps=300_000, family="mujoco"),
        BuiltinTask(
            name="HalfCheetah-v5", env_id="HalfCheetah-v5",
            description="Make the planar cheetah run forward as fast as possible, using little torque.",
            target=5000.0, budget_steps=300_000, family="mujoco"),
        BuiltinTask(
            name="Ant-v5", env_id="Ant-v5",
            description="Make the four-legged ant walk forward as fast as possible without flipping over, "
            "using little torque and few hard contacts.",
            target=2500.0, budget_steps=300_000, family="mujoco"),
        BuiltinTask(
            name="Humanoid-v5", env_id="Humanoid-v5",
            description="Make the humanoid walk forward as fast as possible without falling, "
            "using little torque.",
            target=5000.0, budget_steps=300_000, family="mujoco"),
    ]
}


def get_builtin(name: str) -> BuiltinTask | None:
    return BUILTIN_TASKS.get(name)
