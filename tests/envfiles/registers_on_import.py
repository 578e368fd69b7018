"""A plugin-style package module: importing it registers an env id (as minigrid, ale_py, ... do)."""

import gymnasium as gym

gym.register(id="Agent2Plugin/GoRight-v0", entry_point="tests.envfiles.custom_envs:GoRight", max_episode_steps=20)
