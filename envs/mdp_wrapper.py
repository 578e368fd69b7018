"""Apply a generated MDP (observation, action and reward functions) to an env.

The code is untrusted: only the training/evaluation worker and the sandboxed smoke check
execute it, each in its own process with limits (see ``tools/sandbox.py``).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import FlattenObservation, FrameStackObservation

from envs.errors import MDPCodeError, NonFiniteRewardError

REQUIRED_FUNCTIONS = ("observation", "action", "reward")


def load_mdp_module(code: str, filename: str = "mdp.py") -> SimpleNamespace:
    """Execute MDP code into a fresh namespace and return its three functions."""
    namespace: dict[str, Any] = {"__name__": "agent2_mdp", "np": np, "math": math}
    try:
        exec(compile(code, filename, "exec"), namespace)
    except SyntaxError as e:
        raise MDPCodeError(f"{filename}:{e.lineno}: syntax error: {e.msg}") from e
    except Exception as e:
        raise MDPCodeError(f"{filename}: running the module raised {type(e).__name__}: {e}") from e
    missing = [f for f in REQUIRED_FUNCTIONS if not callable(namespace.get(f))]
    if missing:
        raise MDPCodeError(f"{filename}: missing function(s) {', '.join(missing)}")
    return SimpleNamespace(**{f: namespace[f] for f in REQUIRED_FUNCTIONS})


def reward_terms(value: Any) -> tuple[float, dict[str, float] | None]:
    """(total, terms) of what reward() returned: a number, or a dict of named terms that are summed
    (reward reflection: each term's statistics reach the critic). Raises ``MDPCodeError`` for
    anything else."""
    if isinstance(value, dict):
        if not value:
            raise MDPCodeError("reward() returned an empty dict; return a number or named terms")
        terms = {}
        for name, term in value.items():
            if not isinstance(name, str):
                raise MDPCodeError(f"reward() term names must be strings, got {name!r}")
            try:
                terms[name] = float(term)
            except (TypeError, ValueError):
                raise MDPCodeError(f"reward() term {name!r} is {term!r}, not a number") from None
        return float(sum(terms.values())), terms
    try:
        return float(value), None
    except (TypeError, ValueError):
        raise MDPCodeError(f"reward() returned {value!r}; return a number or a dict of named terms") from None


class RewardTermLog:
    """Per-term sums over finished episodes: episodes, sum and sum of squares of each term's episode
    total, steps and steps where it was not 0 (mergeable across envs and training sessions)."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}
        self.current: dict[str, float] = {}
        self.current_nonzero: dict[str, int] = {}
        self.steps = 0

    def add(self, terms: dict[str, float], done: bool) -> None:
        for name, v in terms.items():
            self.current[name] = self.current.get(name, 0.0) + v
            self.current_nonzero[name] = self.current_nonzero.get(name, 0) + (v != 0.0)
        self.steps += 1
        if done:
            for name, total in self.current.items():
                row = self.totals.setdefault(name, [0.0, 0.0, 0.0, 0.0, 0.0])  # episodes, sum, sumsq, steps, nonzero
                row[0] += 1
                row[1] += total
                row[2] += total * total
                row[3] += self.steps
                row[4] += self.current_nonzero[name]
            self.current, self.current_nonzero, self.steps = {}, {}, 0


REWARD_LOGS: list[RewardTermLog] = []
"""The reward-term logs of this process's training envs (shaped reward), for the training worker to
merge: its envs live in its own process (``DummyVectorEnv``)."""


def merged_reward_totals(*totals: dict[str, list[float]]) -> dict[str, list[float]]:
    """Per-term sums of several ``RewardTermLog.totals`` (envs, or earlier training sessions)."""
    out: dict[str, list[float]] = {}
    for t in totals:
        for name, row in t.items():
            acc = out.setdefault(name, [0.0] * len(row))
            for i, v in enumerate(row):
                acc[i] += v
    return out


class VisitCounts:
    """How often each observation was seen, shared by the training envs of one worker: a count-based
    novelty bonus ``scale / sqrt(n)`` (Strehl & Littman 2008's MBIE-EB form) for observations that
    repeat exactly (discrete states). Training only: tests and evaluation use the original reward."""

    def __init__(self, scale: float):
        self.scale = scale
        self.n: dict[bytes, int] = {}

    def bonus(self, obs: np.ndarray) -> float:
        key = obs.tobytes()
        n = self.n.get(key, 0) + 1
        self.n[key] = n
        return self.scale / math.sqrt(n)


class MDPWrapper(gym.Wrapper):
    """Observation transform, action transform and (optionally) shaped reward.

    ``info['original_reward']`` always carries the env's own reward, so the original metric
    stays measurable. With ``shape_reward=False`` the reward passed on is the original one
    (evaluation and early-stopping tests use that). ``novelty`` (training only) adds a count-based
    bonus for reaching rarely seen observations, reported as the reward term ``novelty``.
    """

    def __init__(
        self, env: gym.Env, code: str, obs_dim: int, shape_reward: bool = True, novelty: VisitCounts | None = None
    ):
        super().__init__(env)
        self.fns = load_mdp_module(code)
        self.shape_reward = shape_reward
        self.novelty = novelty if shape_reward else None
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self._last_raw_obs: np.ndarray | None = None
        self.reward_log = RewardTermLog()
        if shape_reward:
            REWARD_LOGS.append(self.reward_log)

    def _obs(self, raw: np.ndarray) -> np.ndarray:
        out = np.asarray(self.fns.observation(raw), dtype=np.float32).reshape(-1)
        if out.shape != self.observation_space.shape:
            raise MDPCodeError(f"observation() returned shape {out.shape}, declared {self.observation_space.shape}")
        return out

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        raw, info = self.env.reset(seed=seed, options=options)
        self._last_raw_obs = raw
        return self._obs(raw), info

    def step(self, action):
        env_action = self.fns.action(action)
        raw_next, rew, terminated, truncated, info = self.env.step(env_action)
        info = dict(info)
        info["original_reward"] = original = float(rew)
        if self.shape_reward:
            rew, terms = reward_terms(
                self.fns.reward(
                    self._last_raw_obs,
                    env_action,
                    raw_next,
                    original,
                    {**info, "terminated": bool(terminated), "truncated": bool(truncated)},
                )
            )
            if not math.isfinite(rew):
                raise NonFiniteRewardError.of(rew, original)
        obs = self._obs(raw_next)
        if self.shape_reward:
            if self.novelty is not None:
                bonus = self.novelty.bonus(obs)
                terms = {**(terms or {"reward": rew}), "novelty": bonus}
                rew += bonus
            if terms is not None:
                self.reward_log.add(terms, bool(terminated or truncated))
        self._last_raw_obs = raw_next
        return obs, rew, terminated, truncated, info


def make_mdp_env(
    env_ref: str,
    code: str,
    obs_dim: int,
    shape_reward: bool,
    render_mode: str | None = None,
    history: int = 1,
    novelty: VisitCounts | None = None,
) -> gym.Env:
    """The env behind ``env_ref`` with a generated MDP applied; with ``history`` > 1 each
    observation is the last ``history`` ones, oldest first, flattened (Gymnasium's frame stack,
    padded with the first observation after a reset); ``novelty``: see ``MDPWrapper``."""
    from envs.loading import make_env  # loading imports this module (a cycle at import)

    env: gym.Env = MDPWrapper(
        make_env(env_ref, render_mode=render_mode), code, obs_dim, shape_reward=shape_reward, novelty=novelty
    )
    if history > 1:
        env = FlattenObservation(FrameStackObservation(env, history, padding_type="reset"))
    return env
