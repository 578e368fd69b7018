"""MetaDrive on one map with 60-step episodes, for a quick end-to-end test."""

from envs.metadrive_env import make_metadrive


def make_env():
    return make_metadrive(num_scenarios=1, start_seed=0, horizon=60)
