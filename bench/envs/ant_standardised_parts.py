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


def _wrapped(transform, render_mode=None, env_id="Ant-v5"):
    env = gym.make(env_id, render_mode=render_mode)
    return gym.wrappers.TransformObservation(env, transform, env.observation_space)


def make_scale_only(render_mode=None):
    return _wrapped(lambda x: np.clip(x / SCALE, -10.0, 10.0).astype(np.float32), render_mode)


def make_center_only(render_mode=None):
    return _wrapped(lambda x: (x - MEAN).astype(np.float32), render_mode)


def _shrunk(mean, scale):
    return lambda x: np.clip((x - mean) / np.maximum(scale, 1.0), -10.0, 10.0).astype(np.float32)


def make_shrink_only(render_mode=None):
    """Centred, and divided by random play's spread only where it exceeds 1: entries random play barely
    moves (height, orientation, joint angles, contact forces) keep their own scale instead of being
    blown up, the fast ones (velocities) are shrunk. Session 25's question: is amplifying the quiet
    entries what slows SAC's start on Ant?"""
    return _wrapped(_shrunk(MEAN, SCALE), render_mode)


def _shrink_only(env_id: str, stats_file: str, render_mode=None):
    stats = json.loads((Path(__file__).with_name(stats_file)).read_text())
    transform = _shrunk(np.array(stats["mean"], dtype=np.float32), np.array(stats["scale"], dtype=np.float32))
    return _wrapped(transform, render_mode, env_id)


def make_halfcheetah_shrink_only(render_mode=None):
    """``make_shrink_only``'s transform on HalfCheetah-v5, with its own random play's statistics
    (``halfcheetah_random_play_stats.json``): does it keep the standardisation's gain there?"""
    return _shrink_only("HalfCheetah-v5", "halfcheetah_random_play_stats.json", render_mode)


def make_hopper_shrink_only(render_mode=None):
    """The same on Hopper-v5 (``hopper_random_play_stats.json``), where the standardisation amplifies the
    torso's height 50-fold (random play's std 0.019) and Agent² still met the target."""
    return _shrink_only("Hopper-v5", "hopper_random_play_stats.json", render_mode)
