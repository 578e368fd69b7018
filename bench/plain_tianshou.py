"""The hand-written baseline: plain Tianshou 2.0.1 on the original MDP with its default hyper-parameters.

Written as a user would from Tianshou's own ``test/discrete/test_ppo_discrete.py`` and
``test/continuous/test_sac_with_il.py``: PPO for discrete actions, SAC for continuous ones, the
library's default arguments (``PPO``/``SAC`` constructors, ``AdamOptimizerFactory()``, trainer
defaults for collection and batch sizes), [64, 64] networks, 10 training envs, and the same env-step
budget as the Agent² run it is compared with, and ``save_best_fn`` keeping the best-test policy as
Tianshou's examples do. Prints one JSON line: score (mean of N deterministic episodes of the best
test policy, original reward, played one episode per env and round like Agent²'s evaluation, so the
two scores are measured alike: Tianshou's own collector would count more of the envs whose episodes
end sooner, the falls in a MuJoCo walker; see ``tools/collector.py``), wall time, the time in env
steps and updates, and the test curve (each test's mean return).

    python bench/plain_tianshou.py --env CartPole-v1 --budget-steps 100000 --seed 0 [--folder DIR]

``--folder DIR`` makes the run resumable the way Tianshou's examples resume (``resume_from_log`` and a
logger's ``save_data``/``restore_data``): at the end of each epoch the algorithm with its optimisers,
the replay buffer, the test curve, the best-test policy and the random states are written to
``DIR/checkpoint.pt`` (atomically, the previous one kept), and a run started again with the same
folder continues from there instead of starting over (a MuJoCo baseline at 300k steps takes ~2 h
here). A resumed run re-tests the policy it resumed with and keeps the best policy of every sitting.
A finished run writes a last checkpoint after its last test; called again, it only evaluates (``suite.py
--rescore``). An older finished run's checkpoint (no ``last_tested``) precedes the last test, which is
then played again before the evaluation.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from tianshou.algorithm import PPO, SAC
from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy
from tianshou.algorithm.modelfree.sac import SACPolicy
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.data import Collector, CollectStats, VectorReplayBuffer
from tianshou.env import DummyVectorEnv
from tianshou.trainer import OffPolicyTrainerParams, OnPolicyTrainerParams
from tianshou.utils.logger.logger_base import LazyLogger
from tianshou.utils.net.common import Net
from tianshou.utils.net.continuous import ContinuousActorProbabilistic, ContinuousCritic
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.buffers import stats_buffer
from tools.checkpoint_io import load_checkpoint, save_atomic
from tools.collector import EpisodeLengthCollector
from tools.train_worker import algorithm_state, children_detached, load_algorithm_state, rng_state, set_rng_state

CHECKPOINT = "checkpoint.pt"
KEPT = ("curve", "best", "best_score")
"""What a checkpoint carries of the run's own record, beside the algorithm, buffer and counters."""


class CheckpointLogger(LazyLogger):
    """Tianshou calls ``save_data`` at the end of every epoch (before that epoch's test) and
    ``restore_data`` on ``resume_from_log``; each test's mean return goes to ``seen["curve"]``."""

    def __init__(self, seen: dict, save, restored: dict | None):
        super().__init__()
        self.seen, self.save, self.restored = seen, save, restored

    def log_test_data(self, log_data: dict, step: int) -> None:
        self.seen["last"] = float(log_data["returns_stat"]["mean"])
        self.seen["curve"].append([int(step), self.seen["last"]])

    def log_info_data(self, log_data: dict, step: int) -> None:
        self.seen["update"] = float(log_data["timing"]["train_time_update"])  # this sitting's, to the last epoch

    def save_data(self, epoch: int, env_step: int, update_step: int, save_checkpoint_fn=None) -> None:
        self.seen["env_step"] = env_step  # the trainer's count over every sitting (a collector's is this one's)
        self.seen["update_step"] = update_step
        self.save(epoch, env_step, update_step)

    def restore_data(self) -> tuple[int, int, int]:
        c = self.restored or {}
        return c.get("epoch", 0), c.get("env_step", 0), c.get("update_step", 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True)
    ap.add_argument("--budget-steps", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument("--folder", type=Path, help="where the run keeps its checkpoint; called again, it continues")
    args = ap.parse_args()
    torch.set_num_threads(1)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    env = gym.make(args.env)
    obs_dim = env.observation_space.shape
    train_envs = DummyVectorEnv([lambda: gym.make(args.env) for _ in range(10)])
    test_envs = DummyVectorEnv([lambda: gym.make(args.env) for _ in range(10)])
    train_envs.seed(args.seed)
    test_envs.seed(args.seed + 100)
    start = time.perf_counter()
    seen = {"curve": [], "best": None, "best_score": -float("inf"), "last": None}

    def save_best_fn(algorithm) -> None:
        # Tianshou calls it on a new best test, and forced on the first test of a sitting: a resumed
        # run's first test must not replace an earlier sitting's better policy
        if seen["last"] is not None and seen["last"] > seen["best_score"]:
            seen["best_score"], seen["best"] = seen["last"], copy.deepcopy(algorithm.state_dict())

    hooks = dict(save_best_fn=save_best_fn)
    epoch_steps = max(1000, args.budget_steps // 10)
    epochs = max(1, args.budget_steps // epoch_steps)
    if isinstance(env.action_space, gym.spaces.Discrete):
        actor = DiscreteActor(
            preprocess_net=Net(state_shape=obs_dim, hidden_sizes=[64, 64]),
            action_shape=env.action_space.n,
            softmax_output=False,
        )
        critic = DiscreteCritic(preprocess_net=Net(state_shape=obs_dim, hidden_sizes=[64, 64]))
        policy = DiscreteActorPolicy(actor=actor, action_space=env.action_space, deterministic_eval=True)
        algorithm = PPO(policy=policy, critic=critic, optim=AdamOptimizerFactory())
        buf = VectorReplayBuffer(20000, len(train_envs))
        params = OnPolicyTrainerParams(
            training_collector=Collector[CollectStats](algorithm, train_envs, buf),
            test_collector=Collector[CollectStats](algorithm, test_envs),
            max_epochs=epochs,
            epoch_num_steps=epoch_steps,
            test_step_num_episodes=10,
            verbose=False,
            show_progress=False,
            **hooks,
        )
    else:
        actor = ContinuousActorProbabilistic(
            preprocess_net=Net(state_shape=obs_dim, hidden_sizes=[64, 64]),
            action_shape=env.action_space.shape,
            unbounded=True,
        )
        critics = [
            ContinuousCritic(
                preprocess_net=Net(
                    state_shape=obs_dim, action_shape=env.action_space.shape, hidden_sizes=[64, 64], concat=True
                )
            )
            for _ in range(2)
        ]
        policy = SACPolicy(actor=actor, action_space=env.action_space)
        algorithm = SAC(
            policy=policy,
            policy_optim=AdamOptimizerFactory(),
            critic=critics[0],
            critic_optim=AdamOptimizerFactory(),
            critic2=critics[1],
            critic2_optim=AdamOptimizerFactory(),
        )
        buf = VectorReplayBuffer(min(args.budget_steps, 1_000_000), len(train_envs))
        params = OffPolicyTrainerParams(
            training_collector=Collector[CollectStats](algorithm, train_envs, buf, exploration_noise=True),
            test_collector=Collector[CollectStats](algorithm, test_envs),
            max_epochs=epochs,
            epoch_num_steps=epoch_steps,
            test_step_num_episodes=10,
            verbose=False,
            show_progress=False,
            **hooks,
        )
    checkpoint = args.folder / CHECKPOINT if args.folder else None
    restored = load_checkpoint(checkpoint) if checkpoint else None
    before = {"wall": 0.0, "update": 0.0}
    if restored is not None:
        load_algorithm_state(algorithm, restored)
        if "buffer" in restored:
            buf = restored["buffer"]
            buf._set_batch_for_children()
            params.training_collector = Collector[CollectStats](algorithm, train_envs, buf, exploration_noise=True)
        seen.update({k: restored[k] for k in KEPT})
        before = restored["sittings"]
        set_rng_state(restored["rng"])
        print(f"resuming from {checkpoint} at env step {restored['env_step']}", file=sys.stderr)

    def save(epoch: int, env_step: int, update_step: int) -> None:
        if checkpoint is None:
            return
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        state = {
            **algorithm_state(algorithm),
            **{k: seen[k] for k in KEPT},
            "last_tested": seen.get("last_tested", False),
            "epoch": epoch,
            "env_step": env_step,
            "update_step": update_step,
            "rng": rng_state(),
            "sittings": {
                "wall": before["wall"] + time.perf_counter() - start,
                "update": before["update"] + seen.get("update", 0.0),
            },
        }
        buffer = params.training_collector.buffer if isinstance(params, OffPolicyTrainerParams) else None
        if buffer is not None:  # an on-policy buffer is emptied after every collection: nothing to keep
            state["buffer"] = buffer
        with children_detached(buffer):
            save_atomic(state, checkpoint)

    params.logger = CheckpointLogger(seen, save, restored)
    params.resume_from_log = restored is not None
    if restored is not None and restored["epoch"] >= epochs:
        env_steps, update_seconds = restored["env_step"], 0.0  # it had finished training when it stopped
        if not restored.get("last_tested"):
            # a checkpoint without "last_tested" (written before this key was) is the last epoch's end,
            # which comes before its test: test the final policy now (a fresh draw of the test envs)
            params.test_collector.reset()
            last = params.test_collector.collect(n_episode=10)
            params.logger.log_test_data({"returns_stat": {"mean": float(np.mean(last.returns))}}, env_steps)
            save_best_fn(algorithm)
    else:
        info = algorithm.run_training(params)
        env_steps, update_seconds = seen["env_step"], float(info.timing.train_time_update)
    seen["last_tested"] = True  # the checkpoint after the last test: called again, it only evaluates
    save(epochs, env_steps, seen.get("update_step", restored["update_step"] if restored else 0))
    if seen["best"] is not None:
        algorithm.load_state_dict(seen["best"])
    collector = EpisodeLengthCollector(algorithm, test_envs, stats_buffer(len(test_envs)))
    collector.reset()
    stats = collector.collect(n_episode=args.eval_episodes)
    wall = before["wall"] + time.perf_counter() - start
    print(
        json.dumps(
            {
                "env": args.env,
                "budget_steps": args.budget_steps,
                "seed": args.seed,
                "env_steps": env_steps,
                "score": float(np.mean(stats.returns)),
                "score_std": float(np.std(stats.returns)),
                "returns": [float(r) for r in stats.returns],
                "wall_seconds": wall,
                "update_seconds": before["update"] + update_seconds,
                "curve": seen["curve"],
                # positions in "curve": Tianshou's test before training
                "untrained_tests": [i for i, (step, _) in enumerate(seen["curve"]) if step == 0],
                **({"resumed_at": restored["env_step"]} if restored is not None else {}),
                "contender": "manual",
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
