"""Where a candidate trains: the seam between the graph's fan-out and the machines.

``LocalExecutor`` (default) runs each candidate's sandboxed worker process on this machine, at
most ``max_parallel`` at once (default: the CPU count). ``RayExecutor`` runs each candidate as a
Ray task on an existing cluster with the resources it declares (``num_cpus``), then ships the
candidate's folder back into the run folder. Both return the same ``(TrainResult, EvalResult)``;
the graph never knows which one ran.
"""

from __future__ import annotations

import io
import os
import socket
import tarfile
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from envs.errors import Agent2Error
from tools import sandbox
from tools.run_files import PROGRESS
from tools.schemas import EvalResult, TrainJob, TrainResult
from tools.training import ProgressFn, evaluate_trained, follow_progress, run_training

TOKEN_FILE = ".executor_token"
"""A random token the driver writes into a candidate's folder; a Ray task that reads the same token
there shares the driver's file system and trains in place (so its checkpoints survive a crash)."""


class ExecutorError(Agent2Error):
    pass


class Executor(ABC):
    name: str

    @abstractmethod
    def run(
        self, job: TrainJob, folder: Path, eval_episodes: int, on_progress: ProgressFn | None = None
    ) -> tuple[TrainResult, EvalResult]:
        """Train ``job`` in ``folder`` (continuing from its checkpoint if any) and evaluate it."""


def train_and_evaluate(
    job: TrainJob, folder: Path, eval_episodes: int, on_progress: ProgressFn | None = None
) -> tuple[TrainResult, EvalResult]:
    train = run_training(job, folder, on_progress=on_progress, eval_episodes=eval_episodes)
    return train, evaluate_trained(train, folder, eval_episodes)


class LocalExecutor(Executor):
    """Worker processes on this machine, bounded by one semaphore per process and limit."""

    name = "local"
    _slots: dict[int, threading.BoundedSemaphore] = {}
    _lock = threading.Lock()

    def __init__(self, max_parallel: int | None = None):
        self.max_parallel = max_parallel or os.cpu_count() or 1
        with self._lock:
            self.slots = self._slots.setdefault(self.max_parallel, threading.BoundedSemaphore(self.max_parallel))

    def run(
        self, job: TrainJob, folder: Path, eval_episodes: int, on_progress: ProgressFn | None = None
    ) -> tuple[TrainResult, EvalResult]:
        with self.slots:
            return train_and_evaluate(job, folder, eval_episodes, on_progress)


def pack(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink() and path.name != TOKEN_FILE:  # links: never followed
                tar.add(path, arcname=str(path.relative_to(folder)))
    return buf.getvalue()


def unpack(data: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")  # no absolute paths, no links out of the folder


def _ray_task(job_json: str, folder: str, token: str, archive: list, eval_episodes: int) -> dict[str, Any]:
    """Body of the Ray task: on the driver's file system when the token matches, else in a scratch
    folder filled from (and packed back into) the shipped archive."""
    import ray  # the [ray] extra: only a Ray task imports it

    job = TrainJob.model_validate_json(job_json)
    where = Path(folder)
    try:
        shared = (where / TOKEN_FILE).read_text() == token
    except OSError:
        shared = False
    if shared:
        train, ev = train_and_evaluate(job, where, eval_episodes)
        return {
            "train": train.model_dump(),
            "eval": ev.model_dump(),
            "archive": None,
            "node": ray.util.get_node_ip_address(),
        }
    with tempfile.TemporaryDirectory(prefix="agent2-ray-") as tmp:
        scratch = Path(tmp) / where.name
        unpack(ray.get(archive[0]), scratch)
        train, ev = train_and_evaluate(job, scratch, eval_episodes)
        return {
            "train": train.model_dump(),
            "eval": ev.model_dump(),
            "archive": pack(scratch),
            "scratch": str(scratch),
            "node": ray.util.get_node_ip_address(),
        }


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, with the reason, where Ray itself would retry for minutes: the head's port must
    accept a TCP connection (``host:port`` or ``ray://host:port``)."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorError(f"Ray address {address!r}: expected host:port or ray://host:port")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise ExecutorError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from e


class RayExecutor(Executor):
    """One Ray task per candidate on an existing cluster (``address``), or a local one when None.

    The cluster's nodes need Agent² installed (the same Python packages as this machine).
    """

    name = "ray"
    _init_lock = threading.Lock()

    def __init__(self, address: str | None = None, cpus_per_trial: float = 1.0, ship: bool = False):
        """``ship``: always send the candidate's folder to the task and back, even when the task's node
        shares this file system (what a cluster of separate machines does; the tests use it)."""
        try:
            import ray
        except ImportError as e:
            raise ExecutorError("executor 'ray' needs Ray: pip install 'agent2[ray]'") from e
        self.ray = ray
        self.cpus_per_trial = cpus_per_trial
        self.ship = ship
        with self._init_lock:
            if not ray.is_initialized():
                if address is not None and address != "auto":
                    check_reachable(address)
                options: dict[str, Any] = {"log_to_driver": False}
                if address is None:  # a Ray of our own on this machine: no dashboard
                    options.update(include_dashboard=False, configure_logging=False)
                try:
                    ray.init(address=address, **options)
                except (ConnectionError, RuntimeError, ValueError) as e:
                    raise ExecutorError(f"cannot join Ray cluster {address or '(local)'}: {e}") from e
        self.remote = ray.remote(_ray_task)

    def run(
        self, job: TrainJob, folder: Path, eval_episodes: int, on_progress: ProgressFn | None = None
    ) -> tuple[TrainResult, EvalResult]:
        folder.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        sandbox.write_text(folder / TOKEN_FILE, "shipped" if self.ship else token)
        archive = self.ray.put(pack(folder))  # fetched by the task only off the driver's file system
        ref = self.remote.options(num_cpus=self.cpus_per_trial, max_retries=0).remote(
            job.model_dump_json(), str(folder.resolve()), token, [archive], eval_episodes
        )
        offset = 0
        while True:
            ready, _ = self.ray.wait([ref], timeout=0.5)
            offset = follow_progress(folder / PROGRESS, offset, on_progress)
            if ready:
                break
        try:
            out = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            message = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            return (
                TrainResult.crashed(str(folder), f"Ray task failed: {message}"),
                EvalResult.failed("no policy to evaluate: the Ray task failed"),
            )
        train, ev = TrainResult.model_validate(out["train"]), EvalResult.model_validate(out["eval"])
        if out["archive"] is not None:  # trained off this file system: bring its folder home
            unpack(out["archive"], folder)
            train = train.model_copy(update={"iter_dir": str(folder)})
            follow_progress(folder / PROGRESS, offset, on_progress)
        return train, ev


def get_executor(name: str, max_parallel: int | None = None, ray_address: str | None = None) -> Executor:
    if name == "local":
        return LocalExecutor(max_parallel)
    if name == "ray":
        return RayExecutor(ray_address)
    raise ExecutorError(f"unknown executor {name!r}; choose local or ray")
