"""Ant-v5 with half of the expert's random-play standardisation each: the env of session 24's
observation A/B in bench/RESULTS.md. The expert's design computes clip((x - mean) / scale, ±10);
``make_scale_only`` applies clip(x / scale, ±10), ``make_center_only`` x - mean, with the mean and
scale that design uses (``ant_random_play_stats.json``); ``make_shrink_only`` (session 25) centres
and divides only by the spreads above 1. Train them with the original MDP
(``bench/fixed_run.py --env bench/envs/ant_standardised_parts.py:make_scale_only``)."""

import json
from pathlib import Path

import gymnasium as gym
import numpy as np

STATS = json.loads((Path(__file__).with_name("ant_random_play_stats.json")).read_text())
MEAN = np.array(STATS["mean"], dtype=np.float32)
SCALE = np.array(STATS["scale"], dtype=np.float32)


def _wrapped(transform, render_mode=None):
    env = gym.make("Ant-v5", render_mode=render_mode)
    return gym.wrappers.TransformObservation(env, transform, env.observation_space)


def make_scale_only(render_mode=None):
    return _wrapped(lambda x: np.clip(x / SCALE, -10.0, 10.0).astype(np.float32), render_mode)


def make_center_only(render_mode=None):
    return _wrapped(lambda x: (x - MEAN).astype(np.float32), render_mode)


def make_shrink_only(render_mode=None):
    """Centred, and divided by random play's spread only where it exceeds 1: entries random play barely
    moves (height, orientation, joint angles, contact forces) keep their own scale instead of being
    blown up, the fast ones (velocities) are shrunk. Session 25's question: is amplifying the quiet
    entries what slows SAC's start on Ant?"""
    return _wrapped(lambda x: np.clip((x - MEAN) / np.maximum(SCALE, 1.0), -10.0, 10.0).astype(np.float32), render_mode)
