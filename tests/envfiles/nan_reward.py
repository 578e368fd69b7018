"""CartPole whose reward is NaN from step 120 on, every 40th step: random play (profiling, the MDP check)
never gets that far, a learning agent does; training must stop cleanly and the critic react."""

from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.wrappers import TimeLimit


class LateNaN(CartPoleEnv):
    def reset(self, **kwargs):
        self.t = 0
        return super().reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.t += 1
        return obs, float("nan") if self.t >= 120 and self.t % 40 == 0 else reward, terminated, truncated, info


def make_env():
    return TimeLimit(LateNaN(), max_episode_steps=200)
