"""What a SAC run has learned, read from its checkpoint: the entropy coefficient, what its replay
buffer holds (rewards, ends, actions; oldest and newest entries), and what its deterministic policy
does on a few episodes, with the critic's Q at the policy's action and at each action dimension pushed
to its low, middle and high value.

    python bench/sac_probe.py RUN/iter_1 [--checkpoint checkpoint.pt] [--episodes 3] [--record NAME]

Written for the question "why does this run stand still" (MetaDrive, issue 16): the share of the
actor's ReLU units alive on stored states (one per ReLU layer; 0 means the action no longer depends
on the state, ``tools.dead_units``), and the Q over probe actions at the states the policy visits.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import provenance, save_raw
from envs.mdp_wrapper import make_mdp_env
from tools.buffers import state_sample
from tools.checkpoint_io import load_checkpoint
from tools.dead_units import alive_shares
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


def stored_obs(buffer, n: int = 5000) -> torch.Tensor:
    obs = state_sample(buffer, n)
    if obs is None:
        raise SystemExit("the checkpoint's buffer holds no observations to probe")
    return torch.as_tensor(np.asarray(obs, dtype=np.float32))


def probe_actions(act: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict[str, np.ndarray]:
    """The policy's action and, per dimension, that action with the dimension at low / mid / high."""
    out = {"policy": act}
    for d in range(len(act)):
        for name, value in (("low", low[d]), ("mid", (low[d] + high[d]) / 2), ("high", high[d])):
            a = act.copy()
            a[d] = value
            out[f"dim{d}_{name}"] = a
    return out


def episode(algorithm, env, seed: int, rms=None) -> dict:
    policy, critic = algorithm.policy, algorithm.critic
    low, high = env.action_space.low.astype(np.float32), env.action_space.high.astype(np.float32)
    obs, _ = env.reset(seed=seed)
    total, actions, probes, info = 0.0, [], [], {}
    for t in range(100_000):
        o = torch.as_tensor(np.asarray(rms.norm(obs) if rms is not None else obs, dtype=np.float32)[None])
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


FRESH_INPUTS = ("raw", "standardised", "centred", "layer_norm")
FRESH_CHECKS = (0, 10, 30, 100, 300, 1000, 2000, 5000)
"""Update counts at which the fresh actors are measured."""


def fresh_actor_units(job: TrainJob, action_space, stored, inputs: str, updates: int) -> list[dict]:
    """A fresh agent of ``job``'s config (seed 0) updated ``updates`` times on a copy of ``stored``,
    whose observations are kept raw, standardised or centred with the buffer's own statistics (or raw,
    with layer norm in every hidden layer); its actor's ReLU alive shares and the spread of its action
    mean over states, at each of ``FRESH_CHECKS``."""
    from tianshou.utils.torch_utils import policy_within_training_step

    from tools.algorithms import build_algorithm

    buffer = copy.deepcopy(stored)
    obs = stored_obs(stored, n=len(stored)).numpy()
    mean, std = obs.mean(0), obs.std(0)
    for key in ("obs", "obs_next"):
        raw = np.asarray(buffer._meta[key], dtype=np.float32)
        if inputs == "standardised":
            buffer._meta[key] = np.clip((raw - mean) / np.sqrt(std**2 + 1e-8), -10, 10).astype(np.float32)
        elif inputs == "centred":
            buffer._meta[key] = (raw - mean).astype(np.float32)
    buffer._set_batch_for_children()  # the children share the parent's (replaced) arrays
    cfg = job.algo.model_copy(update={"layer_norm": inputs == "layer_norm"})
    torch.manual_seed(0)
    np.random.seed(0)
    algorithm = build_algorithm(cfg, job.mdp.input_dim, action_space)
    probe = stored_obs(buffer, n=2000)
    rows, done = [], 0
    for k in (c for c in FRESH_CHECKS if c <= updates):
        while done < k:
            with policy_within_training_step(algorithm.policy):
                algorithm.update(buffer=buffer, sample_size=cfg.batch_size)
            done += 1
        with torch.no_grad():
            (mu, _), _ = algorithm.policy.actor(probe)
        rows.append(
            {
                "updates": k,
                "alive_shares": [round(x, 4) for x in alive_shares(algorithm.policy.actor, probe)],
                "action_mean_spread": [round(x, 5) for x in mu.std(0).tolist()],
            }
        )
        print(inputs, rows[-1], file=sys.stderr, flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("iter_dir", type=Path)
    ap.add_argument("--checkpoint", default=CHECKPOINT, help="a file in ITER_DIR (default: %(default)s)")
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument(
        "--fresh-updates",
        type=int,
        default=0,
        metavar="K",
        help="also train fresh agents of the run's config for K updates on its stored buffer, with raw, "
        "standardised and centred inputs and with layer norm, and report their actors' live units",
    )
    ap.add_argument(
        "--record",
        metavar="NAME",
        help="also write the result to bench/results/NAME-<commit>.json (-2, -3 … when one is there)",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)  # beside training jobs: threads on a busy core make updates ~10x slower
    prov = provenance()
    job = TrainJob.model_validate_json((args.iter_dir / JOB).read_text())
    if job.algo.algorithm != "SAC" or job.mdp.history > 1 or job.mdp.images:
        raise SystemExit(f"{args.iter_dir}: probes plain SAC runs only (got {job.algo.algorithm}, this MDP)")
    path = args.iter_dir / args.checkpoint
    state = load_checkpoint(path, fallback=False)
    if state is None:
        raise SystemExit(f"no readable checkpoint at {str(path)!r}")
    log_alpha = state["algorithm"].get("alpha._log_alpha")
    algorithm, rms = load_policy(job, path)
    env = make_mdp_env(job.env, job.mdp.code, job.mdp.obs_dim, shape_reward=False)
    states = stored_obs(state["buffer"]) if state.get("buffer") is not None else None
    result = {
        "iter_dir": str(args.iter_dir),
        "env": job.env,
        "env_step": state.get("env_step", 0) + state.get("pre_steps", 0),  # the trainer's steps + warm-up
        "trainer_env_step": state.get("env_step"),
        "alpha": float(torch.as_tensor(log_alpha).exp()) if log_alpha is not None else job.algo.alpha,
        "buffer": buffer_stats(state["buffer"]) if state.get("buffer") is not None else None,
        "actor_alive_shares": alive_shares(algorithm.policy.actor, states) if state.get("buffer") is not None else None,
        "observation_spread": float(states.std(0).mean()) if state.get("buffer") is not None else None,
        "episodes": [episode(algorithm, env, args.seed + i, rms) for i in range(args.episodes)],
    }
    if args.fresh_updates and state.get("buffer") is not None:
        result["fresh_actors"] = {
            inputs: fresh_actor_units(job, env.action_space, state["buffer"], inputs, args.fresh_updates)
            for inputs in FRESH_INPUTS
        }
    env.close()
    print(json.dumps(result, indent=1))
    if args.record:
        save_raw(args.record, prov, {"probe": result})


if __name__ == "__main__":
    main()
