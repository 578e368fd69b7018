"""What a SAC run has learned, read from its checkpoint: the entropy coefficient, what its replay
buffer holds (rewards, ends, actions; oldest and newest entries), and what its deterministic policy
does on a few episodes, with the critic's Q at the policy's action and at each action dimension pushed
to its low, middle and high value.

    python bench/sac_probe.py RUN/iter_1 [--checkpoint checkpoint.pt] [--episodes 3] [--record NAME]

Written for the question "why does this run stand still" (MetaDrive, issue 16): a flat Q over the
actions at the states the policy visits says the critic cannot tell the policy's action from any other.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import provenance, save_raw
from envs.mdp_wrapper import make_mdp_env
from tools.checkpoint_io import load_checkpoint
from tools.run_files import CHECKPOINT, JOB
from tools.schemas import TrainJob
from tools.train_worker import load_policy

AGE_WINDOW = 20_000
"""Entries in each of the buffer's oldest and newest windows."""
PROBE_EVERY = 50
"""Steps between two Q probes in an episode."""


def buffer_stats(buffer) -> dict:
    """Over all entries, and over the oldest and newest ``AGE_WINDOW`` (split evenly over the
    sub-buffers of a vector buffer, one per train env, each filled in insertion order until it wraps)."""
    meta = buffer._meta  # the whole storage, indexed like the buffer (sample(0) compacts it)
    rew, act = np.asarray(meta.rew, dtype=float), np.asarray(meta.act, dtype=float)
    term, trunc = np.asarray(meta.terminated), np.asarray(meta.truncated)
    edges = getattr(buffer, "subbuffer_edges", np.array([0, buffer.maxsize]))
    lengths = getattr(buffer, "_lengths", np.array([len(buffer)]))
    per = AGE_WINDOW // len(lengths)
    starts = [int(e) for e in edges[:-1]]
    oldest = np.concatenate([np.arange(s, s + min(per, n)) for s, n in zip(starts, lengths, strict=True)])
    newest = np.concatenate([np.arange(s + max(0, n - per), s + n) for s, n in zip(starts, lengths, strict=True)])
    wrapped = bool(len(buffer) >= buffer.maxsize)

    def window(idx: np.ndarray) -> dict:
        return {
            "entries": int(len(idx)),
            "reward_mean": float(rew[idx].mean()),
            "reward_below_zero": float((rew[idx] < 0).mean()),
            "terminated": int(term[idx].sum()),
            "truncated": int(trunc[idx].sum()),
            "action_mean": act[idx].mean(0).round(3).tolist(),
            "action_std": act[idx].std(0).round(3).tolist(),
        }

    everything = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths, strict=True)])
    out = {"all": window(everything), "wrapped": wrapped}
    if not wrapped:  # after a wrap the ages are no longer in index order
        out |= {"oldest": window(oldest), "newest": window(newest)}
    return out


def alive_units(net: torch.nn.Module, obs: torch.Tensor) -> list[dict]:
    """For each ReLU layer of ``net``: how many of its units are above zero for at least one of
    ``obs`` (a unit at zero for every state passes no gradient and never recovers)."""
    seen: list[tuple[str, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out, name=name: seen.append((name, out.detach())))
        for name, m in net.named_modules()
        if isinstance(m, torch.nn.ReLU)
    ]
    with torch.no_grad():
        net(obs)
    for h in hooks:
        h.remove()
    return [{"layer": name, "units": int(out.shape[-1]), "alive": int((out > 0).any(0).sum())} for name, out in seen]


def stored_obs(buffer, n: int = 5000) -> torch.Tensor:
    valid = np.concatenate(
        [np.arange(int(s), int(s) + int(k)) for s, k in zip(buffer.subbuffer_edges[:-1], buffer._lengths, strict=True)]
    )
    idx = np.random.default_rng(0).choice(valid, min(n, len(valid)), replace=False)
    return torch.as_tensor(np.asarray(buffer._meta.obs[idx], dtype=np.float32))


def probe_actions(act: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict[str, np.ndarray]:
    """The policy's action and, per dimension, that action with the dimension at low / mid / high."""
    out = {"policy": act}
    for d in range(len(act)):
        for name, value in (("low", low[d]), ("mid", (low[d] + high[d]) / 2), ("high", high[d])):
            a = act.copy()
            a[d] = value
            out[f"dim{d}_{name}"] = a
    return out


def episode(algorithm, env, seed: int) -> dict:
    policy, critic = algorithm.policy, algorithm.critic
    low, high = env.action_space.low.astype(np.float32), env.action_space.high.astype(np.float32)
    obs, _ = env.reset(seed=seed)
    total, actions, probes, info = 0.0, [], [], {}
    for t in range(100_000):
        o = torch.as_tensor(np.asarray(obs, dtype=np.float32)[None])
        with torch.no_grad():
            act = np.asarray(policy.map_action(policy(_batch(o)).act.detach()), dtype=np.float32)[0]
            if t % PROBE_EVERY == 0:
                probes.append(
                    {
                        k: round(float(critic(o, torch.as_tensor(a[None]))), 3)
                        for k, a in probe_actions(act, low, high).items()
                    }
                )
        actions.append(act)
        obs, r, term, trunc, info = env.step(act)
        total += float(r)
        if term or trunc:
            break
    acts = np.asarray(actions)
    ends = {k: bool(v) for k, v in info.items() if isinstance(v, (bool, np.bool_))}
    return {
        "return": total,
        "length": t + 1,
        "terminated": bool(term),
        "action_mean": acts.mean(0).round(3).tolist(),
        "action_std": acts.std(0).round(3).tolist(),
        "end_flags": ends,
        "q_probes": probes[:10],
    }


def _batch(obs: torch.Tensor):
    from tianshou.data import Batch

    return Batch(obs=obs, info={})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("iter_dir", type=Path)
    ap.add_argument("--checkpoint", default=CHECKPOINT, help="a file in ITER_DIR (default: %(default)s)")
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--record", metavar="NAME", help="also write the result to bench/results/NAME-<commit>.json")
    args = ap.parse_args()
    prov = provenance()
    job = TrainJob.model_validate_json((args.iter_dir / JOB).read_text())
    if job.algo.algorithm != "SAC" or job.mdp.normalize_obs or job.mdp.history > 1 or job.mdp.images:
        raise SystemExit(f"{args.iter_dir}: probes plain SAC runs only (got {job.algo.algorithm}, this MDP)")
    path = args.iter_dir / args.checkpoint
    state = load_checkpoint(path, fallback=False)
    if state is None:
        raise SystemExit(f"no readable checkpoint at {str(path)!r}")
    log_alpha = state["algorithm"].get("alpha._log_alpha")
    algorithm, _ = load_policy(job, path)
    env = make_mdp_env(job.env, job.mdp.code, job.mdp.obs_dim, shape_reward=False)
    result = {
        "iter_dir": str(args.iter_dir),
        "env": job.env,
        "env_step": state.get("env_step"),
        "alpha": float(torch.as_tensor(log_alpha).exp()) if log_alpha is not None else job.algo.alpha,
        "buffer": buffer_stats(state["buffer"]) if state.get("buffer") is not None else None,
        "actor_alive_units": alive_units(algorithm.policy.actor, stored_obs(state["buffer"]))
        if state.get("buffer") is not None
        else None,
        "observation_spread": float(stored_obs(state["buffer"]).std(0).mean())
        if state.get("buffer") is not None
        else None,
        "episodes": [episode(algorithm, env, args.seed + i) for i in range(args.episodes)],
    }
    env.close()
    print(json.dumps(result, indent=1))
    if args.record:
        save_raw(args.record, prov, {"probe": result})


if __name__ == "__main__":
    main()
