"""Where a run's graph state lives: SQLite beside the runs folder (the default) or a shared PostgreSQL.

``--checkpointer URL`` (run, resume, fork, runs, show, mcp; it sets ``$AGENT2_CHECKPOINTER``, which
background runs inherit) takes a file path or ``sqlite:///path`` (SQLite; default
``RUNS_DIR/checkpoints.sqlite``) or ``postgresql://user:password@host:port/db`` (LangGraph's
``PostgresSaver``; its tables are created on first use). With PostgreSQL, machines that see the same
database and the same runs folder share runs: one starts a run, another resumes it. The run database
(``agent2.db``, sqlite-utils), the iteration folders and the exported agents stay in the runs folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from envs.errors import Agent2Error

CHECKPOINTER_ENV = "AGENT2_CHECKPOINTER"
CHECKPOINT_DB = "checkpoints.sqlite"
POSTGRES_SCHEMES = ("postgresql", "postgres")
CONNECT_TIMEOUT_S = 10


class CheckpointerError(Agent2Error):
    """A checkpointer URL that is malformed, unreachable or refused."""


def configured() -> str | None:
    return os.environ.get(CHECKPOINTER_ENV) or None


def is_postgres(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in POSTGRES_SCHEMES


def redacted(url: str) -> str:
    """The URL without its password (errors and logs never show it)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def sqlite_path(url: str | None, runs_dir: Path) -> Path:
    """The SQLite file for ``url`` (None: the runs folder's own)."""
    if not url:
        return runs_dir / CHECKPOINT_DB
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") - 1 :] if url.startswith("sqlite:////") else url[len("sqlite:///") :])
    if "://" in url:
        raise CheckpointerError(
            f"checkpointer {redacted(url)!r}: use a file path, sqlite:///path or "
            f"postgresql://user:password@host:port/database"
        )
    return Path(url)


def check(url: str | None) -> str | None:
    """A malformed URL as one line before anything runs; the URL, unchanged."""
    if url is None:
        return None
    if is_postgres(url):
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 - a bad port raises
        except ValueError:
            raise CheckpointerError(f"checkpointer {redacted(url)!r}: the port is not a number") from None
        if not parts.hostname and "host=" not in parts.query:
            raise CheckpointerError(
                f"checkpointer {redacted(url)!r}: no host; use postgresql://user:password@host:port/database"
            )
        return url
    sqlite_path(url, Path("."))
    return url


@contextmanager
def postgres_saver(url: str, serde: Any) -> Iterator[Any]:
    """LangGraph's ``PostgresSaver`` on ``url`` with its tables set up; refusals as one line."""
    try:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
    except ImportError as e:
        raise CheckpointerError(
            f"checkpointer {redacted(url)!r} needs langgraph-checkpoint-postgres and "
            f"psycopg (pip install -e '.[postgres]'): {e}"
        ) from None
    try:
        conn = psycopg.connect(
            url, autocommit=True, prepare_threshold=0, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S
        )
    except psycopg.Error as e:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        password = urlsplit(url).password
        if password:
            reason = reason.replace(password, "***")
        raise CheckpointerError(
            f"checkpointer {redacted(url)!r} refused the connection: {reason}; check the "
            f"host, port, user, password and database"
        ) from None
    with conn:
        saver = PostgresSaver(conn, serde=serde)
        try:
            saver.setup()  # creates the tables and runs pending migrations (idempotent)
        except psycopg.Error as e:
            raise CheckpointerError(
                f"checkpointer {redacted(url)!r}: could not set up LangGraph's tables "
                f"({str(e).strip().splitlines()[0]}); the user needs CREATE on the "
                f"database"
            ) from None
        yield saver


def probe(url: str | None) -> None:
    """Connect (and set up the tables) once before a command writes anything: a refused PostgreSQL
    URL is then one line and nothing else happens."""
    if is_postgres(url):
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

        with postgres_saver(url, JsonPlusSerializer()):
            pass
