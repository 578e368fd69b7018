"""Training/evaluation worker: runs in its own process, one per iteration folder.

    python -m tools.train_worker train ITER_DIR [N]  # reads job.json, resumes from checkpoint.pt;
                                                     # then evaluates N episodes when N is given
    python -m tools.train_worker evaluate ITER_DIR N # evaluates best_policy.pt on the original reward

It executes generated MDP code, so the parent starts it with a scrubbed environment and limits
(``tools/sandbox.py``). Files it writes into ITER_DIR:

- ``progress.jsonl``: one JSON line per test (and per training report) for the parent's progress bar;
- ``checkpoint.pt``: everything needed to continue after a kill, written atomically every epoch;
- ``best_policy.pt``: the weights (and observation statistics) with the best test score;
- ``train_result.json`` / ``eval_result.json``: the outcome.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import resource
import sys
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# isort: off
import tools.numba_cache  # noqa: F401  - before Tianshou: its numba kernels compile once, not per worker

# isort: on
import numpy as np
import torch
from tianshou.algorithm import Algorithm
from tianshou.algorithm.modelfree.sac import AutoAlpha
from tianshou.data import Batch, ReplayBufferManager, VectorReplayBuffer
from tianshou.data.buffer.manager import HERReplayBufferManager
from tianshou.utils.logger.logger_base import BaseLogger
from tianshou.utils.torch_utils import policy_within_training_step

from envs.errors import NonFiniteRewardError
from envs.loading import env_traits, episode_limit, make_env
from envs.mdp_wrapper import REWARD_LOGS, make_mdp_env, merged_reward_totals
from tools import devices
from tools.algorithms import build_algorithm, trainer_params
from tools.buffers import CheckedVectorReplayBuffer, EpisodeStatsBuffer, stats_buffer
from tools.checkpoint_io import CheckpointOfOtherCodeError, load_checkpoint, save_atomic, write_text_atomic
from tools.collector import EpisodeLengthCollector
from tools.dead_units import is_dead, policy_alive_share
from tools.her import FlatHERReplayBuffer, FlatHERVectorReplayBuffer, env_reward_fn
from tools.run_files import BEST_POLICY, CHECKPOINT, CONFIRM_RESULT, EVAL_RESULT, JOB, PROGRESS, TRAIN_RESULT
from tools.run_rules import (
    CONFIRM_SEED_OFFSET,
    EVAL_SEED_OFFSET,
    MAX_EVAL_EPISODES,
    TEST_SEED_OFFSET,
    target_met,
    warmup_steps,
)
from tools.schemas import CurvePoint, EvalResult, RewardTermStats, TrainJob, TrainResult
from tools.statistics import EVAL_GROWTH_CAP, episode_means, mean_ci, needs_more_episodes, rising
from tools.tensorboard_log import open_board, write_evaluation
from tools.vector_envs import agent_layout, make_vector_env

PLATEAU_TESTS = 12
"""Stop an iteration when this many tests in a row (and half its budget) brought no new best, unless the
training return over those tests is still rising beyond its noise (``statistics.rising``): a test metric
can sit at its floor (no battle won yet) while the reward the policy learns from still climbs."""
CONFIRM_TEST_FACTOR = 2
"""A test that clears the target plays this many times its episodes again, new ones, before training
stops there: the target is reached only if those clear it too (beyond their noise), and the test's
score is the mean over all of them. A lone test picked as the first of many to clear the target is
a lucky one as often as not (smax_3m: 30 battles of 30 won, then 0.84 over 160 in evaluation)."""
TRAIN_RETURNS_KEPT = 4000
"""Training-return points a worker keeps (and checkpoints) for the plateau rule."""

SESSION = os.urandom(6).hex()
"""This worker process's id in its progress events (each start or restart of a worker is a session;
the pid is the sandbox's own, the same in every session)."""


class DivergenceError(RuntimeError):
    pass


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _extra_optimizers(algorithm: Algorithm) -> list[torch.optim.Optimizer]:
    """Optimizers Tianshou's ``state_dict`` leaves out (SAC's auto-alpha)."""
    return [m._optim for m in algorithm.modules() if isinstance(m, AutoAlpha)]


UPDATE_COUNTERS = ("_iter", "_cnt")
"""Update counters Tianshou's algorithms keep outside their ``state_dict``: DQN's (its target network
syncs every ``target_update_freq`` updates) and TD3's (its actor updates every ``update_actor_freq``)."""


def algorithm_state(algorithm: Algorithm) -> dict[str, Any]:
    return {
        "algorithm": algorithm.state_dict(),
        "lr_schedulers": [s.state_dict() for s in algorithm.lr_schedulers],
        "extra_optimizers": [o.state_dict() for o in _extra_optimizers(algorithm)],
        "counters": {k: getattr(algorithm, k) for k in UPDATE_COUNTERS if isinstance(getattr(algorithm, k, None), int)},
    }


def load_algorithm_state(algorithm: Algorithm, state: dict[str, Any]) -> None:
    algorithm.load_state_dict(state["algorithm"])
    for sched, s in zip(algorithm.lr_schedulers, state.get("lr_schedulers", []), strict=False):
        sched.load_state_dict(s)
    for opt, s in zip(_extra_optimizers(algorithm), state.get("extra_optimizers", []), strict=False):
        opt.load_state_dict(s)
    for key, value in state.get("counters", {}).items():  # a resumed DQN synced its target at once
        setattr(algorithm, key, value)


class RunLogger(BaseLogger):
    """A Tianshou logger that writes progress lines and the run's checkpoints, and passes every
    statistic on to TensorBoard (``tools/tensorboard_log.py``, Tianshou's own TensorBoard logger).

    Tianshou calls ``save_data`` at the end of every epoch, before the epoch's test, and
    ``restore_data`` on ``resume_from_log``; the counters come from our own checkpoint, written
    atomically, so a kill between two writes never replays or skips an epoch. The checkpoint is
    written after the epoch's test: one written before it would leave a kill during the last test
    with a finished run that never tested (nor kept as best) its final policy, and a resume would
    not test it either.
    """

    def __init__(self, worker: TrainWorker, resumed_step: int | None = None):
        super().__init__(training_interval=1, test_interval=0, update_interval=1)
        self.worker = worker
        self.epoch_end: tuple[int, int, int] | None = None  # the epoch whose test comes next
        self.last_collect_emit = 0.0
        # update steps: one per collection on-policy, one per gradient step off-policy
        self.board = open_board(
            worker.dir,
            worker.job.env,
            worker.cfg.algorithm,
            resumed_step,
            training_interval=1000,
            update_interval=1 if worker.cfg.on_policy else 100,
        )

    def prepare_dict_for_logging(self, log_data: dict) -> dict:
        return log_data

    def write(self, step_type: str, step: int, data: dict) -> None:  # pragma: no cover - unused
        pass

    def finalize(self) -> None:
        self.board.finalize()

    def log_training_data(self, log_data: dict, step: int) -> None:
        self.board.log_training_data(log_data, self.worker.total_steps(step))
        self.worker.collect_time += float(log_data.get("collect_time", 0.0))
        now = time.perf_counter()
        if now - self.last_collect_emit >= 0.5:
            self.last_collect_emit = now
            self.worker.emit(kind="collect", env_step=self.worker.total_steps(step))
        if log_data.get("n_collected_episodes", 0) > 0 and log_data.get("returns_stat"):
            steps, mean = self.worker.total_steps(step), float(log_data["returns_stat"]["mean"])
            self.worker.on_train(steps, mean)
            self.worker.emit(kind="train", env_step=steps, mean=mean)

    def log_update_data(self, log_data: dict, step: int) -> None:
        for key, value in _flat_numbers(log_data):
            if not math.isfinite(value):
                raise DivergenceError(f"non-finite {key}={value} at update step {step}")
        self.board.log_update_data(log_data, step)

    def log_test_data(self, log_data: dict, step: int) -> None:
        stat = log_data["returns_stat"]
        self.worker.test_time += float(log_data.get("collect_time", 0.0))
        # an epoch's test, not the one Tianshou runs as a trainer starts (whose stop it ignores)
        returns = np.asarray(log_data["returns"]) if self.epoch_end is not None else None
        stat["mean"], stat["std"] = self.worker.on_test(step, float(stat["mean"]), float(stat["std"]), returns)
        self.board.log_test_data(log_data, self.worker.total_steps(step))
        if self.epoch_end is not None:  # the checkpoint of the epoch this test closes
            self.worker.maybe_save_checkpoint(*self.epoch_end)
            self.epoch_end = None
            self.board.writer.flush()  # what a kill after this checkpoint must not lose

    def log_info_data(self, log_data: dict, step: int) -> None:
        self.worker.timing = log_data.get("timing", {})

    def save_data(self, epoch: int, env_step: int, update_step: int, save_checkpoint_fn=None) -> None:
        self.epoch_end = (epoch, env_step, update_step)  # written after its test: log_test_data

    def restore_data(self) -> tuple[int, int, int]:
        c = self.worker.restored or {}
        return c.get("epoch", 0), c.get("env_step", 0), c.get("update_step", 0)

    @staticmethod
    def restore_logged_data(log_path: str) -> dict:
        return {}


def _flat_numbers(d: Any, prefix: str = ""):
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _flat_numbers(v, f"{prefix}{k}.")
    elif isinstance(d, (int, float, np.floating)) and not isinstance(d, bool):
        yield prefix.rstrip("."), float(d)


@contextmanager
def children_detached(buffer: ReplayBufferManager | None):
    """A vector buffer's sub-buffers hold views of its arrays, which pickle would write a second
    time: they are left out while it is saved (``_set_batch_for_children`` re-attaches them on load).
    A hindsight buffer is saved with its original goals and without the env's reward function."""
    children = list(buffer.buffers) if isinstance(buffer, ReplayBufferManager) else []
    if isinstance(buffer, HERReplayBufferManager):
        buffer._restore_cache()  # goals relabelled for the last sample go back to the original ones
    metas = [b._meta for b in children]
    reward_fns = [getattr(b, "compute_reward_fn", None) for b in children]  # the env's method: not picklable
    for b in children:
        b._meta = Batch()
        if isinstance(b, FlatHERReplayBuffer):
            b.compute_reward_fn = None
    try:
        yield
    finally:
        for b, meta, fn in zip(children, metas, reward_fns, strict=True):
            b._meta = meta
            if isinstance(b, FlatHERReplayBuffer):
                b.compute_reward_fn = fn


CHECKPOINT_COST_RATIO = 4.0
"""A checkpoint waits until four times its last writing time has passed since it was written."""


class TrainWorker:
    def __init__(self, iter_dir: Path):
        self.dir = iter_dir
        self.job = TrainJob.model_validate_json((iter_dir / JOB).read_text())
        self.cfg = self.job.algo
        self.restored: dict[str, Any] | None = load_checkpoint(iter_dir / CHECKPOINT)
        self.algorithm: Algorithm | None = None
        self.buffer: Any = None
        """Both set by ``build``."""
        self.curve: list[CurvePoint] = []
        self.best_score = -math.inf
        self.prev_wall = 0.0
        self.prev_timing = {"collect": 0.0, "update": 0.0, "test": 0.0}
        self.prev_reward_totals: dict[str, list[float]] = {}
        self.last_save_end = 0.0
        self.last_save_seconds = 0.0
        self.pending_save: tuple[int, int, int] | None = None
        self.timing: dict[str, float] = {}
        self.collect_time = 0.0
        self.test_time = 0.0
        self.pre_steps = 0
        self.agents = 1
        """Agents per game: Tianshou counts slot steps, budgets and curves count joint steps."""
        self.since_best = 0
        """Tests since the best test of a trained policy (``best_trained``), for the plateau rule."""
        self.best_trained = -math.inf
        """The best test of a trained policy: the untrained policy's test is a baseline, not a peak to beat."""
        self.plateau = False
        self.warm_started = False
        """Whether ``restore`` loaded another iteration's weights (a warm start that fails trains from scratch)."""
        self.train_returns: deque[tuple[int, float]] = deque(maxlen=TRAIN_RETURNS_KEPT)
        """(joint env step, mean training return of the episodes a collect finished), for the plateau rule."""
        self.target_reached = False
        self.alive_share: float | None = None
        """The acting network's smallest share of live ReLU units at the last test (``tools.dead_units``)."""
        self.start = time.perf_counter()

    # -- progress -------------------------------------------------------------------------------
    def total_steps(self, trainer_env_step: int) -> int:
        return trainer_env_step // self.agents + self.pre_steps

    def emit(self, **fields: Any) -> None:
        fields["wall"] = round(self._wall(), 3)
        fields["pid"] = os.getpid()  # in the sandbox's PID namespace: not a host pid, nor unique
        fields["session"] = SESSION
        with open(self.dir / PROGRESS, "a") as f:
            f.write(json.dumps(fields) + "\n")

    def on_test(self, env_step: int, mean: float, std: float, returns: np.ndarray | None = None) -> tuple[float, float]:
        """A test's score: its mean and std, confirmed on more episodes when it clears the target
        and its episodes' ``returns`` (per agent slot) are given (``CONFIRM_TEST_FACTOR``). The curve,
        the best policy, the plateau and the stop at the target then read all of them, and a
        confirmed test's policy, the one training stops with, is kept as the best. Returns the
        test's (mean, std) as recorded."""
        steps = self.total_steps(env_step)
        target, n = self.job.target, self.cfg.test_episodes
        self.target_reached = target_met(mean, std, n, target)
        confirmation = {}
        if self.target_reached and returns is not None and len(returns):
            more = self.test_collector.collect(n_episode=len(returns) * CONFIRM_TEST_FACTOR, reset_before_collect=True)
            self.test_time += more.collect_time
            extra = np.asarray(more.returns, dtype=float)
            self.target_reached = target_met(float(extra.mean()), float(extra.std()), n * CONFIRM_TEST_FACTOR, target)
            both = np.concatenate([np.asarray(returns, dtype=float), extra])
            confirmation = {
                "first_mean": mean,
                "episodes": n * (1 + CONFIRM_TEST_FACTOR),
                "confirmed": self.target_reached,
            }
            mean, std = float(both.mean()), float(both.std())
        if not (math.isfinite(mean) and math.isfinite(std)):
            raise DivergenceError(
                f"non-finite test return {mean} at env step {steps}: the env's own reward is not finite there"
            )
        # a test at the step of the last one repeats it: a resumed trainer tests its checkpoint again
        repeat = bool(self.curve) and self.curve[-1].env_step == steps
        untrained = (
            self.curve[-1].untrained if repeat else not self.curve and self.restored is None and not self.warm_started
        )
        point = CurvePoint(env_step=steps, mean=mean, std=std, wall=self._wall(), untrained=untrained)
        if repeat:
            self.curve[-1] = point
        else:
            self.curve.append(point)
        if mean > self.best_score or confirmation.get("confirmed"):
            self.best_score = mean
            self.save_best(steps)
        elif mean == self.best_score:  # a tie (win rates often tie, at 0 too): keep the more trained policy
            self.save_best(steps)
        if not untrained:
            if mean > self.best_trained or confirmation.get("confirmed"):
                self.best_trained = mean
                self.since_best = 0
            else:
                self.since_best += 0 if repeat else 1  # each resume counted one more test toward a plateau
        half_spent = steps >= 0.5 * self.cfg.budget_steps
        self.plateau = self.since_best >= PLATEAU_TESTS and half_spent and not self.training_still_rising()
        # single-agent only: a multi-agent actor reads its slot layout and masks from more than the obs
        self.alive_share = policy_alive_share(self.algorithm, self.buffer) if self.agents == 1 else None
        alive = {} if self.alive_share is None else {"alive": round(self.alive_share, 4)}
        self.emit(
            kind="test",
            env_step=steps,
            mean=mean,
            std=std,
            best=self.best_score,
            **alive,
            **confirmation,
            **({"untrained": True} if untrained else {}),
        )
        return mean, std

    def on_train(self, steps: int, mean: float) -> None:
        self.train_returns.append((steps, mean))

    def training_still_rising(self) -> bool:
        """Whether the training returns since the first of the last ``PLATEAU_TESTS`` tests rise."""
        since = self.curve[-PLATEAU_TESTS].env_step if len(self.curve) >= PLATEAU_TESTS else 0
        return rising([m for step, m in self.train_returns if step > since and math.isfinite(m)])

    def _wall(self) -> float:
        return self.prev_wall + time.perf_counter() - self.start

    # -- persistence ----------------------------------------------------------------------------
    def policy_state(self) -> dict[str, Any]:
        rms = self.train_envs.get_obs_rms() if self.job.mdp.normalize_obs else None
        return {"algorithm": self.algorithm.state_dict(), "obs_rms": rms}

    def save_best(self, env_step: int) -> None:
        save_atomic({**self.policy_state(), "score": self.best_score, "env_step": env_step}, self.dir / BEST_POLICY)

    def maybe_save_checkpoint(self, epoch: int, env_step: int, update_step: int) -> None:
        """A checkpoint at the end of an epoch, unless the last one was written less than
        ``CHECKPOINT_COST_RATIO`` times its own writing time ago: a large replay buffer (a DQN on
        500-value observations: ~1 GB) then costs at most about a fifth of the wall time. A skipped
        one is written when training ends (``flush_checkpoint``)."""
        since = time.perf_counter() - self.last_save_end
        if self.last_save_end and since < CHECKPOINT_COST_RATIO * self.last_save_seconds:
            self.pending_save = (epoch, env_step, update_step)
            return
        started = time.perf_counter()
        self.save_checkpoint(epoch, env_step, update_step)
        self.last_save_end = time.perf_counter()
        self.last_save_seconds = self.last_save_end - started
        self.pending_save = None

    def flush_checkpoint(self) -> None:
        if self.pending_save is not None:
            self.save_checkpoint(*self.pending_save)
            self.pending_save = None

    def save_checkpoint(self, epoch: int, env_step: int, update_step: int) -> None:
        state = {
            **algorithm_state(self.algorithm),
            "obs_rms": self.train_envs.get_obs_rms() if self.job.mdp.normalize_obs else None,
            "epoch": epoch,
            "env_step": env_step,
            "update_step": update_step,
            "pre_steps": self.pre_steps,
            "best_score": self.best_score,
            "since_best": self.since_best,
            "best_trained": self.best_trained,
            "train_returns": list(self.train_returns),
            "curve": [p.model_dump() for p in self.curve],
            "rng": rng_state(),
            "wall": self._wall(),
            "timing": self._timing_total(),
            "eps": getattr(self.algorithm.policy, "eps_training", None),
            "reward_terms": self.reward_totals(),
            "visit_counts": dict(counts.n) if (counts := getattr(self.train_envs, "visit_counts", None)) else None,
            # the stop a test decided: a resume must end where the run did, not train on (a dead net)
            "stopped": {"target": self.target_reached, "plateau": self.plateau, "alive_share": self.alive_share},
        }
        if not self.cfg.on_policy:
            state["buffer"] = self.buffer
        with children_detached(self.buffer if not self.cfg.on_policy else None):
            save_atomic(state, self.dir / CHECKPOINT)
        self.emit(kind="checkpoint", env_step=self.total_steps(env_step), epoch=epoch)

    def reward_totals(self) -> dict[str, list[float]]:
        """Reward-term sums of this and earlier sessions (before a kill) of this iteration."""
        return merged_reward_totals(self.prev_reward_totals, *(log.totals for log in REWARD_LOGS))

    def _timing_total(self) -> dict[str, float]:
        t = self.timing or {}
        return {
            "collect": self.prev_timing["collect"] + self.collect_time,
            "update": self.prev_timing["update"] + float(t.get("train_time_update", 0.0)),
            "test": self.prev_timing["test"] + self.test_time,
        }

    # -- the run --------------------------------------------------------------------------------
    def build(self) -> None:
        job, cfg = self.job, self.cfg
        seed_everything(job.seed)
        self.train_envs = make_vector_env(
            job.env,
            job.mdp,
            cfg.n_train_envs,
            job.seed,
            shape_reward=True,
            update_obs_rms=True,
            novelty_bonus=cfg.novelty_bonus,
        )
        layout = getattr(self.train_envs, "layout", None)
        self.agents = layout.n_agents if layout else 1
        rms = self.train_envs.get_obs_rms() if job.mdp.normalize_obs else None
        # multi-agent: a game per test episode, so each game plays exactly one (see evaluate_policy;
        # games are cheap where they are stacked)
        n_test = cfg.test_episodes if layout else cfg.n_test_envs
        self.test_envs = make_vector_env(
            job.env, job.mdp, n_test, job.seed + TEST_SEED_OFFSET, shape_reward=False, obs_rms=rms
        )
        probe = self.train_envs.get_env_attr("action_space", 0)[0] if layout else action_space_of(job.env)
        self.her_reward = None
        if cfg.her_future_k > 0 and job.mdp.goal is not None and not cfg.on_policy:
            if job.mdp.history > 1:
                raise ValueError("hindsight relabelling needs the goals where the MDP puts them: history must be 1")
            self.goal_env = make_env(job.env)  # its compute_reward relabels sampled goals
            self.her_reward = env_reward_fn(self.goal_env)
        self.device = devices.resolve()
        self.algorithm = build_algorithm(cfg, job.mdp.input_dim, probe, layout, job.mdp.images, job.mdp.history).to(
            self.device
        )
        slots = len(self.train_envs)
        if cfg.on_policy:
            self.buffer = CheckedVectorReplayBuffer(max(cfg.collect_steps * self.agents, slots), slots)
        elif self.her_reward is not None:
            assert job.mdp.goal is not None
            self.buffer = FlatHERVectorReplayBuffer(
                cfg.buffer_size,
                slots,
                compute_reward_fn=self.her_reward,
                horizon=episode_cap(job.env),
                future_k=cfg.her_future_k,
                goal=job.mdp.goal,
            )
        else:
            self.buffer = CheckedVectorReplayBuffer(cfg.buffer_size, slots)

    def _load_env_state(self, state: dict[str, Any]) -> None:
        """Observation statistics, the novelty bonus's visit counts and (off-policy) the replay buffer
        from a checkpoint."""
        counts = getattr(self.train_envs, "visit_counts", None)
        if counts is not None and state.get("visit_counts"):  # else every state earned the full bonus again
            counts.n.update(state["visit_counts"])
        if self.job.mdp.normalize_obs and state.get("obs_rms") is not None:
            self.train_envs.set_obs_rms(state["obs_rms"])
            self.test_envs.set_obs_rms(state["obs_rms"])
        if not self.cfg.on_policy and "buffer" in state:
            self.buffer = state["buffer"]
            self.buffer._set_batch_for_children()
            for child in getattr(self.buffer, "buffers", []):
                if isinstance(child, FlatHERReplayBuffer):
                    child.compute_reward_fn = self.her_reward

    def restore(self) -> None:
        """Continue from this folder's checkpoint, or warm-start from another iteration's."""
        c = self.restored
        if c is None and self.cfg.warm_start_from:
            try:
                warm = load_checkpoint(Path(self.cfg.warm_start_from) / CHECKPOINT)
            except CheckpointOfOtherCodeError:
                warm = None  # a warm start is a head start only: train from scratch
            if warm is not None:
                fresh = copy.deepcopy(self.algorithm.state_dict())
                try:
                    self.algorithm.load_state_dict(warm["algorithm"])
                except (RuntimeError, ValueError, KeyError):
                    # another network shape: train from scratch rather than crash. Tianshou loads the
                    # optimisers before the weights, so theirs (the other shape's) are undone too
                    self.algorithm.load_state_dict(fresh)
                    return
                self._load_env_state(warm)
                self.warm_started = True
            return
        if c is None:
            return
        load_algorithm_state(self.algorithm, c)
        self._load_env_state(c)
        if c.get("eps") is not None and hasattr(self.algorithm.policy, "set_eps_training"):
            self.algorithm.policy.set_eps_training(c["eps"])
        self.pre_steps = c.get("pre_steps", 0)
        self.best_score = c.get("best_score", -math.inf)
        # the best policy is saved at its test, its checkpoint only later (or skipped for cost): a kill
        # in between left a better best_policy.pt than the checkpoint's score, which a weaker test
        # would then overwrite
        try:
            best = load_checkpoint(self.dir / BEST_POLICY) if (self.dir / BEST_POLICY).exists() else None
        except CheckpointOfOtherCodeError:
            best = None
        if best is not None and best.get("score") is not None and best["score"] > self.best_score:
            self.best_score = float(best["score"])
        self.since_best = c.get("since_best", 0)
        self.best_trained = c.get("best_trained", self.best_score)  # older checkpoints: every test counted
        stopped = c.get("stopped", {})
        self.target_reached, self.plateau = stopped.get("target", False), stopped.get("plateau", False)
        self.alive_share = stopped.get("alive_share")
        self.train_returns.extend((int(step), float(m)) for step, m in c.get("train_returns", []))
        self.curve = [CurvePoint(**p) for p in c.get("curve", [])]
        self.prev_wall = c.get("wall", 0.0)
        self.prev_timing = c.get("timing", self.prev_timing)
        self.prev_reward_totals = c.get("reward_terms", {})
        set_rng_state(c["rng"])

    def training_fn(self, epoch: int, env_step: int) -> None:
        cfg = self.cfg
        if cfg.algorithm == "DQN":
            decay = max(1.0, cfg.eps_decay_fraction * cfg.budget_steps)
            frac = min(1.0, self.total_steps(env_step) / decay)
            self.algorithm.policy.set_eps_training(cfg.eps_start + frac * (cfg.eps_final - cfg.eps_start))

    def stop_fn(self, best: float) -> bool:
        """Stop at the target only when the last test cleared it beyond its noise (mean − std/√n), and
        so did its confirmation (``on_test``)."""
        return self.target_reached or self.plateau or is_dead(self.alive_share)

    def ending(self) -> str:
        """Why training that raised nothing ended."""
        if self.target_reached:
            return "target"
        if is_dead(self.alive_share):
            return "dead_units"
        if self.plateau:
            return "plateau"
        if self.curve and not math.isfinite(self.curve[-1].mean):
            return "divergence"
        return "budget"

    def run(self) -> TrainResult:
        self.build()
        self.restore()
        cfg = self.cfg
        resumed_at = self.total_steps(self.restored["env_step"]) if self.restored else 0
        self.emit(kind="start", env_step=resumed_at)
        self.training_collector = EpisodeLengthCollector(
            self.algorithm, self.train_envs, self.buffer, exploration_noise=True
        )
        self.test_collector = EpisodeLengthCollector(self.algorithm, self.test_envs, stats_buffer(len(self.test_envs)))
        warmup = warmup_steps(cfg)
        if self.restored is None and warmup > 0 and not self.warm_started:
            with policy_within_training_step(self.algorithm.policy):
                self.training_collector.reset()
                stats = self.training_collector.collect(n_step=warmup, random=True)
            self.pre_steps = stats.n_collected_steps
            self.collect_time += stats.collect_time
        logger = RunLogger(self, resumed_step=resumed_at if self.restored else None)
        params = trainer_params(
            cfg,
            agents=self.agents,
            training_collector=self.training_collector,
            test_collector=self.test_collector,
            training_fn=self.training_fn,
            stop_fn=self.stop_fn,
            logger=logger,
            resume_from_log=self.restored is not None,
            verbose=False,
            show_progress=False,
        )
        params.max_epochs = max(1, math.ceil((cfg.budget_steps - self.pre_steps) / cfg.epoch_steps))
        trainer = self.algorithm.create_trainer(params)
        error, stop_reason = None, "budget"
        try:
            if self.restored is not None and (
                self.restored.get("epoch", 0) >= params.max_epochs or self.ending() != "budget"
            ):
                info_env_step = self.restored["env_step"]  # finished or stopped before the kill: nothing to redo
            else:
                trainer.run(reset_collectors=True, reset_collector_buffers=False)
                info_env_step = trainer._env_step
                self.flush_checkpoint()
        except (DivergenceError, NonFiniteRewardError) as e:
            error, stop_reason, info_env_step = str(e), "divergence", trainer._env_step
        finally:
            logger.finalize()
        if error is None:
            stop_reason = self.ending()
        timing = self._timing_total()
        return TrainResult(
            env_steps=self.total_steps(info_env_step),
            best_test_mean=self.best_score if math.isfinite(self.best_score) else None,
            stop_reason=stop_reason,  # type: ignore[arg-type]
            curve=self.curve,
            wall_seconds=self._wall(),
            time_collect=timing["collect"],
            time_update=timing["update"],
            time_test=timing["test"],
            resumed_at_step=resumed_at,
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            reward_terms=reward_term_stats(self.reward_totals()),
            alive_share=self.alive_share,
            error=error,
            device=self.device,
            iter_dir=str(self.dir),
        )


def action_space_of(env_ref: str):
    """The action space the learner acts in (after Agent²'s wrappers: a MultiDiscrete becomes one
    Discrete); Tianshou's ``get_env_attr`` reads the unwrapped env's."""
    env = make_env(env_ref)
    try:
        return env.action_space
    finally:
        env.close()


def reward_term_stats(totals: dict[str, list[float]]) -> dict[str, RewardTermStats]:
    """Each term's episode mean and spread, how often it fired and its share of the reward."""
    means = {name: row[1] / row[0] for name, row in totals.items() if row[0] > 0}
    scale = sum(abs(m) for m in means.values()) or 1.0
    out = {}
    for name, m in means.items():
        episodes, _, sumsq, steps, nonzero = totals[name]
        out[name] = RewardTermStats(
            episode_mean=m,
            episode_std=math.sqrt(max(0.0, sumsq / episodes - m * m)),
            nonzero_fraction=nonzero / steps if steps else 0.0,
            share=abs(m) / scale,
        )
    return out


def train(iter_dir: Path, eval_episodes: int = 0) -> None:
    """Train; then, with ``eval_episodes``, evaluate the best policy here (saves a process start)."""
    result = TrainWorker(iter_dir).run()
    write_text_atomic(iter_dir / TRAIN_RESULT, result.model_dump_json(indent=1))
    if eval_episodes > 0 and result.best_test_mean is not None:
        evaluate(iter_dir, eval_episodes)


def load_policy(job: TrainJob, policy_file: Path) -> tuple[Algorithm, Any]:
    """Rebuild the algorithm a job describes and load saved weights; returns (algorithm, obs_rms)."""
    probe = make_mdp_env(job.env, job.mdp.code, job.mdp.obs_dim, shape_reward=False)
    algorithm = build_algorithm(
        job.algo, job.mdp.input_dim, probe.action_space, agent_layout(job.env, job.mdp), job.mdp.images, job.mdp.history
    ).to(devices.resolve())
    probe.close()
    state = load_checkpoint(policy_file)
    if state is None:
        raise FileNotFoundError(f"no readable policy weights at {str(policy_file)!r}")
    algorithm.load_state_dict(state["algorithm"])
    algorithm.eval()
    return algorithm, state.get("obs_rms")


def evaluate_policy(job: TrainJob, policy_file: Path, episodes: int, seed: int, adaptive: bool = True) -> EvalResult:
    """Deterministic episodes on the original reward (no shaping) with the saved policy.

    With ``adaptive`` and a target, episodes are added (doubling, up to ``EVAL_GROWTH_CAP`` times
    ``episodes`` and ``MAX_EVAL_EPISODES``) while the 95% interval of the mean still holds the
    target, so the decision (``tools.run_rules.target_met``: mean − std/√episodes ≥ target, one
    standard error) rests on as many episodes as the policy's noise needs, up to the cap."""
    start = time.perf_counter()
    algorithm, rms = load_policy(job, policy_file)
    games = min(episodes, 10)
    envs = make_vector_env(job.env, job.mdp, games, seed, shape_reward=False, obs_rms=rms)
    layout = getattr(envs, "layout", None)
    agents = layout.n_agents if layout else 1  # multi-agent: one return per agent and episode
    cap = min(MAX_EVAL_EPISODES, EVAL_GROWTH_CAP * episodes) if adaptive else episodes
    _, keys = env_traits(job.env)
    longest = episode_cap(job.env) if keys else 0
    returns: list[float] = []
    lens: list[float] = []
    weighted: dict[str, float] = {}
    batch = episodes
    while True:  # a collector per batch: the metrics buffer holds one batch's episodes, not the cap's
        rounds = math.ceil(batch / games)
        size = 2 * rounds * games * agents * (longest + 1)  # the whole batch, for its metric keys
        buffer = EpisodeStatsBuffer(size, len(envs)) if keys else stats_buffer(len(envs))
        collector = EpisodeLengthCollector(algorithm, envs, buffer)
        collector.reset()
        before = len(returns)
        # one episode per env (game) and round: see EpisodeLengthCollector
        stats = collector.collect(n_episode=rounds * len(envs))
        returns += [float(r) for r in stats.returns]
        lens += [float(n) for n in stats.lens]
        new = (len(returns) - before) // agents
        for key, value in (episode_metrics(buffer, keys) if keys else {}).items():
            weighted[key] = weighted.get(key, 0.0) + value * new
        done = len(returns) // agents
        if not needs_more_episodes(episode_means(returns, agents), job.target, cap):
            break
        batch = min(done, cap - done)
    envs.close()
    metrics = {key: total / done for key, total in weighted.items()}
    low, high = mean_ci(episode_means(returns, agents))  # episodes, not agent-episodes, are the samples
    return EvalResult(
        mean=float(np.mean(returns)),
        std=float(np.std(returns)),
        episodes=len(returns) // agents,
        returns=returns,
        agents=agents,
        metrics=metrics,
        mean_length=float(np.mean(lens)),
        lengths=lens,
        ci_low=low,
        ci_high=high,
        wall_seconds=time.perf_counter() - start,
        seed=seed,
    )


def episode_cap(env_ref: str) -> int:
    env = make_env(env_ref)
    try:
        return episode_limit(env) or 1000
    finally:
        env.close()


def episode_metrics(buffer: VectorReplayBuffer, keys: tuple[str, ...]) -> dict[str, float]:
    """Means over the collected episodes of the env's episode-end ``info`` values (success, ...)."""
    batch, _ = buffer.sample(0)
    ends = np.logical_or(batch.terminated, batch.truncated)
    out = {}
    for key in keys:
        values = batch.info.get(key) if hasattr(batch.info, "get") else None
        if values is not None and np.any(ends):
            out[key] = float(np.mean(np.asarray(values, dtype=np.float64)[ends]))
    return out


def evaluate(iter_dir: Path, episodes: int, confirm: bool = False) -> None:
    """The iteration's best policy on the original reward; with ``confirm``, the run's chosen policy
    again on seeds no evaluation played (``nodes/confirm.py``), written apart and not logged."""
    job = TrainJob.model_validate_json((iter_dir / JOB).read_text())
    offset, name = (CONFIRM_SEED_OFFSET, CONFIRM_RESULT) if confirm else (EVAL_SEED_OFFSET, EVAL_RESULT)
    result = evaluate_policy(job, iter_dir / BEST_POLICY, episodes, seed=job.seed + offset)
    write_text_atomic(iter_dir / name, result.model_dump_json(indent=1))
    if confirm:
        return
    trained = iter_dir / TRAIN_RESULT
    step = TrainResult.model_validate_json(trained.read_text()).env_steps if trained.exists() else 0
    write_evaluation(
        iter_dir, job.env, job.algo.algorithm, step, result.mean, result.std, result.episodes, result.metrics
    )


def torch_threads(iter_dir: Path) -> int:
    """Intra-op threads: AGENT2_TORCH_THREADS, else the idle cores for wide networks (an isolated SAC
    update with 256-wide nets runs 1.5-1.8x faster on 2 threads than on 1 on an idle 2-core machine,
    though a whole Humanoid training run gained only ~1% of env steps/s: bench/results/
    humanoid-v5-sac-threads-8b35542.json) and one for small ones, whose tiny matrix products only lose
    to thread hand-offs. Threads on a core another process holds make updates ~10x slower, hence the
    load average."""
    asked = devices.requested_threads()
    if asked is not None:
        return max(1, asked)
    try:
        widest = max(TrainJob.model_validate_json((iter_dir / JOB).read_text()).algo.hidden_sizes)
    except (OSError, ValueError):
        widest = 0
    cores = max(1, os.cpu_count() or 1)
    if widest < 256:
        return 1
    idle = cores - os.getloadavg()[0]  # threads that wait on a busy core spin: only take idle ones
    return max(1, min(cores, int(idle + 0.5)))


def main(argv: list[str]) -> int:
    mode, iter_dir = argv[0], Path(argv[1])
    torch.set_num_threads(torch_threads(iter_dir))
    if mode == "train":
        train(iter_dir, int(argv[2]) if len(argv) > 2 else 0)
    elif mode in ("evaluate", "confirm"):
        evaluate(iter_dir, int(argv[2]), confirm=mode == "confirm")
    elif mode == "play":  # an exported agent's folder
        from tools.agent_io import PLAY_RESULT, POLICY_FILE, load_job  # one mode's needs, not every worker's

        result = evaluate_policy(
            load_job(iter_dir), iter_dir / POLICY_FILE, int(argv[2]), seed=int(argv[3]), adaptive=False
        )
        write_text_atomic(iter_dir / PLAY_RESULT, result.model_dump_json(indent=1))
    elif mode == "export":  # an exported agent's folder, as a standalone policy
        from envs.errors import Agent2Error
        from tools.standalone import export_standalone  # onnx loads only for an export

        try:
            export_standalone(iter_dir, argv[2])
        except Agent2Error as e:
            print(f"agent2: error: {e}", file=sys.stderr)
            return 2
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
