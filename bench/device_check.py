"""Update speed on each device, and one short MuJoCo run: the script to run when a GPU is at hand.

    python bench/device_check.py [--env Hopper-v5] [--updates 300] [--run-steps 20000] [--devices cpu cuda]
        [--sac-batches 128 512 1024]

For each device (default: cpu, and cuda when torch sees a GPU): the milliseconds of one SAC gradient
step and of one PPO update (its epochs over one collection) with the expert designer's default
configs for ``--env`` (SAC [256, 256], batch 256; PPO as the expert sets it), timed on Agent²'s own
networks over a buffer of random transitions after a warm-up (``--sac-batches``: SAC's gradient step
at other batch sizes too, the cost side of a lower update-to-data ratio with a larger batch); then ``agent2 run --device D`` for
``--run-steps`` env steps (one iteration, an unreachable target) and its training env steps/s.
Writes bench/results/device-check-<env>-<devices>-t<threads>-<commit>.json (keyed on the setup: two calls
at one commit with another env, device list or thread count keep both files).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tianshou.algorithm.algorithm_base import policy_within_training_step  # noqa: E402
from tianshou.data import Batch, ReplayBuffer  # noqa: E402

from bench.common import provenance, save_raw  # noqa: E402
from bench.fixed_run import expert_config  # noqa: E402
from envs.loading import make_env  # noqa: E402
from tools.algorithms import build_algorithm  # noqa: E402


def random_buffer(env, size: int) -> ReplayBuffer:
    buf = ReplayBuffer(size)
    obs, _ = env.reset(seed=0)
    for _ in range(size):
        act = env.action_space.sample()
        nxt, rew, term, trunc, _ = env.step(act)
        buf.add(Batch(obs=obs, act=act, rew=rew, terminated=term, truncated=trunc, obs_next=nxt, info={}))
        obs = env.reset()[0] if term or trunc else nxt
    return buf


def time_updates(algo_name: str, env_id: str, device: str, updates: int, batch_size: int | None = None) -> dict:
    env = make_env(env_id)
    cfg = expert_config(env_id, algo_name, 300_000, [f"batch_size={batch_size}"] if batch_size else [])
    algorithm = build_algorithm(cfg, int(np.prod(env.observation_space.shape)), env.action_space).to(device)
    buf = random_buffer(env, max(cfg.collect_steps, 2048) if cfg.on_policy else 10_000)
    calls = max(3, updates // 50) if cfg.on_policy else updates

    def one() -> None:
        if cfg.on_policy:
            algorithm.update(buf, batch_size=cfg.batch_size, repeat=cfg.repeat)
        else:
            algorithm.update(buf, sample_size=cfg.batch_size)

    with policy_within_training_step(algorithm.policy):
        for _ in range(3 if cfg.on_policy else 20):  # warm-up: allocations, CUDA kernels
            one()
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(calls):
            one()
        if device == "cuda":
            torch.cuda.synchronize()
    ms = 1000 * (time.perf_counter() - t0) / calls
    minibatches = cfg.repeat * -(-len(buf) // cfg.batch_size) if cfg.on_policy else 1
    return {
        "algorithm": algo_name,
        "device": device,
        "ms_per_update": ms,
        "gradient_steps_per_update": minibatches,
        "ms_per_gradient_step": ms / minibatches,
        "hidden_sizes": cfg.hidden_sizes,
        "batch_size": cfg.batch_size,
        "calls": calls,
    }


def short_run(env_id: str, device: str, steps: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="agent2-dev-") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli",
                "run",
                "--env",
                env_id,
                "--budget-steps",
                str(steps),
                "--max-iterations",
                "1",
                "--target",
                "1e9",
                "--runs-dir",
                tmp,
                "--thread-id",
                "t",
                "--no-progress",
                "--device",
                device,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "AGENT2_TORCH_THREADS": str(torch.get_num_threads())},
        )
        wall = time.perf_counter() - t0
        tr = Path(tmp) / "t" / "iter_1" / "train_result.json"
        if not tr.exists():
            return {"device": device, "failed": True, "error": proc.stderr[-800:], "wall": wall}
        t = json.loads(tr.read_text())
        result = json.loads((Path(tmp) / "t" / "result.json").read_text())
    return {
        "device": t.get("device", device),
        "env_steps": t["env_steps"],
        "train_seconds": t["wall_seconds"],
        "steps_per_second": t["env_steps"] / t["wall_seconds"],
        "update_seconds": t["time_update"],
        "score": (result.get("best") or {}).get("eval_mean"),
        "algorithm": result["iterations"][0]["algorithm"],
        "wall": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", default="Hopper-v5")
    ap.add_argument("--updates", type=int, default=300, help="SAC gradient steps timed (PPO: a fiftieth as many calls)")
    ap.add_argument("--run-steps", type=int, default=20_000, help="env steps of the short run (0: none)")
    ap.add_argument("--devices", nargs="*", default=["cpu", *(["cuda"] if torch.cuda.is_available() else [])])
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the worker's default on a busy machine)")
    ap.add_argument(
        "--sac-batches",
        type=int,
        nargs="*",
        default=[],
        help="also time one SAC gradient step at each of these batch sizes (what a lower update-to-data ratio with a larger batch costs)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    prov = provenance()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    updates, runs = [], []
    for device in args.devices:
        for algo, batch in [("SAC", None), ("PPO", None), *(("SAC", b) for b in args.sac_batches)]:
            r = time_updates(algo, args.env, device, args.updates, batch)
            updates.append(r)
            print(
                f"{device} {algo}: {r['ms_per_update']:.2f} ms per update ({r['gradient_steps_per_update']} gradient "
                f"steps, {r['ms_per_gradient_step']:.2f} ms each; hidden {r['hidden_sizes']}, batch {r['batch_size']})",
                flush=True,
            )
        if args.run_steps:
            r = short_run(args.env, device, args.run_steps)
            runs.append(r)
            print(
                f"{device} run: "
                + (
                    f"failed: {r['error'][-300:]}"
                    if r.get("failed")
                    else f"{r['algorithm']} {r['env_steps']} steps in {r['train_seconds']:.0f} s = {r['steps_per_second']:.0f} "
                    f"steps/s (updates {r['update_seconds']:.0f} s), eval {r['score']}"
                ),
                flush=True,
            )
    save_raw(
        f"device-check-{re.sub(r'[^A-Za-z0-9_.-]+', '_', args.env)}-{'+'.join(args.devices)}-t{torch.get_num_threads()}",
        prov,
        {
            "env": args.env,
            "gpu": gpu,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "updates": updates,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
