"""Where runs live, checked at every door: thread ids, run folders inside the runs folder, the runs
root a server confines its clients to, and one process per thread at a time.

Every path built from a thread id goes through ``run_folder``: the id must match ``THREAD_ID`` and
the resolved folder must lie directly inside the resolved runs folder (a symlink cannot lead out).
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from envs.errors import Agent2Error

THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
THREAD_ID_RULE = "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"
RUNS_ROOT_VAR = "AGENT2_RUNS_DIR"
LOCK = "run.lock"


class BadThreadIdError(Agent2Error):
    pass


class ThreadBusyError(Agent2Error):
    pass


class UnknownThreadError(Agent2Error):
    pass


def check_thread_id(thread_id: object) -> str:
    """``thread_id`` when it is a safe run name; a one-line error naming it otherwise."""
    if not isinstance(thread_id, str) or not THREAD_ID.fullmatch(thread_id) or thread_id in (".", ".."):
        shown = thread_id if isinstance(thread_id, str) else type(thread_id).__name__
        shown = shown[:80] + "…" if isinstance(shown, str) and len(shown) > 80 else shown
        raise BadThreadIdError(f"thread id {shown!r} is not allowed: use {THREAD_ID_RULE}")
    return thread_id


def run_folder(runs_dir: str | Path, thread_id: str) -> Path:
    """The folder of run ``thread_id``: checked to lie directly inside ``runs_dir`` (both resolved)."""
    check_thread_id(thread_id)
    root = Path(runs_dir).resolve()
    folder = (root / thread_id).resolve()
    if folder.parent != root:
        raise BadThreadIdError(f"thread id {thread_id!r} leads outside the runs folder {str(root)!r}")
    return folder


def runs_root() -> Path:
    """The runs root an operator set for a server: ``$AGENT2_RUNS_DIR``, else ``./runs`` where it runs."""
    return Path(os.environ.get(RUNS_ROOT_VAR) or "runs").resolve()


def confine(path: str | Path, root: Path, what: str = "runs_dir") -> Path:
    """``path`` resolved (relative to ``root``) when it lies inside ``root``; a one-line error otherwise."""
    if isinstance(path, str) and ("\x00" in path or not path.strip()):
        raise Agent2Error(f"{what} {path!r} is not a usable path")
    resolved = (root / Path(path).expanduser()).resolve()
    if resolved != root and root not in resolved.parents:
        raise Agent2Error(
            f"{what} {str(path)!r} is outside the server's runs root {str(root)!r} "
            f"(set by ${RUNS_ROOT_VAR} where the server runs)"
        )
    return resolved


def _resolved(text: str) -> Path | None:
    """``text`` as an absolute path, or None when the OS cannot name it (empty, NUL byte, too long)."""
    if not text.strip() or "\x00" in text:
        return None
    try:
        return Path(text).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return None


def _is(path: Path, test) -> bool:
    """``test(path)`` (exists, is_dir, is_file), False where the OS refuses the name (too long, ...)."""
    try:
        return test(path)
    except (OSError, ValueError):
        return False


def check_runs_dir(path: str | Path) -> Path:
    """The runs folder, resolved, when it is (or can be made) a writable folder; writes nothing."""
    text = str(path)
    folder = _resolved(text)
    if folder is None:
        raise Agent2Error(f"runs folder {text!r} is not a usable path")
    existing = next(p for p in (folder, *folder.parents) if _is(p, Path.exists))
    if not _is(existing, Path.is_dir):
        where = "" if existing == folder else f" ({str(existing)!r} is a file)"
        raise Agent2Error(f"runs folder {text!r} is not a folder{where}; choose another --runs-dir")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise Agent2Error(
            f"runs folder {text!r} cannot be written ({str(existing)!r} is not writable); choose another --runs-dir"
        )
    return folder


def writable_runs_dir(path: str | Path) -> Path:
    """The runs folder, created if missing; a one-line error when it is a file or cannot be written."""
    folder = check_runs_dir(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise Agent2Error(
            f"runs folder {str(path)!r} cannot be written ({e.strerror or e}); choose another --runs-dir"
        ) from None
    return folder


def existing_runs_dir(path: str | Path, holding: str, thread_id: str | None = None) -> Path:
    """A runs folder that already holds runs (the file ``holding`` in it), for ``show``, ``resume`` and
    ``fork``: nothing is created, not even a database, in a folder that holds none."""
    text = str(path)
    folder = _resolved(text)
    if folder is None or not _is(folder / holding, Path.is_file):
        if thread_id is not None:
            raise UnknownThreadError(f"no run with thread id {thread_id!r} in {text!r}: that folder holds no runs")
        raise Agent2Error(f"no runs in {text!r} (start one with 'agent2 run --env ENV --runs-dir {text}')")
    return folder


def database_error(path: Path, error: sqlite3.DatabaseError) -> Agent2Error | None:
    """A one-line error for a database file that is damaged (not one that is only busy), else None."""
    if isinstance(error, sqlite3.OperationalError) and "malformed" not in str(error):
        return None
    return Agent2Error(
        f"{str(path)!r} is damaged ({error}); move it aside and start again, or restore it from "
        "a backup (the run folders beside it are untouched)"
    )


def _holder(lock_file: Path) -> str:
    try:
        pid, _, since = lock_file.read_text().partition(" ")
        return f"process {int(pid)}" + (f" (since {since.strip()})" if since.strip() else "")
    except (OSError, ValueError):
        return "another process"


@contextmanager
def thread_lock(runs_dir: str | Path, thread_id: str) -> Iterator[Path]:
    """Hold run ``thread_id`` for this process: a second ``run/resume/fork`` on it is refused with one line
    naming the holder. The lock is the kernel's (``flock``), so a holder that died holds nothing and
    its leftover file is taken over."""
    folder = run_folder(runs_dir, thread_id)
    folder.mkdir(parents=True, exist_ok=True)
    lock_file = folder / LOCK
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(thread_id, lock_file) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        yield folder
    finally:
        os.close(fd)


def check_thread_free(runs_dir: str | Path, thread_id: str) -> None:
    """A one-line error naming the live process that holds run ``thread_id``, if one does."""
    lock_file = run_folder(runs_dir, thread_id) / LOCK
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(thread_id, lock_file) from None
    finally:
        os.close(fd)


def _busy(thread_id: str, lock_file: Path) -> ThreadBusyError:
    return ThreadBusyError(
        f"run {thread_id!r} is in use by {_holder(lock_file)}; wait for it to end or stop it, then try again"
    )
