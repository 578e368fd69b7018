"""The same algorithm and config an Agent² iteration trained, run as a bare Tianshou script.

    python bench/bare_tianshou.py RUN_DIR/iter_1/job.json

No Agent² worker around it: no MDP wrapper (the raw env), no checkpoints, progress lines, logger,
plateau checks or sandbox; the same Tianshou algorithm (built from the job's ``AlgoConfig``), the
same vector-env sizes, buffer, random start steps, trainer parameters and tests. Prints one JSON
line: env steps, training seconds (``run_training`` only, its first test included), steps/s, the
seconds and env steps its tests took, and the process's peak resident memory.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# isort: off
import tools.numba_cache  # noqa: F401  - before Tianshou, as in the worker: the same compiled-kernel cache

# isort: on
import gymnasium as gym
import numpy as np
import torch
from tianshou.data import Collector, CollectStats, VectorReplayBuffer
from tianshou.env import DummyVectorEnv
from tianshou.utils.torch_utils import policy_within_training_step

from tools.algorithms import build_algorithm, trainer_params
from tools.schemas import TrainJob


class TimedCollector(Collector[CollectStats]):
    """The test collector, adding up its own seconds and steps: Tianshou 2.0's ``Collector.collect``
    never adds to ``collect_time``, so the trainer's ``timing.test_time`` reads 0."""

    seconds = 0.0
    steps = 0

    def collect(self, *args, **kwargs) -> CollectStats:  # type: ignore[override]
        stats = super().collect(*args, **kwargs)
        self.seconds += stats.collect_time
        self.steps += stats.n_collected_steps
        return stats


def main() -> None:
    job = TrainJob.model_validate_json(Path(sys.argv[1]).read_text())
    cfg = job.algo
    torch.set_num_threads(1)
    np.random.seed(job.seed)
    torch.manual_seed(job.seed)
    train_envs = DummyVectorEnv([lambda: gym.make(job.env) for _ in range(cfg.n_train_envs)])
    test_envs = DummyVectorEnv([lambda: gym.make(job.env) for _ in range(cfg.n_test_envs)])
    train_envs.seed(job.seed)
    test_envs.seed(job.seed + 10_000)
    probe = gym.make(job.env)
    algorithm = build_algorithm(cfg, int(np.prod(probe.observation_space.shape)), probe.action_space)
    size = max(cfg.collect_steps, cfg.n_train_envs) if cfg.on_policy else cfg.buffer_size
    training = Collector[CollectStats](
        algorithm, train_envs, VectorReplayBuffer(size, cfg.n_train_envs), exploration_noise=True
    )
    test = TimedCollector(algorithm, test_envs)
    start = time.perf_counter()
    pre = 0
    if not cfg.on_policy and cfg.start_steps > 0:
        with policy_within_training_step(algorithm.policy):
            training.reset()
            pre = training.collect(n_step=cfg.start_steps, random=True).n_collected_steps
    info = algorithm.run_training(
        trainer_params(cfg, training_collector=training, test_collector=test, verbose=False, show_progress=False)
    )
    seconds = time.perf_counter() - start
    steps = int(info.train_step) + pre
    print(
        json.dumps(
            {
                "env": job.env,
                "algorithm": cfg.algorithm,
                "env_steps": steps,
                "train_seconds": seconds,
                "steps_per_second": steps / seconds,
                "test_seconds": test.seconds,
                "test_steps": test.steps,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
