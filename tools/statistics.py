"""Confidence intervals for evaluation returns and benchmark tables.

``mean_ci``: the Student-t 95% interval of a mean over episodes (a multi-agent game's per-agent returns
first averaged per episode, ``episode_means``). ``needs_more_episodes``: the
sequential rule evaluation uses (more episodes while the interval still straddles the target).
``rising``: whether a series of training returns still climbs beyond its noise (the plateau rule's
second half). ``iqm_ci``: the interquartile mean of per-seed scores with a percentile-bootstrap interval, the way
``rliable`` (Agarwal et al. 2021) reports few-seed RL results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _stats():
    """``scipy.stats``, imported on first use: it costs ~1.6 s, and every training worker, evaluation
    and CLI process imports this module."""
    from scipy import stats

    return stats


CONFIDENCE = 0.95
EVAL_GROWTH_CAP = 10
"""Evaluation grows to at most this many times the requested episodes (and ``MAX_EVAL_EPISODES``)."""


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The t interval of the mean; a single value (or no spread) gives a zero-width interval. Values that
    are all 0 or 1 (a win or success rate) get Wilson's score interval instead, which stays honest at
    0 or n successes: 20 wins of 20 is [0.84, 1], not [1, 1]."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values to take a confidence interval of")
    if np.isin(x, (0.0, 1.0)).all():
        return wilson_ci(int(x.sum()), x.size, confidence)
    m = float(x.mean())
    if x.size < 2 or float(x.std()) == 0.0:
        return m, m
    half = float(_stats().t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return m - half, m + half


def wilson_ci(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval for a proportion of ``successes`` in ``n`` trials."""
    z = float(_stats().norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def episode_means(returns: Sequence[float], agents: int) -> list[float]:
    """One value per episode from per-agent returns listed a game at a time (``agents`` in a row, as
    Tianshou's collector lists the slots of games that end together): the unit whose noise an interval
    is about. The agents of one battle share its outcome, so their returns are not independent samples."""
    x = np.asarray(returns, dtype=np.float64)
    if agents < 1 or x.size % agents:
        raise ValueError(f"{x.size} returns do not split into episodes of {agents} agents")
    return x.reshape(-1, agents).mean(axis=1).tolist()


def needs_more_episodes(returns: Sequence[float], target: float | None, cap: int) -> bool:
    """True while the interval still holds the target (the evaluation cannot yet say met or not)
    and fewer than ``cap`` episodes were run. Without a target, the requested episodes are final."""
    if target is None or len(returns) >= cap:
        return False
    low, high = mean_ci(returns)
    return low < target <= high


RISING_MIN_HALF = 4
"""``rising`` needs at least this many values in each half of a series to call it rising."""


def rising(values: Sequence[float], z: float = 2.0) -> bool:
    """True when the later half of ``values`` (in order) has a higher mean than the earlier half by more
    than ``z`` standard errors of the difference (Welch's, each half's own spread). Too few values, or
    no spread at all, say nothing: False."""
    x = np.asarray(values, dtype=np.float64)
    half = x.size // 2
    if half < RISING_MIN_HALF:
        return False
    early, late = x[: x.size - half], x[x.size - half :]
    diff = float(late.mean() - early.mean())
    se = math.sqrt(early.var(ddof=1) / early.size + late.var(ddof=1) / late.size)
    return diff > z * se if se > 0 else False


def iqm(values: Sequence[float]) -> float:
    """Interquartile mean: the mean of the middle 50% (``scipy.stats.trim_mean`` at 25%)."""
    return float(_stats().trim_mean(np.asarray(values, dtype=np.float64), 0.25))


def iqm_ci(
    values: Sequence[float], confidence: float = CONFIDENCE, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """(IQM, low, high): the IQM of ``values`` and its percentile-bootstrap interval."""
    x = np.asarray(values, dtype=np.float64)
    point = iqm(x)
    if x.size < 2 or float(x.std()) == 0.0:
        return point, point, point
    stats = _stats()
    res = stats.bootstrap(
        (x,),
        lambda s, axis=-1: stats.trim_mean(s, 0.25, axis=axis),
        method="percentile",
        confidence_level=confidence,
        n_resamples=resamples,
        rng=np.random.default_rng(seed),
    )
    return point, float(res.confidence_interval.low), float(res.confidence_interval.high)
