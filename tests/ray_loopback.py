"""A real two-node Ray cluster on the loopback only, for the Ray executor's test.

    bwrap --dev-bind / / --unshare-net python tests/ray_loopback.py RAY_TMP -- CMD [ARGS...]

Run inside a network namespace of its own (bubblewrap's ``--unshare-net``: nothing but ``lo``), so
every Ray process can only listen on and reach 127.0.0.1. Starts a head node and one worker node
(one CPU each), waits until both are alive, runs CMD with ``RAY_ADDRESS`` set, stops the cluster
and exits with CMD's status.

    python tests/ray_loopback.py --ship-check FOLDER

Trains one tiny candidate with ``RayExecutor(ship=True)`` on the cluster at ``$RAY_ADDRESS``: its
folder travels to the task and back, as on a node without the driver's file system.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDRESS = "127.0.0.1:6379"


def _ray(*args: str) -> None:
    subprocess.run(
        [str(Path(sys.executable).parent / "ray"), *args],
        check=True,
        timeout=180,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def cluster_run(tmp: str, cmd: list[str]) -> int:
    os.environ.update(RAY_TMPDIR=tmp, RAY_USAGE_STATS_ENABLED="0", RAY_ADDRESS=ADDRESS)
    Path(tmp).mkdir(parents=True, exist_ok=True)
    try:
        _ray(
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            "--port=6379",
            "--num-cpus=1",
            "--include-dashboard=false",
            "--disable-usage-stats",
        )
        _ray("start", f"--address={ADDRESS}", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats")
        import ray

        ray.init(address=ADDRESS, log_to_driver=False)
        deadline = time.monotonic() + 60
        while sum(n["Alive"] for n in ray.nodes()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        alive = sum(n["Alive"] for n in ray.nodes())
        ray.shutdown()
        if alive < 2:
            print(f"ray_loopback: {alive} node(s) alive, wanted 2", file=sys.stderr)
            return 2
        return subprocess.run(cmd, cwd=ROOT).returncode
    finally:
        subprocess.run(
            [str(Path(sys.executable).parent / "ray"), "stop", "--force"],
            timeout=120,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def ship_check(folder: Path) -> int:
    sys.path.insert(0, str(ROOT))
    import ray
    from conftest import IDENTITY_MDP

    from tools.executors import RayExecutor
    from tools.schemas import AlgoConfig, MDPDesign, TrainJob

    mdp = MDPDesign(code=IDENTITY_MDP, obs_dim=4, summary="raw obs")
    job = TrainJob(
        env="CartPole-v1",
        mdp=mdp,
        seed=0,
        algo=AlgoConfig(algorithm="PPO", budget_steps=2048, epoch_steps=1024, collect_steps=1024),
    )
    try:
        train, ev = RayExecutor(os.environ["RAY_ADDRESS"], ship=True).run(job, folder, 2)
    finally:
        ray.shutdown()
    problems = []
    if train.stop_reason == "crash" or ev.mean is None:
        problems.append(f"training failed: {train.error or ev.error}")
    if train.iter_dir != str(folder):
        problems.append(f"result names {train.iter_dir}, not the run folder")
    for name in ("train_result.json", "best_policy.pt", "checkpoint.pt", "progress.jsonl"):
        if not (folder / name).exists():
            problems.append(f"{name} did not come back")
    print("\n".join(problems) or "shipped and back", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if sys.argv[1] == "--ship-check":
        sys.exit(ship_check(Path(sys.argv[2])))
    split = sys.argv.index("--")
    sys.exit(cluster_run(sys.argv[1], sys.argv[split + 1 :]))
