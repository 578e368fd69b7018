"""The exported Target Agent: a folder that stands alone, and the loader ``agent2 play`` uses.

Layout: ``policy.pt`` (weights and observation statistics), ``mdp.py`` (the generated MDP code),
``config.json`` (env, MDP design, algorithm config), ``report.md`` + ``learning_curve.png``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from envs.errors import Agent2Error
from tools import sandbox
from tools.run_files import BEST_POLICY, JOB
from tools.run_rules import PLAY_SEED_OFFSET
from tools.schemas import EvalResult, TrainJob

POLICY_FILE = "policy.pt"
CONFIG_FILE = "config.json"


def export_agent(iter_dir: Path, agent_dir: Path, extra_config: dict) -> Path:
    agent_dir.mkdir(parents=True, exist_ok=True)
    job = TrainJob.model_validate_json((iter_dir / JOB).read_text())
    shutil.copyfile(iter_dir / BEST_POLICY, agent_dir / POLICY_FILE)
    (agent_dir / "mdp.py").write_text(job.mdp.code)
    config = {"job": job.model_dump(), **extra_config}
    (agent_dir / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    return agent_dir


def load_job(agent_dir: Path) -> TrainJob:
    config_file = agent_dir / CONFIG_FILE
    if not config_file.exists() or not (agent_dir / POLICY_FILE).exists():
        raise Agent2Error(f"{str(agent_dir)!r} is not an exported agent (needs {CONFIG_FILE} and {POLICY_FILE})")
    try:
        job = TrainJob.model_validate(json.loads(config_file.read_text())["job"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise Agent2Error(
            f"{str(config_file)!r} is not an exported agent's config "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'unreadable'})"
        ) from None
    mdp_file = agent_dir / "mdp.py"
    if mdp_file.exists():  # the folder's mdp.py is what runs, so a user may edit it
        job = job.model_copy(update={"mdp": job.mdp.model_copy(update={"code": mdp_file.read_text()})})
    return job


PLAY_RESULT = "play_result.json"
PLAY_TIMEOUT_S = 3600.0


def play(agent_dir: Path, episodes: int, seed: int | None = None) -> EvalResult:
    """Run the exported agent deterministically on the original reward, in the sandbox (its mdp.py
    is generated code): a worker process confined to the agent's folder. ``seed`` None: its training
    seed + ``PLAY_SEED_OFFSET``, envs its run never used."""
    agent_dir = Path(agent_dir).resolve()  # the player runs in that folder: a relative path would miss it
    job = load_job(agent_dir)  # a folder that is not an agent: one clear error before any process
    seed = job.seed + PLAY_SEED_OFFSET if seed is None else seed
    result_file = agent_dir / PLAY_RESULT
    result_file.unlink(missing_ok=True)
    log = agent_dir / "play.log"
    code = sandbox.run(
        "tools.train_worker", ["play", str(agent_dir), str(episodes), str(seed)], log, timeout=PLAY_TIMEOUT_S
    )
    if code != 0 or not result_file.exists():
        said = sandbox.log_tail(log, 3).splitlines()
        raise Agent2Error(
            f"playing {str(agent_dir)!r} failed (exit code {code}): {said[-1] if said else 'no output'} (log: {log})"
        )
    return EvalResult.model_validate_json(result_file.read_text())
