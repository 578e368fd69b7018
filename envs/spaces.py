"""Bring any Gymnasium space into the form the learners take.

Observations become one flat float32 vector. Spaces Gymnasium can flatten (Box, Discrete,
MultiDiscrete, MultiBinary, and Tuple/Dict/OneOf of those) go through its ``FlattenObservation``
(one-hot Discrete parts). Anywhere in the observation, the others are encoded by ``ObservationEncoder``:
Text (and look-alikes whose samples are strings, such as MiniGrid's ``MissionSpace``) as hashed word
counts, Sequence as its length and mean element, Graph as node/edge counts and mean features; a part
that cannot be encoded is dropped, and so is a look-alike text space that holds one string only
(MiniGrid DoorKey's mission: the same words every step of every episode tell the learner nothing;
a mission that can differ is kept, since it may name the goal). ``describe_observation`` says in
one line which is which.
Actions stay Discrete or Box; MultiDiscrete and MultiBinary become one Discrete action over their
product when it is small.
"""

from __future__ import annotations

import copy
import itertools
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.spaces.utils import flatdim, flatten

from envs.errors import UnsupportedSpaceError

MAX_JOINT_ACTIONS = 1024
TEXT_FEATURES = 32
"""Hashed word counts a text part is encoded as (stable across processes: CRC-32 of each word)."""
FLAT_LEAVES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


@dataclass
class _Part:
    path: tuple
    """Keys and indices leading to this part inside a (nested) Dict/Tuple observation."""
    dim: int
    encode: Callable[[Any], np.ndarray]
    how: str

    @property
    def name(self) -> str:
        return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in self.path).lstrip(".") or "observation"


def _flat(space: spaces.Space) -> Callable[[Any], np.ndarray]:
    return lambda x: np.asarray(flatten(space, x), dtype=np.float32).reshape(-1)


def _text(x: Any) -> np.ndarray:
    words = re.findall(r"\w+", str(x).lower())
    out = np.zeros(TEXT_FEATURES, dtype=np.float32)
    for w in words:
        out[zlib.crc32(w.encode()) % TEXT_FEATURES] += 1.0
    return out / max(1, len(words))


def gym_flattenable(space: spaces.Space) -> bool:
    """Whether Gymnasium's flatten takes ``space`` with a meaningful encoding (Text's character codes are not)."""
    if isinstance(space, FLAT_LEAVES):
        return True
    if isinstance(space, (spaces.Tuple, spaces.OneOf)):
        return all(gym_flattenable(s) for s in space.spaces)
    if isinstance(space, spaces.Dict):
        return all(gym_flattenable(s) for s in space.spaces.values())
    return False


TEXT_PROBES = 16
"""Samples drawn (from a seeded copy of the space) to tell a one-string text space from one that varies."""


def _sample(space: spaces.Space) -> Any:
    try:
        return space.sample()
    except Exception:
        return None


def _one_string(space: spaces.Space) -> str | None:
    """The only string a look-alike text space holds, when ``TEXT_PROBES`` seeded samples of a copy
    of it are all the same (the env's own space and its random state are left alone); else None."""
    try:
        probe = copy.deepcopy(space)
        probe.seed(0)
        values = {probe.sample() for _ in range(TEXT_PROBES)}
    except Exception:
        return None
    return next(iter(values)) if len(values) == 1 else None


def _leaf(space: spaces.Space) -> tuple[int, Callable[[Any], np.ndarray], str]:
    """(dim, encoder, how) for a space that is not a Dict or Tuple; dim 0: dropped."""
    kind = type(space).__name__
    if gym_flattenable(space):
        return flatdim(space), _flat(space), f"{space} → {flatdim(space)} values"
    if isinstance(space, spaces.Text):
        return TEXT_FEATURES, _text, f"text → {TEXT_FEATURES} hashed word counts"
    if isinstance(space, spaces.Sequence):
        dim, encode, _ = _leaf(space.feature_space)
        if (
            dim == 0
            or isinstance(space.feature_space, (spaces.Dict, spaces.Tuple))
            and not gym_flattenable(space.feature_space)
        ):
            return 0, _nothing, "sequence of elements that cannot be encoded: dropped"

        def sequence(x: Any) -> np.ndarray:
            items = list(x) if x is not None else []
            mean = np.mean([encode(i) for i in items], axis=0) if items else np.zeros(dim, np.float32)
            return np.concatenate([[float(len(items))], mean]).astype(np.float32)

        return 1 + dim, sequence, f"sequence → its length and mean element ({1 + dim} values)"
    if isinstance(space, spaces.Graph):
        node_dim, node = flatdim(space.node_space), _flat(space.node_space)
        edge_dim = flatdim(space.edge_space) if space.edge_space is not None else 0
        edge = _flat(space.edge_space) if edge_dim else None

        def graph(x: Any) -> np.ndarray:
            nodes = [node(n) for n in x.nodes]
            edges = [edge(e) for e in x.edges] if edge is not None and x.edges is not None else []
            n_mean = np.mean(nodes, axis=0) if nodes else np.zeros(node_dim, np.float32)
            e_mean = np.mean(edges, axis=0) if edges else np.zeros(edge_dim, np.float32)
            counts = [len(nodes), len(x.edge_links) if x.edge_links is not None else 0]
            return np.concatenate([counts, n_mean, e_mean]).astype(np.float32)

        dim = 2 + node_dim + edge_dim
        return dim, graph, f"graph → node and edge counts, mean node and edge features ({dim} values)"
    sample = _sample(space)
    if isinstance(sample, str):
        constant = _one_string(space)
        if constant is not None:
            return 0, _nothing, f"{kind} of one text only ({constant[:40]!r}): dropped (it tells nothing)"
        return TEXT_FEATURES, _text, f"{kind} of text → {TEXT_FEATURES} hashed word counts"
    try:
        size = int(np.asarray(sample, dtype=np.float32).size) if sample is not None else 0
    except (TypeError, ValueError):
        size = 0
    if size:
        return size, lambda x: np.asarray(x, dtype=np.float32).reshape(-1), f"{kind} of numbers → {size} values"
    return 0, _nothing, f"{kind}: dropped (its values are neither text nor numbers)"


def _nothing(x: Any) -> np.ndarray:
    return np.zeros(0, np.float32)


def _parts(space: spaces.Space, path: tuple = ()) -> list[_Part]:
    if isinstance(space, spaces.Dict) and not gym_flattenable(space):
        return [p for key, sub in space.spaces.items() for p in _parts(sub, (*path, key))]
    if isinstance(space, spaces.Tuple) and not gym_flattenable(space):
        return [p for i, sub in enumerate(space.spaces) for p in _parts(sub, (*path, i))]
    return [_Part(path, *_leaf(space))]


MIN_IMAGE_SIDE = 5
MAX_IMAGE_CHANNELS = 16


def _image_shape(space: spaces.Space) -> tuple[int, int, int, bool] | None:
    """(height, width, channels, channels_first) for a Box that holds an image: two sides of at least
    ``MIN_IMAGE_SIDE`` and, for 3-d boxes, a channel axis (first or last) of at most
    ``MAX_IMAGE_CHANNELS``; None otherwise."""
    if not isinstance(space, spaces.Box):
        return None
    shape = space.shape
    if len(shape) == 2 and min(shape) >= MIN_IMAGE_SIDE:
        return shape[0], shape[1], 1, False
    if len(shape) != 3:
        return None
    if shape[-1] <= MAX_IMAGE_CHANNELS and min(shape[:2]) >= MIN_IMAGE_SIDE:
        return shape[0], shape[1], shape[2], False
    if shape[0] <= MAX_IMAGE_CHANNELS and min(shape[1:]) >= MIN_IMAGE_SIDE:
        return shape[1], shape[2], shape[0], True
    return None


def image_slices(space: spaces.Space) -> list[dict]:
    """Where the images lie in the flat vector ``standardize`` makes of ``space``: one dict per image
    with its ``offset`` and ``height``, ``width``, ``channels``, ``channels_first`` (the flat order is
    the Box's own: channels last unless ``channels_first``)."""
    found: list[dict] = []

    def walk(sub: spaces.Space, offset: int) -> int:
        if isinstance(sub, spaces.Dict):
            for child in sub.spaces.values():
                offset = walk(child, offset)
            return offset
        if isinstance(sub, spaces.Tuple):
            for child in sub.spaces:
                offset = walk(child, offset)
            return offset
        image = _image_shape(sub)
        if image is not None:
            h, w, c, first = image
            found.append({"offset": offset, "height": h, "width": w, "channels": c, "channels_first": first})
        return offset + (flatdim(sub) if gym_flattenable(sub) else _leaf(sub)[0])

    walk(space, 0)
    return found


GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


def goal_slices(space: spaces.Space, env: gym.Env) -> dict | None:
    """For a goal-conditioned env (a Dict observation with ``observation``, ``achieved_goal`` and
    ``desired_goal`` of one shape, and ``compute_reward`` on the env): the goals' offsets in the
    flat vector and their size; None otherwise."""
    if not isinstance(space, spaces.Dict) or not set(GOAL_KEYS) <= set(space.spaces):
        return None
    achieved, desired = space.spaces["achieved_goal"], space.spaces["desired_goal"]
    if (
        not callable(getattr(env.unwrapped, "compute_reward", None))
        or not gym_flattenable(space)
        or not isinstance(achieved, spaces.Box)
        or achieved.shape != getattr(desired, "shape", None)
    ):
        return None
    offsets, at = {}, 0
    for key, sub in space.spaces.items():
        offsets[key] = at
        at += flatdim(sub)
    return {
        "achieved_offset": offsets["achieved_goal"],
        "desired_offset": offsets["desired_goal"],
        "size": flatdim(achieved),
    }


def describe_observation(space: spaces.Space) -> str:
    """One line: how each part of the observation reaches the learner (encoded, or dropped)."""
    return "; ".join(f"{p.name}: {p.how}" if p.path else p.how for p in _parts(space))


class ObservationEncoder(gym.ObservationWrapper):
    """Encode an observation Gymnasium cannot flatten (text, sequences, graphs, look-alike spaces) into one
    float32 vector; parts that cannot be encoded are dropped (``describe_observation`` names them)."""

    def __init__(self, env: gym.Env, ref: str = "env"):
        super().__init__(env)
        self.parts = [p for p in _parts(env.observation_space) if p.dim > 0]
        if not self.parts:
            raise UnsupportedSpaceError(
                f"env {ref!r}: no part of observation space {env.observation_space} can "
                f"be encoded ({describe_observation(env.observation_space)})"
            )
        dim = sum(p.dim for p in self.parts)
        self.observation_space = spaces.Box(-np.inf, np.inf, (dim,), np.float32)

    def observation(self, observation: Any) -> np.ndarray:
        out = []
        for part in self.parts:
            value = observation
            for key in part.path:
                value = value[key]
            out.append(part.encode(value))
        return np.concatenate(out).astype(np.float32)


def joint_table(nvec: tuple[int, ...]) -> np.ndarray:
    """Every combination of parts of sizes ``nvec``, one row each, in ``itertools.product`` order."""
    return np.array(list(itertools.product(*[range(n) for n in nvec])), dtype=np.int64).reshape(-1, len(nvec))


class JointDiscrete(spaces.Discrete):
    """One Discrete over every combination of a MultiDiscrete's (or MultiBinary's) parts; ``nvec``
    keeps the parts' sizes, so a policy can be a product of one choice per part."""

    def __init__(self, nvec: list[int] | tuple[int, ...], seed: int | None = None):
        self.nvec = tuple(int(n) for n in nvec)
        super().__init__(int(np.prod(self.nvec)), seed=seed)


class JointDiscreteAction(gym.ActionWrapper):
    """Expose a MultiDiscrete/MultiBinary action space as one Discrete space over all combinations."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.action_space
        nvec = [2] * int(space.n) if isinstance(space, spaces.MultiBinary) else list(space.nvec)
        self.action_space = JointDiscrete(nvec)
        self._table = joint_table(self.action_space.nvec)

    def action(self, action):  # type: ignore[override]
        return self._table[int(action)]


def _flat_obs_ok(space: spaces.Space) -> bool:
    return isinstance(space, spaces.Box) and len(space.shape) == 1 and space.dtype == np.float32


def standardize(env: gym.Env, ref: str = "env") -> gym.Env:
    obs_space = env.observation_space
    if not gym_flattenable(obs_space):
        env = ObservationEncoder(env, ref)
    elif not _flat_obs_ok(obs_space):
        if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
            env = gym.wrappers.FlattenObservation(env)
        if env.observation_space.dtype != np.float32:
            env = gym.wrappers.DtypeObservation(env, np.float32)
    act_space = env.action_space
    if isinstance(act_space, (spaces.MultiDiscrete, spaces.MultiBinary)):
        n = int(np.prod(act_space.nvec)) if isinstance(act_space, spaces.MultiDiscrete) else 2 ** int(act_space.n)
        if n > MAX_JOINT_ACTIONS:
            raise UnsupportedSpaceError(
                f"env {ref!r}: action space {act_space} has {n} joint actions "
                f"(more than {MAX_JOINT_ACTIONS}); use a Box or a smaller discrete space"
            )
        env = JointDiscreteAction(env)
    elif not isinstance(act_space, (spaces.Discrete, spaces.Box)):
        raise UnsupportedSpaceError(
            f"env {ref!r}: action space {act_space} is not supported (Discrete, Box, MultiDiscrete, MultiBinary)"
        )
    if isinstance(env.action_space, spaces.Box) and not np.all(np.isfinite(env.action_space.low)):
        raise UnsupportedSpaceError(f"env {ref!r}: Box action space {env.action_space} must have finite bounds")
    return env
