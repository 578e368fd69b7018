"""Run untrusted (generated) code in a separate process with limits and no secrets.

Always: a separate process, a wall-clock timeout, an address-space limit (``RLIMIT_AS``), a
CPU-time limit, no inherited secrets (any variable whose name looks like a key, token, secret or
password, and every ``OPENAI_*``/``LANGSMITH_*``/``LANGCHAIN_*`` variable is dropped), and death
with the parent (``PR_SET_PDEATHSIG``).

Where bubblewrap (``bwrap``) is installed, the process also runs in its namespaces: the whole
file system read-only except its own folder (the iteration or check folder) and the sandbox's own
cache folder (numba and JAX compilation caches that only sandboxed processes read: the parent never
loads what generated code could have written), a private ``/tmp``-like folder inside its own, a
size-capped ``/dev/shm``, a network namespace with nothing in it (no route anywhere, not even to the
host's loopback services), its own IPC namespace, and its own PID namespace (``/proc`` shows only
the sandbox's processes, so no other process's environment can be read, and every process it
starts dies with it).

The parent writes and reads files in that folder, where the code can leave links or FIFOs in their
place: ``write_text``, ``open_append`` and ``read_text`` here never follow a link nor block on a
non-regular file. ``AGENT2_SANDBOX=bwrap`` makes bubblewrap required (an error if missing),
``none`` turns it off, ``auto`` (default) uses it when present. Without it, file-system writes and
the network are not guarded.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from envs.caches import cache_dir
from tools import devices

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)
SECRET_PREFIXES = (
    "OPENAI_",
    "LANGSMITH_",
    "LANGCHAIN_",
    "ANTHROPIC_",
    "AGENT2_API",
    "AGENT2_CHECKPOINTER",
    "AWS_",
    "HF_",
)
"""Names dropped whole (the checkpointer URL may hold a database password)."""
DEFAULT_MEMORY_BYTES = 12 * 1024**3
SHM_BYTES = 2 * 1024**3
"""The size of the sandbox's ``/dev/shm`` (RAM the address-space limit does not count)."""
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SandboxUnavailableError(RuntimeError):
    pass


def bwrap_path() -> str | None:
    """bubblewrap's path when it is to be used (``AGENT2_SANDBOX``: auto, bwrap or none)."""
    mode = os.environ.get("AGENT2_SANDBOX", "auto").lower()
    if mode not in ("auto", "bwrap", "none"):
        raise SandboxUnavailableError(f"AGENT2_SANDBOX={mode!r}: use auto, bwrap or none")
    if mode == "none":
        return None
    found = shutil.which("bwrap")
    if found is None and mode == "bwrap":
        raise SandboxUnavailableError(
            "AGENT2_SANDBOX=bwrap but bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        )
    return found


def guards() -> str:
    """What the sandbox guards on this machine, in one line."""
    base = "own process, time and memory limits, no secrets in its environment"
    if bwrap_path():
        return base + "; bubblewrap: read-only file system but its folder, no network, its own processes only"
    return base + "; NOT guarded: file-system writes, network (install bubblewrap)"


def namespace_prefix(folder: Path) -> list[str]:
    """The bubblewrap command that confines a process to ``folder`` (empty without bubblewrap)."""
    bwrap = bwrap_path()
    if bwrap is None:
        return []
    cache = sandbox_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    folder = folder.resolve()
    gpu = [arg for node in _gpu_nodes() for arg in ("--dev-bind", node, node)]
    return [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        *gpu,
        "--size",
        str(SHM_BYTES),
        "--tmpfs",
        "/dev/shm",
        "--unshare-pid",
        "--proc",
        "/proc",
        "--bind",
        str(folder),
        str(folder),
        "--bind",
        str(cache),
        str(cache),
        "--unshare-net",
        "--unshare-ipc",
        "--new-session",
        "--die-with-parent",
        "--chdir",
        str(folder),
    ]


def _gpu_nodes() -> list[str]:
    """The GPU's device files, when the worker may use CUDA (``$AGENT2_DEVICE`` is not cpu) and there
    is one; bubblewrap's /dev has none otherwise."""
    return devices.gpu_device_nodes() if devices.requested() != "cpu" else []


def sandbox_cache_dir() -> Path:
    """Compilation caches for sandboxed processes only (they write them; the parent never reads them)."""
    return cache_dir() / "sandbox"


def scrubbed_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without anything that looks like a credential."""
    env = {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k) and not k.startswith(SECRET_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env["PYTHONUNBUFFERED"] = "1"
    env["AGENT2_CACHE_DIR"] = str(sandbox_cache_dir())  # envs.caches.cache_dir() in the sandbox
    env["NUMBA_CACHE_DIR"] = str(sandbox_cache_dir() / "numba")  # the parent's own is set in its environ
    # matplotlib (Tianshou imports it) keeps its font cache there: the sandbox's home is read-only
    env.setdefault("MPLCONFIGDIR", str(sandbox_cache_dir() / "matplotlib"))
    env.update(extra or {})
    return env


def _limits(memory_bytes: int, cpu_seconds: int | None) -> Callable[[], None]:
    def apply() -> None:
        os.setsid()
        try:  # die with the parent, even on kill -9
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        if cpu_seconds is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))

    return apply


def start(
    module: str,
    args: Sequence[str],
    log_path: Path,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
    cpu_seconds: int | None = None,
) -> subprocess.Popen:
    """Start ``python -m module args...`` sandboxed in ``log_path``'s folder, stdout and stderr into the log."""
    folder = log_path.parent
    if _gpu_nodes():  # the CUDA driver reserves far more address space than it uses: no RLIMIT_AS then
        memory_bytes = resource.RLIM_INFINITY
    tmp = folder / ".tmp"
    tmp.mkdir(exist_ok=True)
    log = open_append(log_path)
    try:
        return subprocess.Popen(
            [*namespace_prefix(folder), sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=scrubbed_env({"TMPDIR": str(tmp.resolve())}),
            cwd=str(folder),
            preexec_fn=_limits(memory_bytes, cpu_seconds),
            close_fds=True,
        )
    finally:
        log.close()


def run(
    module: str, args: Sequence[str], log_path: Path, timeout: float, memory_bytes: int = DEFAULT_MEMORY_BYTES
) -> int:
    """Run to completion; a run over ``timeout`` seconds is killed and returns -9."""
    proc = start(module, args, log_path, memory_bytes, cpu_seconds=int(timeout) + 5)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(proc)
        return -9
    except BaseException:
        kill(proc)
        raise


def killing_signal(returncode: int | None) -> int | None:
    """The signal that ended a sandboxed process, or None (bubblewrap reports it as 128 + signal)."""
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    if 128 < returncode < 160 and bwrap_path() is not None:
        return returncode - 128
    return None


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def log_tail(log_path: Path, lines: int = 12) -> str:
    try:
        text = read_text(log_path).strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` sets it, racing other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


TEMP_NAME = re.compile(r"^\..+\.\d+\.[a-z0-9_]{8}$")
"""A ``replacing`` writer's temp file: ``.NAME.PID.XXXXXXXX`` (the pid as the writer saw it; in the
sandbox's PID namespace, not a host pid) beside the file it replaces."""
_NO_FLOCK = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}
"""What ``flock`` raises on a file system without it (some FUSE, 9p, Lustre mounts)."""


@contextmanager
def replacing(path: Path, mode: str = "w", keep_previous: bool = False, private: bool = False) -> Iterator[IO]:
    """A file to write that replaces ``path`` atomically once the block ends: a new file beside it
    (``mkstemp``: O_EXCL, never through a link), synced to disk, renamed over ``path`` (the old one
    kept as ``path.prev`` with ``keep_previous``). Readers see the old or the new content, never a
    torn one. Its mode is a plain write's under the umask, or 0600 when ``private``. The writer holds
    an ``flock`` on it until it is renamed (where the file system has ``flock``), which tells
    ``remove_stale_temps`` a live writer's file from a dead one's, across PID namespaces."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            if e.errno not in _NO_FLOCK:
                raise
        os.fchmod(fd, 0o600 if private else 0o666 & ~_umask())  # mkstemp's 0600 hid reports and records
        f = os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            if keep_previous and path.exists():
                os.replace(path, path.with_name(path.name + ".prev"))
            os.replace(tmp, path)  # before the lock goes with the file's close
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(folder: Path) -> list[str]:
    """Delete the temp files (``replacing``) of writers that died before renaming them (a ``kill
    -9`` mid-write: a checkpoint's can weigh as much as its replay buffer): those no process holds
    locked. Called where no writer can be between creating its file and locking it (the folder's
    training lock held, its worker gone). Links, other non-files and files on a file system without
    ``flock`` are left. Returns the names removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        if not TEMP_NAME.match(e.name):
            continue
        try:  # for writing: NFS emulates flock with POSIX locks, whose exclusive lock needs it
            fd = os.open(e.path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:  # gone, a link (ELOOP), not ours to write
            continue
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: a live writer holds it
                os.unlink(e.path)
                removed.append(e.name)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def write_text(path: str | Path, text: str) -> None:
    """Write ``path`` atomically (``replacing``); in a folder sandboxed code can write to, a link
    the code left at ``path`` (or at a temp name) is replaced, never followed."""
    with replacing(Path(path)) as f:
        f.write(text)


def open_append(path: Path):
    """``path`` opened to append in binary, never through a link nor into a FIFO or device (one left
    at ``path`` is removed first)."""
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as e:
            if e.errno not in (errno.ELOOP, errno.ENXIO):  # a link; a FIFO nobody reads
                raise
            path.unlink(missing_ok=True)
            continue
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.set_blocking(fd, True)
            return os.fdopen(fd, "ab")
        os.close(fd)
        path.unlink(missing_ok=True)
    raise OSError(errno.ELOOP, f"{str(path)!r} keeps being replaced by a link or a special file")


def open_read(path: Path):
    """``path`` opened to read as text, refused (``OSError``) when it is a link or not a regular file:
    a FIFO left by sandboxed code would block the reader."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"{str(path)!r} is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "r", errors="replace")


def read_text(path: Path) -> str:
    """``path``'s text, never through a link nor from a FIFO or device (``OSError`` then)."""
    with open_read(path) as f:
        return f.read()
