"""Bad inputs, generated with hypothesis: each gets a clear error (our own types), never a crash
of another kind, a hang or a lost run. Derandomised, so CI sees the same inputs every time."""

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

MDP_BODIES = [
    "return obs",
    "return obs * 2",
    "return np.zeros(3)",
    "return None",
    "return float('inf')",
    "raise ValueError('x')",
    "while True: pass",
    "return [1, 2]",
    "return obs[::-1]",
    "return np.ones(4) / 0",
    "return 'text'",
    "import math\n    return math.sqrt(-1)",
    "return obs.reshape(2, 2)",
]


VALID = {
    ("observation", "return obs"),
    ("observation", "return obs * 2"),
    ("observation", "return obs[::-1]"),
    ("observation", "return obs.reshape(2, 2)"),
}


"""The only (function, body) pairs that make a valid MDP for CartPole (obs_dim 4; the wrapper flattens
observations, so a 2x2 array of 4 values is valid); every other one returns the wrong thing, raises or
loops, and must be refused."""


REASONS = {
    "raise ValueError('x')": "ValueError: x",
    "import math\n    return math.sqrt(-1)": "math domain error",
    "while True: pass": "did not finish within",
}


"""What the refusal must say for code that raises or loops."""


@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(["observation", "action", "reward"]), st.sampled_from(MDP_BODIES))
@example("observation", "raise ValueError('x')")
@example("action", "while True: pass")
@example("reward", "import math\n    return math.sqrt(-1)")
def test_mdp_code_in_the_sandbox(tmp_path_factory, which, body):
    """Generated code that returns the wrong thing, raises, or loops forever: a failing verdict with a
    reason from the sandboxed check within its time limit, never an exception or a hang here; the
    valid variants pass."""
    from unittest import mock

    from conftest import IDENTITY_MDP

    from tools import mdp_check
    from tools.schemas import MDPDesign

    head = {
        "observation": "def observation(obs):\n",
        "action": "def action(act):\n",
        "reward": "def reward(obs, action, next_obs, reward, info):\n",
    }[which]
    start = IDENTITY_MDP.index(head) + len(head)
    end = IDENTITY_MDP.index("\n", start)
    code = IDENTITY_MDP[:start] + "    " + body + IDENTITY_MDP[end:]
    with mock.patch.object(mdp_check, "SMOKE_TIMEOUT_S", 5.0):  # an endless loop is cut after 5 s
        error = mdp_check.validate_mdp(
            "CartPole-v1", MDPDesign(code=code, obs_dim=4, summary="fuzz"), Path(tmp_path_factory.mktemp("check"))
        )
    if (which, body) in VALID:
        assert error is None
        return
    assert isinstance(error, str) and error.strip(), f"{which}: {body!r} passed the check"
    assert REASONS.get(body, "") in error, error
