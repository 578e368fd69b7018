"""Vectorised envs with a generated MDP applied, as the worker and the exported agent build them."""

from __future__ import annotations

from tianshou.env import BaseVectorEnv, DummyVectorEnv, SubprocVectorEnv, VectorEnvNormObs
from tianshou.utils import RunningMeanStd

from envs.loading import env_traits, is_multi_agent, make_parallel_env
from envs.mdp_wrapper import VisitCounts, load_mdp_module, make_mdp_env
from envs.multiagent import AgentLayout, make_slot_vector_env, slot_layout
from tools.mdp_check import unsupported_design
from tools.schemas import MDPDesign


def make_vector_env(
    env_ref: str,
    mdp: MDPDesign,
    n: int,
    seed: int,
    shape_reward: bool,
    obs_rms: RunningMeanStd | None = None,
    update_obs_rms: bool = False,
    novelty_bonus: float = 0.0,
) -> BaseVectorEnv:
    """``n`` envs in one process (cheap envs on 2 cores gain nothing from subprocesses).

    A multi-agent env gives ``n`` games of one slot per agent (``envs/multiagent.py``).
    With ``mdp.normalize_obs`` the envs share the running mean/std ``obs_rms`` (a new one when None),
    updating it only when ``update_obs_rms``. ``novelty_bonus`` > 0 (training envs): a count-based
    bonus, the visit counts shared by the ``n`` envs (single-agent envs in this process).
    """
    if (why := unsupported_design(env_ref, mdp)) is not None:
        raise ValueError(why)
    venv: BaseVectorEnv
    counts: VisitCounts | None = None
    if is_multi_agent(env_ref):
        venv = make_slot_vector_env(
            lambda: make_parallel_env(env_ref),
            env_ref,
            load_mdp_module(mdp.code),
            mdp.obs_dim,
            n,
            seed,
            shape_reward,
            mdp.history,
            mdp.env_state,
        )
    else:
        one_per_process, _ = env_traits(env_ref)
        kind = SubprocVectorEnv if one_per_process else DummyVectorEnv
        counts = VisitCounts(novelty_bonus) if novelty_bonus > 0 and shape_reward else None
        venv = kind(
            [
                lambda: make_mdp_env(env_ref, mdp.code, mdp.obs_dim, shape_reward, history=mdp.history, novelty=counts)
                for _ in range(n)
            ]
        )
        venv.seed([seed + i for i in range(n)])
    if mdp.normalize_obs:
        venv = VectorEnvNormObs(venv, update_obs_rms=update_obs_rms)
        if obs_rms is not None:
            venv.set_obs_rms(obs_rms)
    if counts is not None:
        venv.visit_counts = counts  # type: ignore[attr-defined]  # checkpointed with the worker's state
    return venv


def agent_layout(env_ref: str, mdp: MDPDesign) -> AgentLayout | None:
    """How a multi-agent env's slot observations split under ``mdp`` (None for a single-agent env)."""
    if not is_multi_agent(env_ref):
        return None
    game = make_parallel_env(env_ref)
    try:
        return slot_layout(game, mdp.obs_dim, mdp.history, mdp.env_state)
    finally:
        game.close()
