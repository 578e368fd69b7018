"""Errors a user can cause. Each carries a one-line message that names the bad value."""

import math


class Agent2Error(Exception):
    """Base class: the CLI prints ``agent2: error: <message>`` and exits non-zero, no traceback."""


class EnvLoadError(Agent2Error):
    """The env reference does not resolve to a working environment."""


class EnvTimeoutError(EnvLoadError):
    """A call into the env's code (its factory, reset() or step()) did not return in time."""


class UnsupportedSpaceError(Agent2Error):
    """The env has an observation or action space Agent² cannot handle."""


class MDPCodeError(Agent2Error):
    """Generated MDP code failed validation or raised while running."""


class NonFiniteRewardError(MDPCodeError):
    """A training reward was NaN or infinite (the MDP's reward(), perhaps from the env's own reward)."""

    @classmethod
    def of(cls, value: float, env_reward: float, where: str = "") -> "NonFiniteRewardError":
        cause = "" if math.isfinite(env_reward) else f" (the env's own reward was {env_reward!r})"
        return cls(f"reward() returned a non-finite value {value!r}{where}{cause}")
