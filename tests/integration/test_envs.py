import numpy as np
import pytest
from conftest import ENV_FILE

from envs.errors import EnvLoadError
from envs.loading import make_env, resolve_factory


def test_module_colon_env_id_as_gymnasium_writes_it(tmp_path, monkeypatch):
    """``module:EnvId``: importing the module registers the id (as plugins such as minigrid do); a typo in
    the id gets close names; the sandboxed check (another process) resolves it the same way."""
    from conftest import IDENTITY_MDP, ROOT

    from tools.mdp_check import validate_mdp
    from tools.schemas import MDPDesign

    monkeypatch.syspath_prepend(str(ROOT))  # the plugin module is importable, as an installed one would be
    ref = "tests.envfiles.registers_on_import:Agent2Plugin/GoRight-v0"
    env = make_env(ref)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1,) and env.action_space.n == 2
    with pytest.raises(EnvLoadError, match="did you mean Agent2Plugin/GoRight-v0"):
        resolve_factory("tests.envfiles.registers_on_import:Agent2Plugin/GoRigth-v0")
    assert validate_mdp(ref, MDPDesign(code=IDENTITY_MDP, obs_dim=1, summary="identity"), tmp_path) is None


def test_a_text_part_is_encoded_the_same_in_every_process():
    from envs.spaces import _text

    a, b = _text("Open the door"), _text("open   the DOOR!")
    assert np.array_equal(a, b) and a.sum() == pytest.approx(1.0)
    assert not np.array_equal(a, _text("pick up the key"))


def test_a_minigrid_like_observation_trains_exports_and_plays(runs_dir):
    """A Dict of an image, a direction and a mission string (MiniGrid's shape): a tiny run, the report
    says how the observation was encoded, and the exported agent plays."""
    from conftest import agent2, tiny_run

    result = tiny_run(runs_dir, f"{ENV_FILE}:image_direction_mission_obs", "mission", budget=1024)
    assert "mission: MissionLike of text" in result["observation_encoding"]
    assert "**Observation**: direction: Discrete(4)" in (runs_dir / "mission" / "agent" / "report.md").read_text()
    played = agent2("play", str(runs_dir / "mission" / "agent"), "--episodes", "2")
    assert played.returncode == 0, played.stderr[-2000:]
