"""Escape attempts run through the sandbox (``python -m tests.envfiles.escape ATTEMPT REPORT [ARG]``).

Each writes what it managed into REPORT (inside its own folder), so a test can tell a guard held.
"""

import os
import socket
import sys
import time


def main() -> None:
    attempt, report, arg = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else "")
    outcome = ""
    if attempt == "secret":
        outcome = os.environ.get("OPENAI_API_KEY", "")
    elif attempt == "network":
        host, port = arg.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=3).close()
            outcome = "connected"
        except OSError as e:
            outcome = f"refused: {e}"
    elif attempt == "write":
        try:
            with open(arg, "w") as f:
                f.write("escaped")
            outcome = "written"
        except OSError as e:
            outcome = f"refused: {e}"
    elif attempt == "environ":  # another process's environment, through /proc
        seen = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    seen.append(arg.encode() in f.read())
            except OSError:
                continue
        outcome = f"seen in {sum(seen)} of {len(seen)}"
    elif attempt == "link-log":  # leave a link where the parent writes this process's log next time
        os.remove("worker.log")
        os.symlink(arg, "worker.log")
        outcome = "linked"
    elif attempt == "memory":
        try:
            block = bytearray(int(arg))
            outcome = f"allocated {len(block)}"
        except MemoryError:
            outcome = "MemoryError"
    elif attempt == "time":
        with open(report, "w") as f:
            f.write("started")
        time.sleep(float(arg))
        outcome = "finished"
    with open(report, "w") as f:
        f.write(outcome)


if __name__ == "__main__":
    main()
