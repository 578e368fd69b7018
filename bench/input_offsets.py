"""How far off-centre each env's observations are, from the random-play profile the expert reads:
the offset share (the inputs' squared means over squared means + variances: 1 when every input is
the same in every state) and the summed |mean| (how far one Adam step moves a ReLU unit fed by
all-positive inputs, per unit of learning rate). See ``tools/dead_units.py``.

    python bench/input_offsets.py [ENV ...] [--record NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import provenance, save_raw
from tools.profiling import profile_env

DEFAULT_ENVS = (
    "CartPole-v1",
    "Acrobot-v1",
    "Pendulum-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "LunarLander-v3",
    "Hopper-v5",
    "Walker2d-v5",
    "HalfCheetah-v5",
    "Ant-v5",
    "Humanoid-v5",
    "Taxi-v4",
    "bench/generality_envs.py:make_minatar_breakout",
    "MetaDriveEnv",
)


def offsets(env: str) -> dict:
    p = profile_env(env)
    mean, std = np.array(p.obs_mean), np.array(p.obs_std)
    energy = float((mean**2).sum())
    return {
        "env": env,
        "inputs": len(mean),
        "offset_share": energy / max(energy + float((std**2).sum()), 1e-12),
        "sum_abs_mean": float(np.abs(mean).sum()),
        "mean_std": float(std.mean()),
        "still_inputs": int((std <= 1e-6).sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("envs", nargs="*", default=list(DEFAULT_ENVS))
    ap.add_argument("--record", metavar="NAME", help="also write bench/results/NAME-<commit>.json")
    args = ap.parse_args()
    prov = provenance()
    rows = []
    for env in args.envs:
        try:
            rows.append(offsets(env))
        except Exception as e:  # an env whose package is missing is reported, not skipped silently
            rows.append({"env": env, "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"})
        print(json.dumps(rows[-1]), flush=True)
    if args.record:
        save_raw(args.record, prov, {"envs": rows})


if __name__ == "__main__":
    main()
