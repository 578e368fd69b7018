"""Ant-v5 without the 78 contact forces its observation carries by default
(``include_cfrc_ext_in_observation=False``: the 27 values of Ant-v4's default observation, the one
published SAC and TD3 figures for Ant were measured on, whose contact forces read 0 under MuJoCo ≥ 2.0).
The env of session 25's Ant question in bench/RESULTS.md: does the expert's design train faster
without them? Train it with ``bench/fixed_run.py --env bench/envs/ant_no_contact_forces.py:make``."""

import gymnasium as gym


def make(render_mode=None):
    return gym.make("Ant-v5", include_cfrc_ext_in_observation=False, render_mode=render_mode)
