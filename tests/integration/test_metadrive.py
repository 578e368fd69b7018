"""MetaDrive (the ``[metadrive]`` extra): the offline asset path, make/profile, a tiny run, play."""

import subprocess
import sys

import pytest
from conftest import ROOT, agent2, tiny_run

import envs.metadrive_env as md
from envs.errors import EnvLoadError
from tools.schemas import EnvProfile

SHORT = f"{ROOT / 'tests' / 'envfiles' / 'short_metadrive.py'}:make_env"


def test_missing_assets_are_one_clear_error_and_state_only_setup_prepares_them(tmp_path, monkeypatch):
    monkeypatch.setattr(md, "package_dir", lambda: tmp_path)  # a MetaDrive install without assets
    assert not md.assets_ready()
    with pytest.raises(EnvLoadError, match="agent2 setup metadrive --state-only"):
        md.make_metadrive()
    folder = md.prepare_state_only()
    assert folder == tmp_path / "assets" and md.assets_ready()
    assert (folder / "version.txt").read_text().strip() == __import__("metadrive.version").version.VERSION


def test_setup_command_reports_what_it_did():
    proc = agent2("setup", "metadrive", "--state-only")
    assert proc.returncode == 0 and "metadrive:" in proc.stdout, proc.stderr
    proc = agent2("setup", "carla")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_metadrive_makes_and_profiles_as_one_engine_per_process():
    # in a subprocess: MetaDrive's panda3d and MPE's pygame freetype crash one process together
    code = (
        "from tools.profiling import profile_env; "
        "print(profile_env('MetaDriveEnv', episodes=1, max_steps=300).model_dump_json())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    p = EnvProfile.model_validate_json(proc.stdout.strip().splitlines()[-1])
    assert p.action.kind == "continuous" and p.action.shape == [2]
    assert p.obs_dim == 259 and p.one_per_process


def test_tiny_metadrive_run_reports_success_and_route_completion_and_plays(runs_dir):
    result = tiny_run(runs_dir, SHORT, "md", 1000, eval_episodes=2, timeout=500)
    metrics = result["best"]["eval_metrics"]
    assert set(metrics) == {"arrive_dest", "route_completion"} and 0 <= metrics["arrive_dest"] <= 1
    assert result["iterations"][0]["hyperparameters"]["n_test_envs"] <= 2  # one process per engine
    play = agent2("play", result["agent_dir"], "--episodes", "1", timeout=300)
    assert play.returncode == 0 and "route_completion:" in play.stdout, play.stderr[-2000:]
