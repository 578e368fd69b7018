"""SMAX (jaxmarl, the ``[smax]`` extra) and the SMAC adapter: API, win-rate metric, a tiny run."""

import numpy as np
from conftest import IDENTITY_MDP
from pettingzoo.test import parallel_api_test

from envs.mdp_wrapper import load_mdp_module
from envs.multiagent import MDPParallelEnv
from envs.smac import SMACParallelEnv


class FakeStarCraft2Env:
    """smac's StarCraft2Env API (the calls the adapter makes), for two marines against one.

    Unit 1 dies at step 2; after that only no-op (0) is available to it, and SMAC raises on an
    unavailable action exactly like the real env. The battle is won at step 4."""

    def __init__(self, map_name: str):
        self.t = 0
        self.sent: list[list[int]] = []

    def get_env_info(self):
        return {"n_agents": 2, "n_actions": 4, "obs_shape": 5, "state_shape": 7, "episode_limit": 10}

    def reset(self):
        self.t = 0

    def get_obs(self):
        return [np.full(5, k + self.t, dtype=np.float32) for k in range(2)]

    def get_state(self):
        return np.zeros(7, dtype=np.float32)

    def get_avail_agent_actions(self, k):
        return [1, 0, 0, 0] if (k == 1 and self.t >= 2) else [0, 1, 1, 1]

    def get_unit_by_id(self, k):
        return type("Unit", (), {"health": 0 if (k == 1 and self.t >= 2) else 45})()

    def step(self, actions):
        for k, a in enumerate(actions):
            if not self.get_avail_agent_actions(k)[a]:
                raise AssertionError(f"Agent {k} cannot perform action {a}")
        self.sent.append(list(actions))
        self.t += 1
        won = self.t >= 4
        return 0.5, won, ({"battle_won": True} if won else {})

    def close(self):
        pass


def test_smac_adapter_masks_unavailable_actions_and_reports_the_win():
    env = SMACParallelEnv("2m_vs_1z", env_class=FakeStarCraft2Env)
    parallel_api_test(SMACParallelEnv("2m_vs_1z", env_class=FakeStarCraft2Env), num_cycles=20)
    obs, _ = env.reset()
    assert env.agents == ["agent_0", "agent_1"] and obs["agent_1"].shape == (5,)
    for _ in range(4):
        _, rew, term, trunc, info = env.step({a: 0 for a in env.agents})
    # action 0 is unavailable to living units: it became their first available action (1)
    assert env._env.sent[0] == [1, 1] and env._env.sent[-1] == [1, 0]
    assert info["agent_0"]["won"] and term["agent_0"] and not env.agents
    assert SMACParallelEnv.metric_reward("agent_0", 0.5, info["agent_0"], True) == 1.0
    wrapped = MDPParallelEnv(
        SMACParallelEnv("m", env_class=FakeStarCraft2Env), "smac", load_mdp_module(IDENTITY_MDP), 5, shape_reward=False
    )
    wrapped.reset()
    rewards = [wrapped.step({a: 1 for a in wrapped.agents})[1] for _ in range(4)]
    assert rewards[-1]["agent_0"] == 1.0 and rewards[0]["agent_0"] == 0.0  # the win rate, not SMAC's reward
