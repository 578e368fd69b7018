"""Node: the designer writes the MDP (observation, action, reward code); a sandbox checks it.

A design that fails is sent back to the designer with the error, a bounded number of times;
then the loop falls back to the last good design (or the original MDP), never crashing.
"""

from __future__ import annotations

import time

from langchain_core.runnables import RunnableConfig

from nodes.context import announce, design_context, run_designer, store
from nodes.designers.base import critic_state
from nodes.state import GeneratorState
from tools.mdp_check import images_kept, validate_mdp
from tools.schemas import MDPDesign

MAX_REPAIRS = 3

ORIGINAL_MDP_CODE = '''"""The env's own MDP, unchanged (fallback design)."""
import numpy as np


def observation(obs):
    return np.asarray(obs, dtype=np.float32)


def action(act):
    return act


def reward(obs, action, next_obs, reward, info):
    return float(reward)
'''


def original_mdp(obs_dim: int) -> MDPDesign:
    return MDPDesign(
        code=ORIGINAL_MDP_CODE,
        obs_dim=obs_dim,
        summary="original MDP (fallback)",
        rationale="generated designs failed validation",
    )


def design_mdp(state: GeneratorState, config: RunnableConfig) -> dict:
    t0 = time.perf_counter()
    ctx = design_context(state, config)
    who = run_designer(state, config)
    runs = store(state, config)
    errors: list[str] = []
    profile = state["profile"]
    design: MDPDesign | None = who.design_mdp(ctx)  # None: the designer has no answer
    for attempt in range(1, MAX_REPAIRS + 2):
        if design is None:
            break
        check_dir = runs.keep_attempt(state["iteration"], attempt, design.code)  # every attempt stays on disk
        ask = profile.images if not design.images and not profile.multi_agent else None
        error = validate_mdp(state["spec"].env, design, check_dir, images=ask)
        if error is None:
            if ask:  # a design that does not declare its images: the ones it hands on unchanged
                design = design.model_copy(update={"images": images_kept(check_dir)})
            announce("design_mdp", state["iteration"], design.summary, failed_attempts=len(errors))
            return {"mdp": design, "mdp_errors": errors, "wall_seconds": time.perf_counter() - t0}
        errors.append(error)
        design = who.repair_mdp(ctx, design, error)
    fallback = state.get("mdp") or original_mdp(profile.obs_dim).model_copy(update={"env_state": critic_state(profile)})
    announce(
        "design_mdp",
        state["iteration"],
        f"{fallback.summary} (after {len(errors)} failed designs)",
        failed_attempts=len(errors),
    )
    return {"mdp": fallback, "mdp_errors": errors, "wall_seconds": time.perf_counter() - t0}
