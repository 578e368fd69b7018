"""The algorithm catalog: build a Tianshou 2.x algorithm from an ``AlgoConfig``.

Nothing here trains; ``tools/train_worker.py`` drives Tianshou's own trainers.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from tianshou.algorithm import A2C, DQN, PPO, SAC, TD3, Algorithm
from tianshou.algorithm.modelfree.ddpg import ContinuousDeterministicPolicy
from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy, ProbabilisticActorPolicy
from tianshou.algorithm.modelfree.sac import AutoAlpha, SACPolicy
from tianshou.algorithm.optim import AdamOptimizerFactory, LRSchedulerFactoryLinear
from tianshou.exploration import GaussianNoise
from tianshou.trainer import OffPolicyTrainerParams, OnPolicyTrainerParams
from tianshou.utils.net.common import Net
from tianshou.utils.net.continuous import (
    ContinuousActorDeterministic,
    ContinuousActorProbabilistic,
    ContinuousCritic,
)
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic

from tools.schemas import CONTINUOUS_ALGORITHMS, DISCRETE_ALGORITHMS, AlgoConfig

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


class NoisySACPolicy(SACPolicy):
    """SAC's policy with extra exploration noise kept inside the tanh-squashed range [-1, 1]."""

    def add_exploration_noise(self, act, batch):  # type: ignore[override]
        act = super().add_exploration_noise(act, batch)
        return np.clip(act, -1.0, 1.0) if isinstance(act, np.ndarray) else act


def check_compatible(cfg: AlgoConfig, action_space: gym.Space) -> None:
    discrete = isinstance(action_space, gym.spaces.Discrete)
    allowed = DISCRETE_ALGORITHMS if discrete else CONTINUOUS_ALGORITHMS
    if cfg.algorithm not in allowed:
        kind = "discrete" if discrete else "continuous"
        raise ValueError(f"algorithm {cfg.algorithm!r} does not take {kind} actions; choose one of {allowed}")


def epochs_for(cfg: AlgoConfig) -> int:
    return max(1, math.ceil(cfg.budget_steps / cfg.epoch_steps))


def _normal(loc_scale: tuple[torch.Tensor, torch.Tensor]) -> Distribution:
    loc, scale = loc_scale
    return Independent(Normal(loc, scale), 1)


def _orthogonal_init(*modules: nn.Module) -> None:
    for module in modules:
        for m in module.modules():
            if isinstance(m, nn.Linear):
                nn.init.orthogonal_(m.weight, gain=math.sqrt(2))
                nn.init.zeros_(m.bias)


def _optim(cfg: AlgoConfig, with_decay: bool = False) -> AdamOptimizerFactory:
    optim = AdamOptimizerFactory(lr=cfg.lr)
    if with_decay and cfg.lr_decay:
        optim.with_lr_scheduler_factory(
            LRSchedulerFactoryLinear(
                max_epochs=epochs_for(cfg),
                epoch_num_steps=cfg.epoch_steps,
                collection_step_num_env_steps=cfg.collect_steps,
            )
        )
    return optim


def _on_policy(cfg: AlgoConfig, obs_dim: int, action_space: gym.Space) -> Algorithm:
    act = ACTIVATIONS[cfg.activation]
    actor_body = Net(state_shape=obs_dim, hidden_sizes=cfg.hidden_sizes, activation=act)
    critic_body = Net(state_shape=obs_dim, hidden_sizes=cfg.hidden_sizes, activation=act)
    policy: ProbabilisticActorPolicy
    if isinstance(action_space, gym.spaces.Discrete):
        actor = DiscreteActor(preprocess_net=actor_body, action_shape=int(action_space.n),
                              softmax_output=False)
        critic = DiscreteCritic(preprocess_net=critic_body)
        _orthogonal_init(actor, critic)
        policy = DiscreteActorPolicy(actor=actor, action_space=action_space, deterministic_eval=True)
    else:
        actor = ContinuousActorProbabilistic(preprocess_net=actor_body, action_shape=action_space.shape,
                                             unbounded=True)
        critic = ContinuousCritic(preprocess_net=critic_body)
        _orthogonal_init(actor, critic)
        nn.init.constant_(actor.sigma_param, -0.5)
        for m in actor.mu.modules():  # small last layer: initial actions near 0 (Andrychowicz et al. 2020)
            if isinstance(m, nn.Linear):
                m.weight.data.mul_(0.01)
        policy = ProbabilisticActorPolicy(actor=actor, dist_fn=_normal, action_space=action_space,
                                          deterministic_eval=True, action_scaling=True,
                                          action_bound_method="clip")
    common = dict(policy=policy, critic=critic, optim=_optim(cfg, with_decay=True), gamma=cfg.gamma,
                  gae_lambda=cfg.gae_lambda, vf_coef=cfg.vf_coef, ent_coef=cfg.ent_coef,
                  max_grad_norm=cfg.max_grad_norm, return_scaling=cfg.return_scaling)
    if cfg.algorithm == "PPO":
        return PPO(eps_clip=cfg.eps_clip, advantage_normalization=cfg.advantage_normalization, **common)
    return A2C(**common)


def _dqn(cfg: AlgoConfig, obs_dim: int, action_space: gym.spaces.Discrete) -> Algorithm:
    net = Net(state_shape=obs_dim, action_shape=int(action_space.n), hidden_sizes=cfg.hidden_sizes,
              activation=ACTIVATIONS[cfg.activation])
    policy = DiscreteQLearningPolicy(model=net, action_space=action_space,
                                     eps_training=cfg.eps_start, eps_inference=0.0)
    return DQN(policy=policy, optim=_optim(cfg), gamma=cfg.gamma, n_step_return_horizon=cfg.n_step,
               target_update_freq=cfg.target_update_freq)


def _critics(cfg: AlgoConfig, obs_dim: int, action_space: gym.spaces.Box) -> list[ContinuousCritic]:
    return [
        ContinuousCritic(preprocess_net=Net(state_shape=obs_dim, action_shape=action_space.shape,
                                            hidden_sizes=cfg.hidden_sizes, concat=True,
                                            activation=ACTIVATIONS[cfg.activation]))
        for _ in range(2)
    ]


def _sac(cfg: AlgoConfig, obs_dim: int, action_space: gym.spaces.Box) -> Algorithm:
    actor = ContinuousActorProbabilistic(
        preprocess_net=Net(state_shape=obs_dim, hidden_sizes=cfg.hidden_sizes,
                           activation=ACTIVATIONS[cfg.activation]),
        action_shape=action_space.shape, unbounded=True, conditioned_sigma=True)
    c1, c2 = _critics(cfg, obs_dim, action_space)
    alpha: float | AutoAlpha
    if cfg.alpha == "auto":
        alpha = AutoAlpha(target_entropy=-float(np.prod(action_space.shape)), log_alpha=0.0,
                          optim=AdamOptimizerFactory(lr=cfg.lr))
    else:
        alpha = float(cfg.alpha)
    noise = GaussianNoise(sigma=cfg.exploration_noise) if cfg.exploration_noise > 0 else None
    policy = NoisySACPolicy(actor=actor, action_space=action_space, exploration_noise=noise)
    return SAC(policy=policy, policy_optim=_optim(cfg), critic=c1, critic_optim=_optim(cfg),
               critic2=c2, critic2_optim=_optim(cfg), tau=cfg.tau, gamma=cfg.gamma, alpha=alpha,
               n_step_return_horizon=cfg.n_step)


def _td3(cfg: AlgoConfig, obs_dim: int, action_space: gym.spaces.Box) -> Algorithm:
    actor = ContinuousActorDeterministic(
        preprocess_net=Net(state_shape=obs_dim, hidden_sizes=cfg.hidden_sizes,
                           activation=ACTIVATIONS[cfg.activation]),
        action_shape=action_space.shape, max_action=1.0)
    c1, c2 = _critics(cfg, obs_dim, action_space)
    policy = ContinuousDeterministicPolicy(actor=actor, action_space=action_space,
                                           exploration_noise=GaussianNoise(sigma=cfg.exploration_noise))
    return TD3(policy=policy, policy_optim=_optim(cfg), critic=c1, critic_optim=_optim(cfg),
               critic2=c2, critic2_optim=_optim(cfg), tau=cfg.tau, gamma=cfg.gamma,
               policy_noise=cfg.policy_noise, noise_clip=cfg.noise_clip,
               update_actor_freq=cfg.update_actor_freq, n_step_return_horizon=cfg.n_step)


def build_algorithm(cfg: AlgoConfig, obs_dim: int, action_space: gym.Space) -> Algorithm:
    """Build the Tianshou algorithm (policy + learner) the config names."""
    check_compatible(cfg, action_space)
    if cfg.on_policy:
        return _on_policy(cfg, obs_dim, action_space)
    if cfg.algorithm == "DQN":
        return _dqn(cfg, obs_dim, action_space)
    if cfg.algorithm == "SAC":
        return _sac(cfg, obs_dim, action_space)
    return _td3(cfg, obs_dim, action_space)


def trainer_params(cfg: AlgoConfig, **common) -> OnPolicyTrainerParams | OffPolicyTrainerParams:
    """Tianshou trainer parameters for this config; ``common`` holds collectors, hooks and logger."""
    if cfg.on_policy:
        return OnPolicyTrainerParams(
            max_epochs=epochs_for(cfg), epoch_num_steps=cfg.epoch_steps,
            collection_step_num_env_steps=cfg.collect_steps, update_step_num_repetitions=cfg.repeat,
            batch_size=cfg.batch_size, test_step_num_episodes=cfg.test_episodes, **common)
    return OffPolicyTrainerParams(
        max_epochs=epochs_for(cfg), epoch_num_steps=cfg.epoch_steps,
        collection_step_num_env_steps=cfg.n_train_envs,
        update_step_num_gradient_steps_per_sample=cfg.update_per_step,
        batch_size=cfg.batch_size, test_step_num_episodes=cfg.test_episodes, **common)
