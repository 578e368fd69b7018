"""Published figures to read Agent²'s beside (../shared/ANCHORS.md and the Agent² paper).

Every entry names its source, algorithm and budget; env versions differ (-v3/-v4 there, -v5 here),
so they are context, not a like-for-like comparison.
"""

from __future__ import annotations

# The Agent² paper's "baseline → Agent²" final scores (MuJoCo at 1M env steps, MetaDrive 400k,
# MPE 1M, SMAC 400k–2M).
PAPER = {
    "Hopper-v5": "SAC 3517 → 3577 (1M)",
    "Walker2d-v5": "TD3 4513 → 4844 (1M)",
    "Ant-v5": "TD3 3854 → 5981, SAC 3500 → 4372 (1M)",
    "Humanoid-v5": "SAC 4683 → 6788 (1M)",
    "MetaDriveEnv": "SAC 178 → 260 (400k)",
    "simple_spread_v3": "−19.7 → −16.3 (1M)",
    "smax_8m": "SMAC 8m 0.77 → 0.94",
    "smax_2s3z": "SMAC 2s3z 0.82 → 0.85",
}

# Library figures: Tianshou's MuJoCo table (max average return, 10 seeds, 1M, -v3) and RL Baselines3
# Zoo's benchmark (one run, tuned, 1M unless noted).
LIBRARY = {
    "Hopper-v5": "Tianshou SAC 3542, TD3 3472; Zoo TD3 3606, SAC 2326 (1M)",
    "Walker2d-v5": "Tianshou SAC 5007, TD3 3982; Zoo TD3 4718, SAC 3863 (1M)",
    "HalfCheetah-v5": "Tianshou SAC 12139, TD3 10201; Zoo TD3 9656, SAC 9535 (1M)",
    "Ant-v5": "Tianshou SAC 5850, TD3 5116; Zoo TD3 5813, SAC 4616 (1M)",
    "Humanoid-v5": "Tianshou SAC 5489, TD3 5190 (1M)",
    "CartPole-v1": "Zoo PPO 500 (100k), DQN 500 (50k)",
    "Acrobot-v1": "Zoo DQN −76.6 (100k), PPO −73.5 (1M)",
    "Pendulum-v1": "Zoo SAC −157, TD3 −152 (20k)",
    "MountainCarContinuous-v0": "Zoo SAC 94.7 (50k), PPO 88.3 (20k)",
    "LunarLander-v3": "Zoo PPO 242 (1M), DQN 154 (100k)",
}
