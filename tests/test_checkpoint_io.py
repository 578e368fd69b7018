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
