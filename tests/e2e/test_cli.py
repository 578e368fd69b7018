"""The CLI's error paths: one line, non-zero exit, no traceback, nothing recorded lost."""

from conftest import agent2


def test_runs_on_an_empty_folder_creates_nothing(tmp_path):
    out = agent2("runs", "--runs-dir", str(tmp_path / "none"))
    assert out.returncode == 0 and "no runs in" in out.stdout
    assert not (tmp_path / "none").exists()
