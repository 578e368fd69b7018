"""MetaDrive (``metadrive-simulator``, the ``[metadrive]`` extra): single-agent driving on state
(lidar + ego state) observations.

MetaDrive's first ``reset()`` downloads an asset archive, which fails offline (and retries
without end when another process holds its lock). Agent² checks for the assets first and
stops with one clear line instead:

- with a network: ``python -m metadrive.pull_asset`` (MetaDrive's own asset pull, all assets);
- offline: ``agent2 setup metadrive --state-only`` writes what state-only use needs (the
  version file and the one texture path MetaDrive checks); camera observations and rendering
  still need the real assets.

Only one MetaDrive engine may live in a process, so vector envs run it in subprocesses
(``MetaDrive.one_per_process``, read by ``envs.loading.env_traits``). Evaluation reports the success rate (``arrive_dest``) and
route completion of the episodes, next to the return.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gymnasium as gym

from envs.errors import EnvLoadError

TEXTURE = ("textures", "grass1", "GroundGrassGreen002_COL_1K.jpg")
"""The one texture file MetaDrive looks for before deciding its assets are complete."""
EPISODE_METRICS = ("arrive_dest", "route_completion")
"""Episode-end info keys evaluation reports as means (success rate, route completion)."""


def package_dir() -> Path:
    try:
        import metadrive
    except ImportError as e:
        raise EnvLoadError(f"MetaDrive needs the optional extra: pip install -e '.[metadrive]' ({e})") from e
    return Path(metadrive.__file__).parent


def assets_ready() -> bool:
    assets = package_dir() / "assets"
    return (assets / "version.txt").is_file() and assets.joinpath(*TEXTURE).exists()


def prepare_state_only() -> Path:
    """Write what state-only MetaDrive needs into its assets folder; returns the folder."""
    from metadrive.version import VERSION

    assets = package_dir() / "assets"
    texture = assets.joinpath(*TEXTURE)
    texture.parent.mkdir(parents=True, exist_ok=True)
    if not texture.exists():
        texture.write_bytes(b"")
    version = assets / "version.txt"
    if not version.exists():
        version.write_text(VERSION + "\n")
    return assets


class MetaDrive(gym.Env):
    """``MetaDriveEnv`` behind the plain Gymnasium API: ``reset(seed=…, options=…)`` picks map
    ``start_seed + seed % num_scenarios`` (MetaDrive takes no options and only seeds of its maps)."""

    metadata = {"render_modes": []}
    one_per_process = True
    """MetaDrive allows one engine per process: vector envs run it in subprocesses."""
    episode_metrics = EPISODE_METRICS

    def __init__(self, num_scenarios: int, start_seed: int, **config: Any):
        from metadrive.envs import MetaDriveEnv

        self.num_scenarios, self.start_seed = num_scenarios, start_seed
        self.env = MetaDriveEnv(dict(num_scenarios=num_scenarios, start_seed=start_seed, **config))
        self.observation_space = self.env.observation_space
        self.action_space = self.env.action_space

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        scenario = None if seed is None else self.start_seed + seed % self.num_scenarios
        return self.env.reset(seed=scenario)

    def step(self, action):
        return self.env.step(action)

    def close(self):
        self.env.close()


def make_metadrive(num_scenarios: int = 10, start_seed: int = 0, horizon: int = 1000, **config: Any) -> gym.Env:
    """MetaDrive with state observations, no rendering, quiet logs."""
    package_dir()
    if not assets_ready():
        raise EnvLoadError(
            "MetaDrive assets are missing: with a network run 'python -m metadrive.pull_asset'; "
            "offline run 'agent2 setup metadrive --state-only' (state observations only)"
        )
    return MetaDrive(
        num_scenarios,
        start_seed,
        use_render=False,
        image_observation=False,
        log_level=logging.ERROR,
        horizon=horizon,
        **config,
    )
