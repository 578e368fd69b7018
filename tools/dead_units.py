"""Dead ReLU units in the network that acts: a unit at zero for every state passes no gradient and
never comes back. When (nearly) every unit of a layer is dead, the policy's action no longer depends
on the observation and training cannot repair it.

Measured on MetaDrive (issue 16, ``bench/sac_probe.py``): SAC's actor on the raw lidar observations
(259 inputs in [0, 1], nearly the same for every state) lost its first layer within the first few
thousand updates (3 of 256 units alive at 5.8k steps, 0 of 256 at 136.8k) and drove one fixed
steering and throttle in every state. Every input being positive and about the same, each Adam step
moves all of a unit's input weights the same way; standardised observations keep all 256 alive
(``bench/results/sac-probe-metadrive-136k-24bb7ed.json``, ``…/sac-probe-metadrive-alpha0.2-5k8-0151dda.json``).
"""

from __future__ import annotations

import numpy as np
import torch
from tianshou.algorithm import Algorithm

from tools.buffers import KeepsStates, state_sample

DEAD_SHARE = 0.05
"""A ReLU layer with at most this share of its units alive on the sampled states is dead."""


def acting_net(algorithm: Algorithm) -> torch.nn.Module | None:
    """The network that maps observations to actions: the actor, else the Q network (DQN)."""
    policy = algorithm.policy
    return getattr(policy, "actor", None) or getattr(policy, "model", None)


def alive_shares(net: torch.nn.Module, obs: np.ndarray | torch.Tensor) -> list[float]:
    """For each ``nn.ReLU`` in ``net``: the share of its units above zero for at least one of ``obs``
    (the first dimension of every layer output is the state)."""
    outputs: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach()))
        for m in net.modules()
        if isinstance(m, torch.nn.ReLU)
    ]
    try:
        with torch.no_grad():
            net(obs)
    finally:
        for h in hooks:
            h.remove()
    # a unit is one output element for a state: a neuron of a dense layer, a channel at one position of a conv
    return [float((out.reshape(out.shape[0], -1) > 0).any(0).float().mean()) for out in outputs]


def policy_alive_share(algorithm: Algorithm | None, buffer) -> float | None:
    """The smallest alive share over the acting network's ReLU layers, on states from ``buffer``
    (for an on-policy buffer emptied by its update: those it kept at that reset); None where there is
    nothing to measure (no ReLU, no states, observations that are not one array)."""
    net = acting_net(algorithm) if algorithm is not None else None
    if net is None or buffer is None or not any(isinstance(m, torch.nn.ReLU) for m in net.modules()):
        return None
    obs = buffer.states() if isinstance(buffer, KeepsStates) else state_sample(buffer)
    if obs is None:
        return None
    shares = alive_shares(net, obs)  # the nets convert (and move) their input themselves
    return min(shares) if shares else None


def is_dead(share: float | None) -> bool:
    return share is not None and share <= DEAD_SHARE
