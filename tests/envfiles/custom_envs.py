"""Small user envs for the tests: every observation space kind, and envs that misbehave."""

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class _Base(gym.Env):
    def __init__(self, observation_space, action_space, length=20):
        self.observation_space = observation_space
        self.action_space = action_space
        self.length = length
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        assert self.action_space.contains(action), f"bad action {action!r}"
        self.t += 1
        return self.observation_space.sample(), float(self.np_random.random()), False, self.t >= self.length, {}


def dict_obs():
    return _Base(spaces.Dict({"pos": spaces.Box(-1, 1, (2,)), "mode": spaces.Discrete(3)}), spaces.Discrete(2))


def tuple_obs():
    return _Base(spaces.Tuple((spaces.Discrete(4), spaces.MultiBinary(3))), spaces.Discrete(2))


def multidiscrete_obs_and_action():
    return _Base(spaces.MultiDiscrete([3, 2]), spaces.MultiDiscrete([2, 3]))


def image_like_obs():
    return _Base(spaces.Box(0, 255, (4, 4, 2), dtype=np.uint8), spaces.Box(-2.0, 2.0, (2,)))


class MissionLike(spaces.Space):
    """A look-alike of MiniGrid's ``MissionSpace``: a Gymnasium space (not ``Text``) whose values are strings
    and which Gymnasium cannot flatten."""

    MISSIONS = ("get to the green goal square", "open the door", "pick up the yellow key")

    def __init__(self, missions: tuple[str, ...] = MISSIONS):
        super().__init__(None, None)
        self.missions = missions

    def sample(self, mask=None, probability=None):
        return self.missions[int(self.np_random.integers(len(self.missions)))]

    def contains(self, x):
        return x in self.missions


class Opaque(spaces.Space):
    """A space whose values are neither text nor numbers."""

    def __init__(self):
        super().__init__(None, None)

    def sample(self, mask=None, probability=None):
        return object()

    def contains(self, x):
        return True


def image_direction_mission_obs():
    return _Base(
        spaces.Dict(
            {
                "image": spaces.Box(0, 255, (5, 5, 3), dtype=np.uint8),
                "direction": spaces.Discrete(4),
                "mission": MissionLike(),
            }
        ),
        spaces.Discrete(3),
    )


def one_mission_obs():
    """MiniGrid DoorKey's shape: its mission space holds one string only."""
    return _Base(
        spaces.Dict(
            {
                "image": spaces.Box(0, 255, (5, 5, 3), dtype=np.uint8),
                "direction": spaces.Discrete(4),
                "mission": MissionLike(("use the key to open the door and then get to the goal",)),
            }
        ),
        spaces.Discrete(3),
    )


def text_obs():
    return _Base(spaces.Text(12), spaces.Discrete(2))


def sequence_obs():
    return _Base(spaces.Sequence(spaces.Box(-1, 1, (2,))), spaces.Discrete(2))


def graph_obs():
    return _Base(spaces.Graph(spaces.Box(-1, 1, (3,)), spaces.Discrete(2)), spaces.Discrete(2))


def oneof_obs():
    return _Base(spaces.OneOf([spaces.Discrete(3), spaces.Box(-1, 1, (2,))]), spaces.Discrete(2))


def tuple_with_opaque_obs():
    return _Base(spaces.Tuple((spaces.Box(-1, 1, (2,)), Opaque())), spaces.Discrete(2))


def opaque_obs():
    return _Base(Opaque(), spaces.Discrete(2))


class RaisesOnStep(_Base):
    def __init__(self):
        super().__init__(spaces.Box(-1, 1, (3,)), spaces.Discrete(2))

    def step(self, action):
        raise RuntimeError("simulator exploded")


class RaisesOnReset(_Base):
    def __init__(self):
        super().__init__(spaces.Box(-1, 1, (3,)), spaces.Discrete(2))

    def reset(self, *, seed=None, options=None):
        raise ValueError("no scenario loaded")


class HangsInReset(_Base):
    def __init__(self):
        super().__init__(spaces.Box(-1, 1, (3,)), spaces.Discrete(2))

    def reset(self, *, seed=None, options=None):
        import time

        while True:  # waits for a server that never answers
            time.sleep(1.0)


def hangs_in_factory():
    import time

    while True:  # a simulator that never finishes starting
        time.sleep(1.0)


class Endless(_Base):
    def __init__(self):
        super().__init__(spaces.Box(-1, 1, (3,)), spaces.Discrete(2), length=10**9)


def not_an_env():
    return 42


class GoRight(gym.Env):
    """A corridor: step right to reach the goal. Never seen by any tuned table."""

    observation_space = spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.t = 0, 0
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action):
        self.pos = max(0, self.pos + (1 if action == 1 else -1))
        self.t += 1
        done = self.pos >= 10
        return (np.array([self.pos / 10], dtype=np.float32), 1.0 if done else -0.1, done, self.t >= 50, {})


def make_env():
    return GoRight()


class CoinFlip(gym.Env):
    """One step: +1 or -1 at random whatever the action. Its true mean is 0; any finite number of
    episodes leaves the mean uncertain, which adaptive evaluation must notice near a target of 0."""

    observation_space = spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(1, dtype=np.float32), float(self.np_random.choice([-1.0, 1.0])), True, False, {}


def coin_flip():
    return CoinFlip()


class QuickWin(gym.Env):
    """Each env is a winner or a loser for good, drawn at its seeded reset (an env per map, say): a
    winner's episodes are won (reward 1) after 1 step, a loser's lost (0) after 20. Counting the first
    episodes to end over such envs leans toward the winners, which end 20 times as many."""

    observation_space = spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
    action_space = spaces.Discrete(2)
    win = False

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.win = bool(self.np_random.random() < 0.5)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        end = self.win or self.t >= 20
        return np.zeros(1, dtype=np.float32), float(self.win and end), end, False, {}


def quick_win():
    return QuickWin()


class Blink(gym.Env):
    """Shows a cue (+1 or -1) at the first step only, then zeros; the action on the third step must
    match the cue (+1 reward, else -1). Memoryless policies get 0 on average; a history of 3 sees it."""

    observation_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cue, self.t = float(self.np_random.choice([-1.0, 1.0])), 0
        return np.array([self.cue, 0.0], dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.array([0.0, self.t / 3], dtype=np.float32)
        if self.t < 3:
            return obs, 0.0, False, False, {}
        return obs, 1.0 if (action == 1) == (self.cue > 0) else -1.0, True, False, {}


def blink():
    return Blink()


def slow_cartpole():
    """CartPole whose every step takes 20 ms: for tools that must report progress while they work."""
    import time

    class Slow(gym.Wrapper):
        def step(self, action):
            time.sleep(0.02)
            return self.env.step(action)

    return Slow(gym.make("CartPole-v1"))


def main_thread_only():
    """GoRight whose reset installs a signal handler, as MetaDrive's does: Python allows that only in the
    main thread, so an env like it must be profiled there."""
    import signal

    class MainThreadOnly(GoRight):
        def reset(self, *, seed=None, options=None):
            signal.signal(signal.SIGUSR2, signal.getsignal(signal.SIGUSR2))
            return super().reset(seed=seed, options=options)

    return MainThreadOnly()
