"""Cost of the replay buffer's null check that Tianshou 2.0.1's trainer runs after every collection.

    python bench/buffer_check.py [--sizes 10000 100000 300000] [--obs-dim 11]

For each buffer fill, the time of one ``hasnull()`` after a 4-step collection (what an off-policy
worker with 4 envs does every 4 env steps): Tianshou's ``VectorReplayBuffer`` (copies and scans the
whole buffer) against ``tools/buffers.py``'s ``CheckedVectorReplayBuffer`` (the 4 new entries).
Prints a Markdown table and writes the raw figures to bench/results/buffer-check-<commit>.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tianshou.data import Batch, VectorReplayBuffer

from bench.common import provenance, save_raw
from tools.buffers import CheckedVectorReplayBuffer

ENVS = 4


def _fill(buf, n: int, obs_dim: int) -> None:
    rng = np.random.default_rng(0)
    for _ in range(n // ENVS):
        buf.add(
            Batch(
                obs=rng.random((ENVS, obs_dim)),
                act=rng.random((ENVS, 3)),
                rew=rng.random(ENVS),
                terminated=np.zeros(ENVS, bool),
                truncated=np.zeros(ENVS, bool),
                obs_next=rng.random((ENVS, obs_dim)),
                info=Batch(),
            )
        )


def _time(buf, obs_dim: int, reps: int = 5) -> float:
    buf.hasnull()
    t = 0.0
    for _ in range(reps):
        _fill(buf, ENVS, obs_dim)
        start = time.perf_counter()
        assert not buf.hasnull()
        t += time.perf_counter() - start
    return 1000 * t / reps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="*", type=int, default=[10_000, 100_000, 300_000])
    ap.add_argument("--obs-dim", type=int, default=11)
    args = ap.parse_args()
    prov = provenance()
    print(
        "| entries in the buffer | Tianshou hasnull (ms) | new entries only (ms) | Tianshou's cost per env step (ms) |"
    )
    print("|---|---|---|---|")
    records = []
    for n in args.sizes:
        rows = []
        for kind in (VectorReplayBuffer, CheckedVectorReplayBuffer):
            buf = kind(n + 100, ENVS)
            _fill(buf, n, args.obs_dim)
            rows.append(_time(buf, args.obs_dim))
        print(f"| {n} | {rows[0]:.1f} | {rows[1]:.2f} | {rows[0] / ENVS:.1f} |", flush=True)
        records.append(
            {
                "entries": n,
                "tianshou_ms": rows[0],
                "new_entries_ms": rows[1],
                "tianshou_ms_per_env_step": rows[0] / ENVS,
            }
        )
    save_raw("buffer-check", prov, {"envs": ENVS, "obs_dim": args.obs_dim, "rows": records})


if __name__ == "__main__":
    main()
