"""Vectorised envs with a generated MDP applied, as the worker and the exported agent build them."""

from __future__ import annotations

from tianshou.env import BaseVectorEnv, DummyVectorEnv, VectorEnvNormObs
from tianshou.utils import RunningMeanStd

from envs.mdp_wrapper import make_mdp_env
from tools.schemas import MDPDesign


def make_vector_env(env_ref: str, mdp: MDPDesign, n: int, seed: int, shape_reward: bool,
                    obs_rms: RunningMeanStd | None = None, update_obs_rms: bool = False) -> BaseVectorEnv:
    """``n`` envs in one process (cheap envs on 2 cores gain nothing from subprocesses).

    With ``mdp.normalize_obs`` the envs share the running mean/std ``obs_rms`` (a new one when None),
    updating it only when ``update_obs_rms``.
    """
    venv: BaseVectorEnv = DummyVectorEnv(
        [lambda: make_mdp_env(env_ref, mdp.code, mdp.obs_dim, shape_reward) for _ in range(n)]
    )
    venv.seed([seed + i for i in range(n)])
    if mdp.normalize_obs:
        venv = VectorEnvNormObs(venv, update_obs_rms=update_obs_rms)
        if obs_rms is not None:
            venv.set_obs_rms(obs_rms)
    return venv
