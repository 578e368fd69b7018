"""Ant-v5 without the 78 contact-force values in its observation (Ant-v4's default, and in effect
Tianshou's Ant-v3 benchmark, whose contact forces read zero under MuJoCo >= 2.0): the env of the
observation A/B in bench/RESULTS.md. Same reward and termination as Ant-v5."""

import gymnasium as gym


def make(render_mode=None):
    return gym.make("Ant-v5", include_cfrc_ext_in_observation=False, render_mode=render_mode)
