"""The algorithm catalog: build a Tianshou 2.x algorithm from an ``AlgoConfig``.

Nothing here trains; ``tools/train_worker.py`` drives Tianshou's own trainers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from tianshou.algorithm import A2C, DQN, PPO, SAC, TD3, Algorithm
from tianshou.algorithm.modelfree.ddpg import ContinuousDeterministicPolicy
from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy, ProbabilisticActorPolicy
from tianshou.algorithm.modelfree.sac import AutoAlpha, SACPolicy
from tianshou.algorithm.optim import AdamOptimizerFactory, LRSchedulerFactoryLinear
from tianshou.exploration import GaussianNoise
from tianshou.trainer import OffPolicyTrainerParams, OnPolicyTrainerParams
from tianshou.utils.net.common import MLP, ModuleWithVectorOutput, Net
from tianshou.utils.net.continuous import ContinuousActorDeterministic, ContinuousActorProbabilistic, ContinuousCritic
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from envs.multiagent import AgentLayout
from envs.spaces import joint_table
from tools.networks import RECURRENT_CELLS, HistoryRecurrentEncoder, ImageVectorEncoder
from tools.schemas import CONTINUOUS_ALGORITHMS, DISCRETE_ALGORITHMS, MULTI_AGENT_ALGORITHMS, AlgoConfig, ImageSlice

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


class NoisySACPolicy(SACPolicy):
    """SAC's policy with extra exploration noise kept inside the tanh-squashed range [-1, 1]."""

    def add_exploration_noise(self, act, batch):  # type: ignore[override]
        act = super().add_exploration_noise(act, batch)
        return np.clip(act, -1.0, 1.0) if isinstance(act, np.ndarray) else act


class AgentView(ModuleWithVectorOutput):
    """The body of a multi-agent actor or critic: reads its part of a slot observation.

    A slot observation is ``[own | agent one-hot | state | mask]`` (``envs/multiagent.py``; the own
    part holds the agent's last ``history`` observations). ``part``: ``"local"`` reads own + one-hot
    (one network for all agents, told apart by the one-hot), ``"central"`` reads the state + one-hot
    (MAPPO's centralised critic). With ``independent`` every agent has its own network on its own
    observation and each sample trains only its agent's network (independent PPO). ``encoder``
    ``"gru"``/``"lstm"``: a local part holding several observations is read by a recurrent layer in
    order (``HistoryRecurrentEncoder``, the one-hot beside its output) instead of the MLP alone.
    """

    def __init__(
        self,
        layout: AgentLayout,
        part: str,
        hidden_sizes: list[int],
        activation: type[nn.Module],
        independent: bool = False,
        norm_layer: type[nn.Module] | None = None,
        encoder: str = "mlp",
    ):
        if part not in ("local", "central"):
            raise ValueError(f"part must be 'local' or 'central', got {part!r}")
        self.layout, self.part, self.independent = layout, part, independent
        tag = 0 if independent else layout.n_agents
        nets: list[ModuleWithVectorOutput]
        if part == "local" and encoder in RECURRENT_CELLS and layout.history > 1:
            nets = [
                HistoryRecurrentEncoder(
                    layout.obs_dim, layout.history, encoder, hidden_sizes, activation, norm_layer, extra_dim=tag
                )
                for _ in range(layout.n_agents if independent else 1)
            ]
        else:
            in_dim = (layout.own_dim if part == "local" else layout.state_dim) + tag
            nets = [
                MLP(input_dim=in_dim, hidden_sizes=hidden_sizes, activation=activation, norm_layer=norm_layer)
                for _ in range(layout.n_agents if independent else 1)
            ]
        super().__init__(nets[0].output_dim)
        self.nets = nn.ModuleList(nets)

    def forward(self, obs, state=None, info=None):
        x = torch.as_tensor(obs, dtype=torch.float32, device=next(self.parameters()).device)
        d, n = self.layout.own_dim, self.layout.n_agents
        own, onehot, world = x[:, :d], x[:, d : d + n], x[:, d + n : d + n + self.layout.state_dim]
        body = own if self.part == "local" else world

        def run(net: nn.Module, inp: torch.Tensor) -> torch.Tensor:
            out = net(inp)
            return out[0] if isinstance(out, tuple) else out  # an encoder returns (features, state)

        if not self.independent:
            return run(self.nets[0], torch.cat([body, onehot], dim=1)), state
        outs = torch.stack([run(net, body) for net in self.nets], dim=1)
        return outs[torch.arange(x.shape[0]), onehot.argmax(dim=1)], state


class MaskedDiscreteActor(DiscreteActor):
    """A discrete actor whose unavailable actions (the slot observation's mask part) get no
    probability: their logits become -1e9 before the distribution and the greedy choice."""

    def __init__(self, *args, layout: AgentLayout, **kwargs):
        super().__init__(*args, **kwargs)
        self.layout = layout

    def forward(self, obs, state=None, info=None):
        logits, hidden = super().forward(obs, state, info)
        mask = torch.as_tensor(obs, dtype=torch.float32, device=logits.device)[:, -self.layout.mask_dim :]
        return logits.masked_fill(mask < 0.5, -1e9), hidden


class FactoredDiscreteActor(DiscreteActor):
    """A policy over a joint action (``JointDiscrete``: every combination of a MultiDiscrete's parts)
    that is a product of one choice per part, as Stable-Baselines3's MultiCategorical: the body
    gives one logit per value of each part, and a combination's logit is the sum of its parts'
    (``sum(nvec)`` outputs instead of ``prod(nvec)``, each part's credit learned on its own)."""

    def __init__(self, *, preprocess_net: ModuleWithVectorOutput, nvec: tuple[int, ...]):
        super().__init__(preprocess_net=preprocess_net, action_shape=int(sum(nvec)), softmax_output=False)
        table = joint_table(nvec)
        combine = np.zeros((len(table), int(sum(nvec))), dtype=np.float32)
        offsets = np.cumsum([0, *nvec[:-1]])
        combine[np.arange(len(table))[:, None], table + offsets] = 1.0
        self.register_buffer("combine", torch.as_tensor(combine), persistent=False)

    def forward(self, obs, state=None, info=None):
        logits, hidden = super().forward(obs, state, info)
        return logits @ self.combine.T, hidden


@dataclass(frozen=True)
class Inputs:
    """What the networks read: ``dim`` values, ``history`` frames of ``dim // history`` each, with
    ``images`` inside every frame (read by convolutions when the config's encoder is ``cnn``)."""

    dim: int
    images: tuple[ImageSlice, ...] = ()
    history: int = 1

    def conv(self, cfg: AlgoConfig) -> bool:
        return cfg.encoder == "cnn" and bool(self.images)


def _net(cfg: AlgoConfig, inp: Inputs, **kwargs) -> ModuleWithVectorOutput:
    """The body: Tianshou's MLP with the config's hidden sizes, activation and (optional) layer norm;
    or (``encoder="cnn"``) convolutions over the images beside it; or (``encoder="gru"``/``"lstm"``)
    a recurrent layer over the observation history. ``action_shape`` and ``concat`` mean what they
    mean for Tianshou's ``Net`` (a Q head; a critic reading the action too)."""
    norm = nn.LayerNorm if cfg.layer_norm else None
    recurrent = cfg.encoder in RECURRENT_CELLS
    if not inp.conv(cfg) and not recurrent:
        return Net(
            state_shape=inp.dim,
            hidden_sizes=cfg.hidden_sizes,
            activation=ACTIVATIONS[cfg.activation],
            norm_layer=norm,
            **kwargs,
        )
    extra = int(np.prod(kwargs["action_shape"])) if kwargs.get("concat") else 0
    body: ModuleWithVectorOutput
    if recurrent:
        body = HistoryRecurrentEncoder(
            inp.dim // inp.history,
            inp.history,
            cfg.encoder,
            cfg.hidden_sizes,
            ACTIVATIONS[cfg.activation],
            norm,
            extra_dim=extra,
        )
    else:
        body = ImageVectorEncoder(
            inp.dim // inp.history,
            inp.history,
            list(inp.images),
            cfg.hidden_sizes,
            ACTIVATIONS[cfg.activation],
            norm,
            extra_dim=extra,
        )
    if "action_shape" in kwargs and not kwargs.get("concat"):  # a Q-network: one value per action
        return DiscreteActor(preprocess_net=body, action_shape=kwargs["action_shape"], softmax_output=False)
    return body


def check_compatible(cfg: AlgoConfig, action_space: gym.Space, layout: AgentLayout | None = None) -> None:
    if layout is not None:
        if cfg.algorithm not in MULTI_AGENT_ALGORITHMS:
            raise ValueError(
                f"algorithm {cfg.algorithm!r} is single-agent; a multi-agent env takes one of {MULTI_AGENT_ALGORITHMS}"
            )
        return
    if cfg.algorithm in ("MAPPO", "IPPO"):
        raise ValueError(f"algorithm {cfg.algorithm!r} needs a multi-agent env; this env has one agent")
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


def _on_policy(cfg: AlgoConfig, inp: Inputs, action_space: gym.Space, layout: AgentLayout | None) -> Algorithm:
    act = ACTIVATIONS[cfg.activation]
    actor_body: ModuleWithVectorOutput
    critic_body: ModuleWithVectorOutput
    if layout is None:
        actor_body = _net(cfg, inp)
        critic_body = _net(cfg, inp)
    else:
        independent = cfg.algorithm == "IPPO"
        norm = nn.LayerNorm if cfg.layer_norm else None
        actor_body = AgentView(layout, "local", cfg.hidden_sizes, act, independent, norm, cfg.encoder)
        critic_body = AgentView(
            layout, "central" if cfg.algorithm == "MAPPO" else "local", cfg.hidden_sizes, act, independent, norm
        )
    policy: ProbabilisticActorPolicy
    if isinstance(action_space, gym.spaces.Discrete):
        if layout is not None and layout.mask_dim:
            actor = MaskedDiscreteActor(
                preprocess_net=actor_body, action_shape=int(action_space.n), softmax_output=False, layout=layout
            )
        elif getattr(action_space, "nvec", None):  # a MultiDiscrete's combinations: one choice per part
            actor = FactoredDiscreteActor(preprocess_net=actor_body, nvec=action_space.nvec)
        else:
            actor = DiscreteActor(preprocess_net=actor_body, action_shape=int(action_space.n), softmax_output=False)
        critic = DiscreteCritic(preprocess_net=critic_body)
        _orthogonal_init(actor, critic)
        policy = DiscreteActorPolicy(actor=actor, action_space=action_space, deterministic_eval=True)
    else:
        actor = ContinuousActorProbabilistic(preprocess_net=actor_body, action_shape=action_space.shape, unbounded=True)
        critic = ContinuousCritic(preprocess_net=critic_body)
        _orthogonal_init(actor, critic)
        nn.init.constant_(actor.sigma_param, -0.5)
        for m in actor.mu.modules():  # small last layer: initial actions near 0 (Andrychowicz et al. 2020)
            if isinstance(m, nn.Linear):
                m.weight.data.mul_(0.01)
        policy = ProbabilisticActorPolicy(
            actor=actor,
            dist_fn=_normal,
            action_space=action_space,
            deterministic_eval=True,
            action_scaling=True,
            action_bound_method="clip",
        )
    common = dict(
        policy=policy,
        critic=critic,
        optim=_optim(cfg, with_decay=True),
        gamma=cfg.gamma,
        gae_lambda=cfg.gae_lambda,
        vf_coef=cfg.vf_coef,
        ent_coef=cfg.ent_coef,
        max_grad_norm=cfg.max_grad_norm,
        return_scaling=cfg.return_scaling,
    )
    if cfg.algorithm in ("PPO", "MAPPO", "IPPO"):
        return PPO(eps_clip=cfg.eps_clip, advantage_normalization=cfg.advantage_normalization, **common)
    return A2C(**common)


def _dqn(cfg: AlgoConfig, inp: Inputs, action_space: gym.spaces.Discrete) -> Algorithm:
    net = _net(cfg, inp, action_shape=int(action_space.n))
    policy = DiscreteQLearningPolicy(
        model=net, action_space=action_space, eps_training=cfg.eps_start, eps_inference=0.0
    )
    return DQN(
        policy=policy,
        optim=_optim(cfg),
        gamma=cfg.gamma,
        n_step_return_horizon=cfg.n_step,
        target_update_freq=cfg.target_update_freq,
    )


def _critics(cfg: AlgoConfig, inp: Inputs, action_space: gym.spaces.Box) -> list[ContinuousCritic]:
    return [
        ContinuousCritic(preprocess_net=_net(cfg, inp, action_shape=action_space.shape, concat=True)) for _ in range(2)
    ]


def _sac(cfg: AlgoConfig, inp: Inputs, action_space: gym.spaces.Box) -> Algorithm:
    actor = ContinuousActorProbabilistic(
        preprocess_net=_net(cfg, inp), action_shape=action_space.shape, unbounded=True, conditioned_sigma=True
    )
    c1, c2 = _critics(cfg, inp, action_space)
    alpha: float | AutoAlpha
    if cfg.alpha == "auto":
        alpha = AutoAlpha(
            target_entropy=-float(np.prod(action_space.shape)), log_alpha=0.0, optim=AdamOptimizerFactory(lr=cfg.lr)
        )
    else:
        alpha = float(cfg.alpha)
    noise = GaussianNoise(sigma=cfg.exploration_noise) if cfg.exploration_noise > 0 else None
    policy = NoisySACPolicy(actor=actor, action_space=action_space, exploration_noise=noise)
    return SAC(
        policy=policy,
        policy_optim=_optim(cfg),
        critic=c1,
        critic_optim=_optim(cfg),
        critic2=c2,
        critic2_optim=_optim(cfg),
        tau=cfg.tau,
        gamma=cfg.gamma,
        alpha=alpha,
        n_step_return_horizon=cfg.n_step,
    )


def _td3(cfg: AlgoConfig, inp: Inputs, action_space: gym.spaces.Box) -> Algorithm:
    actor = ContinuousActorDeterministic(preprocess_net=_net(cfg, inp), action_shape=action_space.shape, max_action=1.0)
    c1, c2 = _critics(cfg, inp, action_space)
    policy = ContinuousDeterministicPolicy(
        actor=actor, action_space=action_space, exploration_noise=GaussianNoise(sigma=cfg.exploration_noise)
    )
    return TD3(
        policy=policy,
        policy_optim=_optim(cfg),
        critic=c1,
        critic_optim=_optim(cfg),
        critic2=c2,
        critic2_optim=_optim(cfg),
        tau=cfg.tau,
        gamma=cfg.gamma,
        policy_noise=cfg.policy_noise,
        noise_clip=cfg.noise_clip,
        update_actor_freq=cfg.update_actor_freq,
        n_step_return_horizon=cfg.n_step,
    )


def build_algorithm(
    cfg: AlgoConfig,
    obs_dim: int,
    action_space: gym.Space,
    layout: AgentLayout | None = None,
    images: list[ImageSlice] | None = None,
    history: int = 1,
) -> Algorithm:
    """Build the Tianshou algorithm (policy + learner) the config names.

    ``layout`` (multi-agent envs) says how slot observations split; MAPPO, PPO and IPPO then all
    train with Tianshou's PPO over the agent slots, differing only in their networks. ``images``
    and ``history``: the observation's layout (``MDPDesign``), for ``encoder="cnn"`` and the recurrent
    encoders."""
    check_compatible(cfg, action_space, layout)
    inp = Inputs(obs_dim, tuple(images or ()), history)
    if cfg.on_policy:
        return _on_policy(cfg, inp, action_space, layout)
    if cfg.algorithm == "DQN":
        return _dqn(cfg, inp, action_space)
    if cfg.algorithm == "SAC":
        return _sac(cfg, inp, action_space)
    return _td3(cfg, inp, action_space)


def trainer_params(cfg: AlgoConfig, agents: int = 1, **common) -> OnPolicyTrainerParams | OffPolicyTrainerParams:
    """Tianshou trainer parameters for this config; ``common`` holds collectors, hooks and logger.

    With ``agents`` > 1 the config counts joint steps and games, Tianshou counts agent slots:
    each joint step is ``agents`` slot transitions and each game episode ``agents`` slot episodes."""
    if cfg.on_policy:
        return OnPolicyTrainerParams(
            max_epochs=epochs_for(cfg),
            epoch_num_steps=cfg.epoch_steps * agents,
            collection_step_num_env_steps=cfg.collect_steps * agents,
            update_step_num_repetitions=cfg.repeat,
            batch_size=cfg.batch_size,
            test_step_num_episodes=cfg.test_episodes * agents,
            **common,
        )
    return OffPolicyTrainerParams(
        max_epochs=epochs_for(cfg),
        epoch_num_steps=cfg.epoch_steps,
        collection_step_num_env_steps=max(cfg.n_train_envs, math.ceil(1 / cfg.update_per_step)),
        update_step_num_gradient_steps_per_sample=cfg.update_per_step,
        batch_size=cfg.batch_size,
        test_step_num_episodes=cfg.test_episodes,
        **common,
    )
