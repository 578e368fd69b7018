"""The parent's file access in folders that sandboxed code can write to (``tools/sandbox.py``): a link
left there is replaced, never followed; a FIFO never blocks a reader."""

import os

import pytest

from tools import sandbox


def test_write_text_replaces_a_link_instead_of_writing_through_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "job.json").symlink_to(victim)
    sandbox.write_text(tmp_path / "job.json", "{}")
    assert victim.read_text() == "keep"
    assert not (tmp_path / "job.json").is_symlink() and (tmp_path / "job.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.json", "victim"]  # no temporary left


def test_open_append_removes_a_link_or_a_fifo_left_in_place(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    log = tmp_path / "worker.log"
    log.symlink_to(victim)
    with sandbox.open_append(log) as f:
        f.write(b"line\n")
    assert victim.read_text() == "keep" and log.read_text() == "line\n"
    log.unlink()
    os.mkfifo(log)
    with sandbox.open_append(log) as f:  # a FIFO with no reader would block an ordinary open
        f.write(b"again\n")
    assert log.read_text() == "again\n"


def test_reading_a_link_or_a_fifo_is_refused_at_once(tmp_path):
    target = tmp_path / "secret"
    target.write_text("s")
    (tmp_path / "result.json").symlink_to(target)
    with pytest.raises(OSError):
        sandbox.read_text(tmp_path / "result.json")
    os.mkfifo(tmp_path / "progress.jsonl")
    with pytest.raises(OSError):
        sandbox.read_text(tmp_path / "progress.jsonl")
    assert sandbox.log_tail(tmp_path / "progress.jsonl") == ""


def test_sandboxed_processes_get_their_own_compilation_cache(tmp_path, monkeypatch):
    """The parent loads numba and JAX caches (pickles, compiled code) from the cache folder; sandboxed
    code could write there. Sandboxed processes now use a subfolder the parent never reads."""
    monkeypatch.setenv("AGENT2_CACHE_DIR", str(tmp_path / "cache"))
    env = sandbox.scrubbed_env()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache" / "numba"))  # as tools.numba_cache sets it
    env = sandbox.scrubbed_env()
    assert env["AGENT2_CACHE_DIR"] == str(tmp_path / "cache" / "sandbox")
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "cache" / "sandbox" / "numba")
    prefix = sandbox.namespace_prefix(tmp_path / "run") if sandbox.bwrap_path() else []
    binds = [prefix[i + 1] for i, a in enumerate(prefix) if a == "--bind"]
    assert str(tmp_path / "cache") not in binds
