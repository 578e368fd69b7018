"""A run's rules, decided here and nowhere else.

- when the target is met (one rule for the worker's tests, the evaluation, the critic, the router
  and the run's status: the score clears the target beyond its noise),
- which iteration is the best one, and which tests show learning (not the untrained policy's),
- how the env-step budget is split: iterations, candidates, epochs between tests,
- each iteration's seed,
- a run's defaults and the limits on what a user may ask for.

Everything here is plain arithmetic on numbers and records: no env, no designer, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:  # types only: the contract (tools/schemas.py) imports the defaults from here
    from tools.schemas import AlgoConfig, CurvePoint, EvalResult, IterationRecord

# -- defaults and limits of a run --------------------------------------------------------------
DEFAULT_BUDGET_STEPS = 200_000
"""Env steps of a run on an env with no built-in budget."""
DEFAULT_MAX_ITERATIONS = 5
DEFAULT_EVAL_EPISODES = 20
DEFAULT_CANDIDATES = 1
DEFAULT_PLAY_EPISODES = 5
"""Episodes ``agent2 play`` and the MCP ``evaluate_agent`` tool run by default."""

MAX_SEED = 1_000_000_000
"""Largest seed a user may give: derived seeds (iterations, envs, evaluation) stay below 2**31."""
MAX_BUDGET_STEPS = 10_000_000_000
MAX_ITERATIONS = 50
MAX_EVAL_EPISODES = 1000
MAX_CANDIDATES = 64

# -- how the budget is split -------------------------------------------------------------------
MIN_ITERATION_STEPS = 5_000
"""Fewest env steps worth an iteration (or a candidate): with fewer left, the run ends."""
FIRST_ITERATION_SHARE = 0.6
"""Share of the steps left that a non-final iteration gets."""
TESTS_PER_ITERATION = 20
"""Tests (and checkpoints) an iteration aims for; epochs are sized from it."""
SEED_STRIDE = 1000
"""Iteration k trains with seed + 1000·(k − 1): its envs (seed + i) never overlap another's."""
TEST_SEED_OFFSET = 50_000
"""An iteration's tests play envs seeded its seed + this (+ i): above every iteration's training envs
(seed + ``SEED_STRIDE`` · (k − 1) + i, k ≤ ``MAX_ITERATIONS``), below every evaluation's."""
EVAL_SEED_OFFSET = 100_000
"""An iteration's evaluation plays envs seeded its seed + this (+ i), apart from its training envs."""
CONFIRM_SEED_OFFSET = 500_000
"""The run's chosen policy is evaluated again on envs seeded its iteration's seed + this (+ i): seeds
no iteration's or candidate's evaluation used (those lie within ``EVAL_SEED_OFFSET`` +
``SEED_STRIDE`` · ``MAX_ITERATIONS``)."""

PLAY_SEED_OFFSET = 700_000
"""``agent2 play`` and the MCP ``evaluate_agent`` tool replay an exported agent, by default, on envs seeded
its iteration's seed + this (+ i): seeds its run never trained, tested, evaluated or confirmed on (a
fixed default seed, 12345, was a training seed of iteration 1 for a run seeded 12345)."""

RunStatus = Literal["running", "target_met", "budget_exhausted", "iterations_exhausted", "stopped_by_critic", "failed"]
"""``budget_exhausted``, ``iterations_exhausted`` and ``stopped_by_critic`` all missed the target and kept
the best agent; they say why the run ended: too few env steps left for another iteration, the
``max_iterations`` passes done with steps left, or the critic ended it (``done`` or ``give_up``) with
both left."""
AGENT_KEPT: tuple[RunStatus, ...] = ("target_met", "budget_exhausted", "iterations_exhausted", "stopped_by_critic")
"""Statuses of a run that ended with an exported agent (the CLI exits 0)."""


def trained_points(curve: list[CurvePoint]) -> list[CurvePoint]:
    """The tests of trained policies: the curve without the untrained policy's baseline test (kept when
    it is the only one). Standing still can outscore every trained Ant for 100k steps; read as the
    curve's peak, it made the fall to the first trained tests look like instability."""
    trained = [c for c in curve if not c.untrained]
    return trained or curve


def target_met(mean: float | None, std: float | None, episodes: int, target: float | None) -> bool:
    """The score clears the target beyond its noise: mean − std/√episodes ≥ target."""
    if mean is None or target is None:
        return False
    return mean - (std or 0.0) / math.sqrt(max(episodes, 1)) >= target


def record_met(record: IterationRecord | None, target: float | None) -> bool:
    """``target_met`` for an iteration's evaluation."""
    return record is not None and target_met(record.eval_mean, record.eval_std, record.eval_episodes, target)


R = TypeVar("R")


def best_record(history: Sequence[R], score: Callable[[R], Any] = attrgetter("eval_mean")) -> R | None:
    """The iteration with the highest evaluation on the original metric (the first of equals);
    ``score`` reads it from another kind of record (a database row)."""
    scored = [r for r in history if score(r) is not None]
    return max(scored, key=score) if scored else None


def run_status(
    history: Sequence[IterationRecord],
    target: float | None,
    confirmation: EvalResult | None = None,
    *,
    steps_left: int,
    next_iteration: int,
    max_iterations: int,
) -> RunStatus:
    """A finished run's status: its best iteration met the target (judged on the ``confirmation``,
    when its policy was evaluated again), or why it ended short of it (``steps_left`` env steps unspent,
    ``next_iteration`` the pass that would have come next), or no iteration produced an agent."""
    best = best_record(history)
    if best is None:
        return "failed"
    if confirmation is not None and confirmation.mean is not None:
        met = target_met(confirmation.mean, confirmation.std, confirmation.episodes, target)
    else:
        met = record_met(best, target)
    if met:
        return "target_met"
    if room_left(steps_left, next_iteration, max_iterations):
        return "stopped_by_critic"
    return "iterations_exhausted" if budget_left_for_iteration(steps_left) else "budget_exhausted"


def room_left(steps_left: int, next_iteration: int, max_iterations: int) -> bool:
    """Whether the run may start another pass: steps for an iteration and an iteration left."""
    return budget_left_for_iteration(steps_left) and next_iteration <= max_iterations


def policies_compared(history: Sequence[IterationRecord]) -> int:
    """How many evaluated policies the run's best was chosen from (every iteration's candidates)."""
    return sum(max(1, sum(c.eval_mean is not None for c in r.candidates)) for r in history if r.eval_mean is not None)


def needs_confirmation(history: Sequence[IterationRecord]) -> bool:
    """Whether the best policy's evaluation is the highest of several noisy ones, and so biased
    upward (a winner's curse): then it is evaluated again on fresh seeds, and that figure is the run's.
    A policy chosen from one evaluation keeps it (its seeds played no part in choosing it)."""
    return policies_compared(history) > 1


def confirmation_episodes(best: IterationRecord, eval_episodes: int) -> int:
    """Episodes of the chosen policy's second evaluation: as many as the evaluation that chose it (which
    may have grown while its interval held the target), never fewer than the run's ``eval_episodes``:
    a confirmation on fewer episodes would trade the choice's bias for more noise (SMAX 3m: chosen at
    0.85 over 160 battles, confirmed on 20 at 0.75 [0.53, 0.89])."""
    return max(eval_episodes, best.eval_episodes)


def budget_left_for_iteration(steps_left: int) -> bool:
    """Whether ``steps_left`` env steps still pay for one more iteration."""
    return steps_left >= MIN_ITERATION_STEPS


def iteration_budget(steps_left: int, iterations_left: int) -> int:
    """Env steps of the next iteration: all that is left on the last one (or when two would not
    fit), else ``FIRST_ITERATION_SHARE`` of it, never under ``MIN_ITERATION_STEPS``."""
    if iterations_left == 0 or steps_left < 2 * MIN_ITERATION_STEPS:
        return steps_left
    return int(max(MIN_ITERATION_STEPS, FIRST_ITERATION_SHARE * steps_left))


def warmup_steps(cfg: AlgoConfig) -> int:
    """Random-action steps an off-policy learner collects before its first update: the config's
    ``start_steps``, at most half the budget (a budget under twice the warm-up still learns, within it)."""
    return 0 if cfg.on_policy else min(cfg.start_steps, cfg.budget_steps // 2)


def epoch_steps(cfg: AlgoConfig) -> int:
    """Env steps between two tests: about ``TESTS_PER_ITERATION`` tests, within [1k, 25k], a whole
    number of collections for on-policy algorithms; for off-policy ones, never more than the budget
    left after the warm-up (so the one epoch of a small budget does not overspend it)."""
    steps = int(min(max(cfg.budget_steps / TESTS_PER_ITERATION, 1000), 25_000))
    if cfg.on_policy:
        return max(cfg.collect_steps, steps // cfg.collect_steps * cfg.collect_steps)
    return max(1, min(steps, cfg.budget_steps - warmup_steps(cfg)))


FINALISED_FIELDS = ("epoch_steps", "n_train_envs", "n_test_envs")
"""The fields ``finalised`` may set."""
OWN_PROCESS_ENVS = 2
"""Train and test envs of an off-policy learner on an env that needs a process of its own."""


def finalised(cfg: AlgoConfig, one_per_process: bool) -> AlgoConfig:
    """``cfg`` as the worker runs it, whichever designer chose it: its epoch length
    (``epoch_steps``) and, where each env is a process of its own (~100 MB apart from what they
    share, on MetaDrive), at most ``OWN_PROCESS_ENVS`` train and test envs for an off-policy
    learner, whose env count changes no update. An on-policy learner keeps its batch's layout
    (16 envs x 256 steps, not 2 x 2048: measured so in bench/fixed_run.py)."""
    if one_per_process and not cfg.on_policy:
        cfg = cfg.model_copy(
            update={
                "n_train_envs": min(cfg.n_train_envs, OWN_PROCESS_ENVS),
                "n_test_envs": min(cfg.n_test_envs, OWN_PROCESS_ENVS),
            }
        )
    return cfg.model_copy(update={"epoch_steps": epoch_steps(cfg)})


def candidate_budget(steps_left: int, chosen: int, k: int) -> tuple[int, int]:
    """(candidates, env steps each): K candidates of the chosen iteration budget, fewer or smaller
    when the run's budget left can't pay for K of them (never under ``MIN_ITERATION_STEPS`` each
    unless even one candidate can't have that many)."""
    k = max(1, min(k, steps_left // MIN_ITERATION_STEPS))
    return k, max(1, min(chosen, steps_left // k))


def iteration_seed(seed: int, iteration: int) -> int:
    """The seed of iteration ``iteration`` (1-based) of a run seeded ``seed``."""
    return seed + SEED_STRIDE * (iteration - 1)
