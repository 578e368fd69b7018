"""The hand-written baseline: plain Tianshou 2.0.1 on the original MDP with its default hyper-parameters.

Written as a user would from Tianshou's own ``test/discrete/test_ppo_discrete.py`` and
``test/continuous/test_sac_with_il.py``: PPO for discrete actions, SAC for continuous ones, the
library's default arguments (``PPO``/``SAC`` constructors, ``AdamOptimizerFactory()``, trainer
defaults for collection and batch sizes), [64, 64] networks, 10 training envs, and the same env-step
budget as the Agent² run it is compared with, and ``save_best_fn`` keeping the best-test policy as
Tianshou's examples do. Prints one JSON line: score (mean of N deterministic episodes of the best
test policy, original reward), wall time, the time in env steps and updates, and the test curve.

    python bench/plain_tianshou.py --env CartPole-v1 --budget-steps 100000 --seed 0
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import time

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
from tianshou.utils.net.common import Net
from tianshou.utils.net.continuous import ContinuousActorProbabilistic, ContinuousCritic
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True)
    ap.add_argument("--budget-steps", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-episodes", type=int, default=20)
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
    curve: list[list[float]] = []
    seen = {"env_step": 0, "best": None}

    def test_fn(epoch: int, env_step: int | None) -> None:
        seen["env_step"] = env_step or 0

    def stop_fn(mean: float) -> bool:  # called after each test: record it, never stop early
        curve.append([seen["env_step"], float(mean)])
        return False

    def save_best_fn(algorithm) -> None:
        seen["best"] = copy.deepcopy(algorithm.state_dict())

    hooks = dict(test_fn=test_fn, stop_fn=stop_fn, save_best_fn=save_best_fn)
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
    info = algorithm.run_training(params)
    if seen["best"] is not None:
        algorithm.load_state_dict(seen["best"])
    collector = Collector[CollectStats](algorithm, test_envs)
    collector.reset()
    stats = collector.collect(n_episode=args.eval_episodes)
    wall = time.perf_counter() - start
    print(
        json.dumps(
            {
                "env": args.env,
                "budget_steps": args.budget_steps,
                "seed": args.seed,
                "env_steps": int(info.train_step),
                "score": float(np.mean(stats.returns)),
                "score_std": float(np.std(stats.returns)),
                "wall_seconds": wall,
                "update_seconds": float(info.timing.train_time_update),
                "curve": curve,
                "contender": "manual",
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
