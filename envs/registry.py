"""Built-in tasks: a plain-language description, a target on the original metric, and a default budget.

Names follow the env ids of their libraries, so ``--env CartPole-v1`` picks the built-in task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    factory: str | None = None
    """``module:callable`` that builds the env when it is not a Gymnasium id (PettingZoo envs)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``factory``."""
    agents: int = 1

    @property
    def multi_agent(self) -> bool:
        return self.agents > 1


WIN_RATE = "win rate (share of evaluation battles won)"
SMAX_TASKS = [
    ("3m", 3, "3 Marines against 3 Marines"),
    ("8m", 8, "8 Marines against 8 Marines"),
    ("2s3z", 5, "2 Stalkers and 3 Zealots against the same"),
]
"""SMAX has no 1c3s5z (``jaxmarl``'s map list); its nearest, 3s5z, runs as ``--env envs.smax:make_smax``
with a factory of your own."""
SMAX_TARGETS = {"3m": 0.9, "8m": 0.94, "2s3z": 0.85}
"""Win rates to reach: the Agent² paper's on SMAC 8m and 2s3z (``bench/published.py``), 0.9 on 3m."""
SMAC_TASKS = [*SMAX_TASKS, ("1c3s5z", 9, "1 Colossus, 3 Stalkers and 5 Zealots against the same")]
PER_AGENT = "per-agent mean episode return (original reward, mean over agents)"


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
            description="Swing the pendulum up and keep it balanced upright with as little torque as possible.",
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
            name="Hopper-v5",
            env_id="Hopper-v5",
            description="Make the one-legged hopper hop forward as fast as possible without falling, "
            "using little torque.",
            target=3000.0,
            budget_steps=300_000,
            family="mujoco",
        ),
        BuiltinTask(
            name="Walker2d-v5",
            env_id="Walker2d-v5",
            description="Make the two-legged walker walk forward as fast as possible without falling, "
            "using little torque.",
            target=3000.0,
            budget_steps=300_000,
            family="mujoco",
        ),
        BuiltinTask(
            name="HalfCheetah-v5",
            env_id="HalfCheetah-v5",
            description="Make the planar cheetah run forward as fast as possible, using little torque.",
            target=5000.0,
            budget_steps=300_000,
            family="mujoco",
        ),
        BuiltinTask(
            name="Ant-v5",
            env_id="Ant-v5",
            description="Make the four-legged ant walk forward as fast as possible without flipping over, "
            "using little torque and few hard contacts.",
            target=2500.0,
            budget_steps=300_000,
            family="mujoco",
        ),
        BuiltinTask(
            name="Humanoid-v5",
            env_id="Humanoid-v5",
            description="Make the humanoid walk forward as fast as possible without falling, using little torque.",
            target=5000.0,
            budget_steps=300_000,
            family="mujoco",
        ),
        BuiltinTask(
            name="simple_spread_v3",
            env_id="simple_spread_v3",
            description="Three cooperating agents must spread out to cover three landmarks, each "
            "landmark close to some agent, without colliding with each other (MPE, 25 steps).",
            target=-16.3,
            budget_steps=1_000_000,
            family="mpe",
            metric=PER_AGENT,
            factory="mpe2.simple_spread_v3:parallel_env",
            kwargs={"N": 3, "local_ratio": 0.5, "max_cycles": 25, "continuous_actions": False},
            agents=3,
        ),
        BuiltinTask(
            name="simple_reference_v3",
            env_id="simple_reference_v3",
            description="Two agents must each reach a target landmark that only the other agent "
            "knows; each speaks to tell the other where to go and moves (MPE, 25 steps).",
            target=-20.0,
            budget_steps=1_000_000,
            family="mpe",
            metric=PER_AGENT,
            factory="mpe2.simple_reference_v3:parallel_env",
            kwargs={"local_ratio": 0.5, "max_cycles": 25, "continuous_actions": False},
            agents=2,
        ),
        BuiltinTask(
            name="MetaDriveEnv",
            env_id="MetaDriveEnv",
            description="Drive the car along the generated road network to its destination without "
            "crashing or leaving the road, as far and as fast as possible (MetaDrive, 10 maps, lidar "
            "and ego-state observations, steering and throttle).",
            target=260.0,
            budget_steps=400_000,
            family="metadrive",
            factory="envs.metadrive_env:make_metadrive",
            kwargs={"num_scenarios": 10, "start_seed": 0},
        ),
        *[
            BuiltinTask(
                name=f"smax_{m}",
                env_id=f"smax_{m}",
                description=f"SMAX (JAX StarCraft micromanagement) map {m}: {what}; win the battle "
                "against the built-in heuristic enemy by focusing fire and keeping units alive.",
                target=SMAX_TARGETS[m],
                budget_steps=1_000_000,
                family="smax",
                metric=WIN_RATE,
                factory="envs.smax:make_smax",
                kwargs={"map_name": m},
                agents=n,
            )
            for m, n, what in SMAX_TASKS
        ],
        *[
            BuiltinTask(
                name=f"smac_{m}",
                env_id=f"smac_{m}",
                description=f"SMAC (StarCraft II) map {m}: {what}; win the battle against the game's AI. "
                "Needs StarCraft II and the smac package (see README).",
                target=0.9,
                budget_steps=2_000_000,
                family="smac",
                metric=WIN_RATE,
                factory="envs.smac:make_smac",
                kwargs={"map_name": m},
                agents=n,
            )
            for m, n, what in SMAC_TASKS
        ],
    ]
}


def get_builtin(name: str) -> BuiltinTask | None:
    return BUILTIN_TASKS.get(name)
