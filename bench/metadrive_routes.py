"""How much return MetaDrive can pay: the route length of each scenario Agent²'s MetaDrive drives.

    python bench/metadrive_routes.py [--scenarios 10]

MetaDrive pays ``driving_reward`` per metre of progress along the route, a small speed term each
step, ``success_reward`` on arrival and a penalty on a crash or on leaving the road. So a run's
return is roughly its route completion times the route length, and a target return reads as a
share of the mean route. Writes bench/results/metadrive-routes-<commit>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import provenance, save_raw
from envs.metadrive_env import make_metadrive

REWARD_KEYS = ("driving_reward", "speed_reward", "success_reward", "out_of_road_penalty", "crash_vehicle_penalty")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=10, help="the maps Agent²'s MetaDriveEnv draws from")
    args = ap.parse_args()
    prov = provenance()
    env = make_metadrive(num_scenarios=args.scenarios)
    try:
        lengths = []
        for seed in range(args.scenarios):
            env.reset(seed=seed)
            lengths.append(float(env.env.agent.navigation.total_length))
        config = {key: env.env.config[key] for key in REWARD_KEYS}
    finally:
        env.close()
    mean = sum(lengths) / len(lengths)
    print(f"route lengths (m): {' '.join(f'{x:.0f}' for x in lengths)}; mean {mean:.1f}")
    print("reward terms: " + ", ".join(f"{k} {v}" for k, v in config.items()))
    save_raw("metadrive-routes", prov, {"route_lengths": lengths, "mean_route_length": mean, "reward_config": config})


if __name__ == "__main__":
    main()
