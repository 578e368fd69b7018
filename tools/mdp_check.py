"""Validate generated MDP code: static checks here, then a smoke rollout in a sandboxed process.

validate_mdp(env_ref, mdp, work_dir) -> None or a one-paragraph error for the designer to repair.
"""

from __future__ import annotations

import ast
import json
import math
import sys
from pathlib import Path

import numpy as np

from envs.loading import is_multi_agent, make_parallel_env
from envs.mdp_wrapper import make_mdp_env
from envs.multiagent import env_state_dim
from tools import sandbox
from tools.schemas import ImageSlice, MDPDesign

ALLOWED_IMPORTS = {"numpy", "math"}
SIGNATURES = {"observation": 1, "action": 1, "reward": 5}
SMOKE_EPISODES = 3
SMOKE_STEP_CAP = 300
SMOKE_TIMEOUT_S = 60.0
RESULT = "mdp_check.json"


def static_check(code: str) -> str | None:
    """Parse the code and check imports and the three functions' signatures."""
    try:
        tree = ast.parse(code, filename="mdp.py")
    except SyntaxError as e:
        return f"mdp.py:{e.lineno}: syntax error: {e.msg}"
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            bad = [n for n in names if n.split(".")[0] not in ALLOWED_IMPORTS]
            if bad:
                return f"mdp.py:{node.lineno}: import of {', '.join(bad)} is not allowed (only numpy, math)"
        if isinstance(node, ast.Name) and node.id in {"open", "exec", "eval", "__import__", "compile"}:
            return f"mdp.py:{node.lineno}: use of {node.id!r} is not allowed"
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for name, n_args in SIGNATURES.items():
        fn = functions.get(name)
        if fn is None:
            return f"mdp.py: missing top-level function {name}()"
        got = len(fn.args.posonlyargs) + len(fn.args.args)
        if got != n_args:
            return f"mdp.py:{fn.lineno}: {name}() takes {got} positional arguments, expected {n_args}"
    return None


def smoke_rollout(env_ref: str, mdp: MDPDesign, seed: int = 0, images: list[ImageSlice] | None = None) -> dict:
    """Random-action episodes through the MDP: finite rewards, observations of the declared shape.
    ``images`` (the env's, as profiled): which of them observation() hands on where they were,
    unchanged at every step (``images_kept``), so convolutions can read them there."""
    env = make_mdp_env(env_ref, mdp.code, mdp.obs_dim, shape_reward=True)
    env.action_space.seed(seed)
    shaped, original, steps = [], [], 0
    kept = [im.offset + im.size <= mdp.obs_dim for im in images or []]

    def same_images(obs: np.ndarray) -> None:
        raw = np.asarray(env._last_raw_obs, dtype=np.float32).reshape(-1)
        for i, im in enumerate(images or []):
            part = slice(im.offset, im.offset + im.size)
            kept[i] = kept[i] and raw.shape[0] >= im.offset + im.size and np.array_equal(obs[part], raw[part])

    for ep in range(SMOKE_EPISODES):
        obs, _ = env.reset(seed=seed + ep)
        _check_obs(obs, mdp.obs_dim, "reset")
        same_images(obs)
        s_ret = o_ret = 0.0
        for _ in range(SMOKE_STEP_CAP):
            obs, r, term, trunc, info = env.step(env.action_space.sample())
            _check_obs(obs, mdp.obs_dim, "step")
            same_images(obs)
            if not math.isfinite(r):
                raise ValueError(f"reward() returned {r!r}")
            s_ret += r
            o_ret += info["original_reward"]
            steps += 1
            if term or trunc:
                break
        shaped.append(s_ret)
        original.append(o_ret)
    env.close()
    return {
        "ok": True,
        "steps": steps,
        "shaped_return_mean": float(np.mean(shaped)),
        "original_return_mean": float(np.mean(original)),
        "images_kept": [im.model_dump() for im, k in zip(images or [], kept, strict=True) if k],
    }


def _check_obs(obs: np.ndarray, dim: int, where: str) -> None:
    if obs.shape != (dim,):
        raise ValueError(f"observation() after {where} has shape {obs.shape}, declared ({dim},)")
    if not np.all(np.isfinite(obs)):
        raise ValueError(f"observation() after {where} has non-finite values {obs.tolist()}")


def unsupported_design(env_ref: str, mdp: MDPDesign) -> str | None:
    """Why ``mdp`` cannot run on ``env_ref`` as built here, or None. Running observation
    normalisation (``normalize_obs``) scales the whole flat vector, and a multi-agent slot's vector
    holds the agent's one-hot, the centralised state and the action mask beside its observation."""
    if mdp.normalize_obs and is_multi_agent(env_ref):
        return (
            f"normalize_obs=True is for single-agent envs: {env_ref} is multi-agent, and running "
            "normalisation would rescale each slot's agent one-hot and action mask; standardise inside "
            "observation() instead"
        )
    if mdp.env_state and not is_multi_agent(env_ref):
        return f"env_state=True is for a multi-agent env's centralised critic: {env_ref} is single-agent"
    if mdp.env_state and not _declared_state_dim(env_ref):
        return f"env_state=True, but {env_ref} declares no global state (PettingZoo's state_space)"
    return None


def _declared_state_dim(env_ref: str) -> int:
    game = make_parallel_env(env_ref)
    try:
        return env_state_dim(game)
    finally:
        game.close()


def validate_mdp(env_ref: str, mdp: MDPDesign, work_dir: Path, images: list[ImageSlice] | None = None) -> str | None:
    """None when the design runs; otherwise the error (with traceback tail) to send back. With
    ``images``, ``images_kept(work_dir)`` then says which of them the design hands on unchanged."""
    error = unsupported_design(env_ref, mdp) or static_check(mdp.code)
    if error:
        return error
    work_dir.mkdir(parents=True, exist_ok=True)
    sandbox.write_text(  # the folder is the generated code's: never write through a link it left
        work_dir / "mdp_check_input.json",
        json.dumps({"env": env_ref, "mdp": mdp.model_dump(), "images": [im.model_dump() for im in images or []]}),
    )
    (work_dir / RESULT).unlink(missing_ok=True)
    log = work_dir / "mdp_check.log"
    sandbox.write_text(log, "")
    code = sandbox.run("tools.mdp_check", [str(work_dir)], log, timeout=SMOKE_TIMEOUT_S)
    if code == -9:
        return f"smoke rollout did not finish within {SMOKE_TIMEOUT_S:.0f} s (endless loop?)"
    result_file = work_dir / RESULT
    if code != 0 or not result_file.exists():
        return "smoke rollout failed:\n" + sandbox.log_tail(log)
    return None


def images_kept(work_dir: Path) -> list[ImageSlice]:
    """The images the last successful check found handed on unchanged (see ``smoke_rollout``)."""
    result = json.loads(sandbox.read_text(work_dir / RESULT))
    return [ImageSlice.model_validate(d) for d in result.get("images_kept", [])]


def _main(work_dir: str) -> int:
    d = Path(work_dir)
    spec = json.loads((d / "mdp_check_input.json").read_text())
    result = smoke_rollout(
        spec["env"],
        MDPDesign.model_validate(spec["mdp"]),
        images=[ImageSlice.model_validate(i) for i in spec.get("images", [])],
    )
    (d / RESULT).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
