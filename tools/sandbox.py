"""Run untrusted (generated) code in a separate process with limits and no secrets.

Guards in place here: a separate process, a wall-clock timeout, an address-space limit
(``RLIMIT_AS``), a CPU-time limit, no inherited secrets (any variable whose name looks like a key,
token, secret or password, and every ``OPENAI_*``/``LANGSMITH_*``/``LANGCHAIN_*`` variable is
dropped), and death with the parent (``PR_SET_PDEATHSIG``). Not guarded here: file-system
writes and network access (a namespace sandbox such as bubblewrap is the place for those).
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)
SECRET_PREFIXES = ("OPENAI_", "LANGSMITH_", "LANGCHAIN_", "ANTHROPIC_", "AGENT2_API", "AWS_", "HF_")
DEFAULT_MEMORY_BYTES = 12 * 1024**3
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def scrubbed_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without anything that looks like a credential."""
    env = {
        k: v for k, v in os.environ.items()
        if not SECRET_NAME.search(k) and not k.startswith(SECRET_PREFIXES)
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env["PYTHONUNBUFFERED"] = "1"
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


def start(module: str, args: Sequence[str], log_path: Path, memory_bytes: int = DEFAULT_MEMORY_BYTES,
          cpu_seconds: int | None = None) -> subprocess.Popen:
    """Start ``python -m module args...`` sandboxed, stdout and stderr into ``log_path``."""
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=scrubbed_env(), cwd=str(log_path.parent),
            preexec_fn=_limits(memory_bytes, cpu_seconds), close_fds=True,
        )
    finally:
        log.close()


def run(module: str, args: Sequence[str], log_path: Path, timeout: float,
        memory_bytes: int = DEFAULT_MEMORY_BYTES) -> int:
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


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def log_tail(log_path: Path, lines: int = 12) -> str:
    try:
        text = log_path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])
