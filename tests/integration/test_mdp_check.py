"""Generated MDP code is checked statically, then in a sandboxed smoke rollout."""

import pytest

from nodes.design_mdp import ORIGINAL_MDP_CODE
from tools.mdp_check import validate_mdp
from tools.schemas import MDPDesign


def design(code: str, dim: int = 4) -> MDPDesign:
    return MDPDesign(code=code, obs_dim=dim, summary="test")


def test_original_design_passes(tmp_path):
    assert validate_mdp("CartPole-v1", design(ORIGINAL_MDP_CODE), tmp_path) is None


@pytest.mark.parametrize(
    "change,message",
    [
        (("return float(reward)", "return float('nan')"), "non-finite value nan"),
        (("return act", "raise KeyError('boom')"), "KeyError: 'boom'"),
        (("return np.asarray(obs, dtype=np.float32)", "return np.zeros(3)"), "declared (4,)"),
    ],
)
def test_smoke_rollout_catches_runtime_faults(tmp_path, change, message):
    error = validate_mdp("CartPole-v1", design(ORIGINAL_MDP_CODE.replace(*change)), tmp_path)
    assert error is not None and message in error


def test_endless_loop_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr("tools.mdp_check.SMOKE_TIMEOUT_S", 5.0)
    code = ORIGINAL_MDP_CODE.replace("return act", "while True:\n        pass")
    assert "did not finish within 5 s" in validate_mdp("CartPole-v1", design(code), tmp_path)


def test_sandboxed_process_does_not_see_secrets(tmp_path, monkeypatch):
    from tools import sandbox

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    (tmp_path / "dump_env.py").write_text(
        "import os, json\nopen('env.json', 'w').write(json.dumps(dict(os.environ)))\n"
    )
    assert sandbox.run("dump_env", [], tmp_path / "dump.log", timeout=30) == 0
    seen = (tmp_path / "env.json").read_text()
    assert "sk-test-secret" not in seen and "MY_SERVICE_TOKEN" not in seen
    assert '"PATH"' in seen


def test_sandboxed_process_memory_is_limited(tmp_path, monkeypatch):
    from tools import sandbox

    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    (tmp_path / "hog.py").write_text("x = bytearray(3 * 1024**3)\n")
    assert sandbox.run("hog", [], tmp_path / "hog.log", timeout=30, memory_bytes=1024**3) != 0
    assert "MemoryError" in (tmp_path / "hog.log").read_text()
