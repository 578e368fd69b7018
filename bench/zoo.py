"""The tuned reference: RL Baselines3 Zoo's hyper-parameters, translated to Tianshou (``AlgoConfig``).

From DLR-RM/rl-baselines3-zoo ``hyperparams/ppo.yml`` and ``sac.yml`` (SB3 defaults where the zoo
entry leaves a value out: PPO [64, 64] tanh, clip 0.2, GAE 0.95, γ 0.99, 10 epochs, batch 64,
lr 3e-4, vf 0.5, grad norm 0.5; SAC [256, 256] ReLU, lr 3e-4, buffer 1M, batch 256, τ 0.005,
γ 0.99, 100 learning starts, entropy 'auto'). Translation: PPO ``n_envs × n_steps`` = collect
steps, ``n_epochs`` = repeat, ``lin_`` schedules = linear LR decay, ``normalize`` = running
observation normalisation plus return scaling (SB3's VecNormalize); SAC ``learning_starts`` =
random start steps, ``gradient_steps / train_freq`` = updates per step. Not translatable: gSDE
(``use_sde``), so those entries run with Gaussian exploration. LunarLander-v3 takes the zoo's
LunarLander-v2 entry, the MuJoCo v5 tasks the zoo's v3 SAC entries. SMAX, which the zoo does not
cover, takes the MAPPO paper's SMAC settings (``MAPPO_SMAC``).
"""

from __future__ import annotations

from envs.registry import SMAX_TASKS

PPO_SB3 = dict(
    algorithm="PPO",
    hidden_sizes=[64, 64],
    activation="tanh",
    lr=3e-4,
    gamma=0.99,
    gae_lambda=0.95,
    eps_clip=0.2,
    repeat=10,
    batch_size=64,
    ent_coef=0.0,
    vf_coef=0.5,
    max_grad_norm=0.5,
    advantage_normalization=True,
)
MAPPO_SMAC = dict(
    algorithm="MAPPO",
    hidden_sizes=[64, 64],
    activation="relu",
    lr=5e-4,
    lr_decay=False,
    gamma=0.99,
    gae_lambda=0.95,
    eps_clip=0.2,
    repeat=15,
    ent_coef=0.01,
    vf_coef=1.0,
    max_grad_norm=10.0,
    n_train_envs=8,
    collect_steps=8 * 400,
    advantage_normalization=True,
)
"""MAPPO's SMAC settings (Yu et al. 2022; marlbenchmark/on-policy ``config.py`` and its
``train_smac_3m.sh``: 8 rollout threads × 400 steps, 15 PPO epochs, one minibatch, lr 5e-4, clip 0.2,
entropy 0.01, value loss 1, grad norm 10, hidden 64, ReLU). Ours is the feed-forward MAPPO: the paper's
recurrent policy, value normalisation and Huber value loss are not translated."""
SAC_SB3 = dict(
    algorithm="SAC",
    hidden_sizes=[256, 256],
    activation="relu",
    lr=3e-4,
    gamma=0.99,
    buffer_size=1_000_000,
    batch_size=256,
    tau=0.005,
    start_steps=100,
    alpha="auto",
    n_train_envs=1,
    update_per_step=1.0,
)

ZOO: dict[str, dict] = {
    "CartPole-v1": {
        **PPO_SB3,
        "n_train_envs": 8,
        "collect_steps": 8 * 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "repeat": 20,
        "lr": 1e-3,
        "lr_decay": True,
    },
    "Acrobot-v1": {
        **PPO_SB3,
        "normalize": True,
        "n_train_envs": 16,
        "collect_steps": 16 * 256,
        "gae_lambda": 0.94,
        "repeat": 4,
    },
    "LunarLander-v3": {
        **PPO_SB3,
        "n_train_envs": 16,
        "collect_steps": 16 * 1024,
        "gae_lambda": 0.98,
        "gamma": 0.999,
        "repeat": 4,
        "ent_coef": 0.01,
    },
    "Pendulum-v1": {**SAC_SB3, "lr": 1e-3},
    "MountainCarContinuous-v0": {
        **SAC_SB3,
        "hidden_sizes": [64, 64],
        "buffer_size": 50_000,
        "batch_size": 512,
        "alpha": 0.1,
        "update_per_step": 1.0,
        "gamma": 0.9999,
        "tau": 0.01,
        "start_steps": 0,
    },
    **{
        env: {**SAC_SB3, "start_steps": 10_000}
        for env in ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5", "Humanoid-v5")
    },
    # SMAX has no RL Zoo entry: its reference is the MAPPO paper's SMAC settings, one minibatch of a
    # whole collection (the slots of every agent: collect steps × agents)
    **{f"smax_{m}": {**MAPPO_SMAC, "batch_size": MAPPO_SMAC["collect_steps"] * n} for m, n, _ in SMAX_TASKS},
}
"""Env → zoo hyper-parameters as ``AlgoConfig`` fields (plus ``normalize``). Envs not here have no
zoo entry (MPE, MetaDrive): the suite shows '—' for that contender."""
