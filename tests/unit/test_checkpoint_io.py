"""Checkpoints are written atomically; a file damaged on disk falls back to the previous one."""

from tools.checkpoint_io import load_checkpoint, save_atomic


def test_truncated_checkpoint_falls_back_to_the_previous_one(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_atomic({"epoch": 1}, path)
    save_atomic({"epoch": 2}, path)
    assert load_checkpoint(path) == {"epoch": 2}
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # torn on disk
    assert load_checkpoint(path) == {"epoch": 1}
    path.unlink()
    assert load_checkpoint(path) == {"epoch": 1}
    (tmp_path / "checkpoint.pt.prev").write_bytes(b"garbage")
    assert load_checkpoint(path) is None
    assert not list(tmp_path.glob("*.tmp"))


def test_slow_checkpoints_are_spaced_out_and_the_last_one_is_always_written(monkeypatch):
    """A checkpoint that takes d seconds to write is not written again within 4·d seconds (a large
    replay buffer), and a skipped one is written when training ends."""
    from tools import train_worker

    worker = train_worker.TrainWorker.__new__(train_worker.TrainWorker)
    worker.last_save_end, worker.last_save_seconds, worker.pending_save = 0.0, 0.0, None
    written = []
    clock = [100.0]
    monkeypatch.setattr(train_worker.time, "perf_counter", lambda: clock[0])

    def save(epoch, env_step, update_step):
        written.append(epoch)
        clock[0] += 1.0  # each write takes a second

    worker.save_checkpoint = save
    for epoch in range(1, 8):
        worker.maybe_save_checkpoint(epoch, epoch * 100, epoch)
        clock[0] += 1.5  # an epoch of training
    assert written == [1, 4, 7]  # 1 s writes: at least 4 s apart
    worker.maybe_save_checkpoint(8, 800, 8)
    assert written[-1] == 7 and worker.pending_save == (8, 800, 8)
    worker.flush_checkpoint()
    assert written[-1] == 8 and worker.pending_save is None


class Renamed:  # a class a checkpoint pickled, which later code no longer has
    pass


def test_a_checkpoint_of_other_code_asks_for_a_restart_instead_of_training_from_zero(tmp_path, monkeypatch):
    """A whole checkpoint whose pickled classes no longer load was taken for a torn one: with its
    ``.prev`` alike, the worker silently trained from zero over hours of training."""
    import sys

    import pytest

    from tools.checkpoint_io import CheckpointOfOtherCodeError

    path = tmp_path / "checkpoint.pt"
    save_atomic({"thing": Renamed()}, path)
    save_atomic({"thing": Renamed()}, path)  # the second write keeps the first as .prev
    assert (tmp_path / "checkpoint.pt.prev").exists()
    monkeypatch.delattr(sys.modules[__name__], "Renamed")
    with pytest.raises(CheckpointOfOtherCodeError, match="--restart-iteration"):
        load_checkpoint(path)


def test_text_written_atomically_never_goes_through_a_link_left_at_a_temp_name(tmp_path):
    """It wrote to the fixed name ``<file>.tmp`` first: a link planted there redirected the write."""
    from tools.checkpoint_io import write_text_atomic

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / "job.json.tmp").symlink_to(victim)
    write_text_atomic(tmp_path / "job.json", '{"a": 1}')
    assert victim.read_text() == "keep" and (tmp_path / "job.json").read_text() == '{"a": 1}'


def test_text_written_atomically_is_readable_by_others_as_a_plain_write_is(tmp_path):
    """The temp file behind the atomic write is created 0600; reports and records were left so."""
    import os

    from tools.checkpoint_io import write_text_atomic

    for mask, mode in ((0o022, 0o644), (0o077, 0o600)):
        old = os.umask(mask)
        try:
            write_text_atomic(tmp_path / "report.md", "# r")
            (tmp_path / "plain.md").unlink(missing_ok=True)
            (tmp_path / "plain.md").write_text("# r")
        finally:
            os.umask(old)
        assert (tmp_path / "report.md").stat().st_mode & 0o777 == mode == (tmp_path / "plain.md").stat().st_mode & 0o777


def test_a_writer_killed_mid_write_leaves_a_temp_file_that_is_removed_before_the_next_worker(tmp_path):
    """kill -9 inside ``save_atomic``: its temp file (as big as a replay buffer) is removed by
    ``remove_stale_temps`` (run by ``tools.training`` before each worker starts); a live writer's
    temp file in another process (its lock held) stays, and so does a link. A checkpoint stays private."""
    import subprocess
    import sys

    from tools import sandbox

    code = (
        "import os, signal, tools.checkpoint_io as c\n"
        "c.torch.save = lambda obj, f: (f.write(b'x' * 4096), f.flush(), os.kill(os.getpid(), signal.SIGKILL))\n"
        f"c.save_atomic({{}}, {str(tmp_path / 'checkpoint.pt')!r})\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == -9
    dead = [p.name for p in tmp_path.iterdir()]
    assert len(dead) == 1 and dead[0].startswith(".checkpoint.pt.")
    writer = (  # another live writer, blocked mid-write until its stdin closes
        "import sys; from pathlib import Path; from tools.sandbox import replacing\n"
        f"with replacing(Path({str(tmp_path / 'result.json')!r})) as f:\n"
        "    f.write('done'); print('writing', flush=True); sys.stdin.read()\n"
    )
    live = subprocess.Popen([sys.executable, "-c", writer], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert live.stdout.readline().strip() == "writing"
    (tmp_path / ".victim.1.abcdefgh").symlink_to(tmp_path / "victim")
    assert sandbox.remove_stale_temps(tmp_path) == dead
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".result.json.")) != []
    live.communicate("")
    assert (tmp_path / "result.json").read_text() == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".victim.1.abcdefgh", "result.json"]
    save_atomic({"w": 1}, tmp_path / "checkpoint.pt")
    assert (tmp_path / "checkpoint.pt").stat().st_mode & 0o777 == 0o600
