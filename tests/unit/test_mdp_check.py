"""Generated MDP code is checked statically, then in a sandboxed smoke rollout."""

import pytest

from nodes.design_mdp import ORIGINAL_MDP_CODE
from tools.mdp_check import static_check


@pytest.mark.parametrize(
    "code,message",
    [
        ("def observation(obs):\n  return obs\ndef action(a) return a\n", "syntax error"),
        (
            ORIGINAL_MDP_CODE.replace("def reward(obs, action, next_obs, reward, info)", "def reward(obs, info)"),
            "reward() takes 2 positional arguments, expected 5",
        ),
        (ORIGINAL_MDP_CODE.replace("def action(act)", "def act(act)"), "missing top-level function action()"),
        ("import os\n" + ORIGINAL_MDP_CODE, "import of os is not allowed"),
        (ORIGINAL_MDP_CODE + "\nx = open('/etc/passwd')\n", "use of 'open' is not allowed"),
    ],
)
def test_static_check_rejects(code, message):
    assert message in static_check(code)
