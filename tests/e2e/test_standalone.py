"""``agent2 export``: the standalone policy acts exactly as ``agent2 play``'s policy on the same
observations, run in a fresh venv where neither Agent² nor Tianshou nor Gymnasium can be imported
(and, for ONNX, not torch either: numpy and onnxruntime only); for a discrete (PPO) and a continuous
(SAC) task, in both formats."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import agent2, cli_args
from tianshou.data import Batch

from envs.mdp_wrapper import MDPWrapper, make_mdp_env
from tools.agent_io import POLICY_FILE, load_job
from tools.train_worker import load_policy

HIDDEN = ("tianshou", "gymnasium", "langgraph", "langchain", "agent2", "__editable__", "pettingzoo", "jax")


def _fresh_venv(root: Path, hidden: tuple[str, ...]) -> Path:
    """A venv without pip whose only packages are this one's, minus Agent² (its editable install's
    .pth files) and ``hidden``: what a robot or a service that runs the policy would have."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    farm = root / "deps"
    farm.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.suffix == ".pth" or entry.name.lower().startswith(hidden):
            continue
        (farm / entry.name).symlink_to(entry)
    site = next((root / "venv" / "lib").glob("python3*/site-packages"))
    (site / "deps.pth").write_text(str(farm) + "\n")
    return root / "venv" / "bin" / "python"


def _reference(agent: Path, steps: int) -> tuple[list, np.ndarray]:
    """Agent²'s own acting path, as play runs it: the MDP wrapper (and history), the frozen
    normalisation, Tianshou's policy in evaluation and its action mapping."""
    job = load_job(agent)
    algorithm, rms = load_policy(job, agent / POLICY_FILE)
    env = make_mdp_env(job.env, job.mdp.code, job.mdp.obs_dim, shape_reward=False, history=job.mdp.history)
    wrapper = env
    while not isinstance(wrapper, MDPWrapper):
        wrapper = wrapper.env
    raws, actions = [], []
    obs, _ = env.reset(seed=7)
    for _ in range(steps):
        x = rms.norm(obs) if job.mdp.normalize_obs and rms is not None else obs
        with torch.no_grad():
            act = algorithm.policy.map_action(algorithm.policy(Batch(obs=np.asarray(x)[None], info={})).act)[0]
        raws.append(np.asarray(wrapper._last_raw_obs, dtype=np.float64))
        actions.append(np.asarray(wrapper.fns.action(act), dtype=np.float64))
        obs, _, term, trunc, _ = env.step(act)
        if term or trunc:
            break
    return raws, np.asarray(actions)


@pytest.mark.parametrize("env,budget", [("CartPole-v1", "2000"), ("Pendulum-v1", "1200")])
def test_the_standalone_policy_acts_as_agent2_play_does(runs_dir, tmp_path, env, budget):
    run = agent2(
        *cli_args(
            "run",
            env=env,
            budget_steps=budget,
            max_iterations=1,
            eval_episodes=2,
            runs_dir=runs_dir,
            thread_id="s",
            no_progress=True,
        ),
        timeout=400,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    agent = Path(json.loads((runs_dir / "s" / "result.json").read_text())["agent_dir"])
    raws, expected = _reference(agent, 60)
    np.save(tmp_path / "obs.npy", np.asarray(raws))
    assert len(np.unique(expected.round(3), axis=0)) > 1  # the actions depend on the observations
    for fmt, network, hidden, absent in (
        ("torchscript", "policy.ts", HIDDEN, ()),
        ("onnx", "policy.onnx", (*HIDDEN, "torch", "functorch"), ("torch",)),
    ):
        exported = agent2("export", str(agent), "--format", fmt)
        assert exported.returncode == 0, exported.stderr[-2000:]
        out = agent / "standalone"
        assert {"policy.py", network, "mdp.py", "meta.json"} <= {p.name for p in out.iterdir()}
        got = _act_in_fresh_venv(tmp_path / fmt, hidden, absent, out, tmp_path / "obs.npy")
        assert got.shape == expected.shape and len(got) > 5, fmt
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, err_msg=fmt)


def _act_in_fresh_venv(
    root: Path, hidden: tuple[str, ...], absent: tuple[str, ...], out: Path, observations: Path
) -> np.ndarray:
    root.mkdir()
    python = _fresh_venv(root, hidden)
    script = (
        f"import sys, numpy as np\n"
        f"for name in {('tianshou', 'gymnasium', 'tools.standalone', 'graph', *absent)!r}:\n"
        f"    try:\n        __import__(name)\n    except ImportError:\n        pass\n"
        f"    else:\n        sys.exit(name + ' is importable')\n"
        f"sys.path.insert(0, {str(out)!r})\n"
        f"from policy import Policy\n"
        f"p = Policy()\np.reset()\n"
        f"acts = [np.asarray(p.act(o), dtype=np.float64) for o in np.load({str(observations)!r})]\n"
        f"np.save({str(root / 'acts.npy')!r}, np.asarray(acts))\n"
    )
    ran = subprocess.run([str(python), "-c", script], cwd=root, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr[-3000:]
    return np.load(root / "acts.npy")


def test_export_refuses_what_it_cannot_write_with_one_line(tmp_path):
    import gymnasium as gym

    from envs.errors import Agent2Error
    from tools.standalone import acting_kind

    proc = agent2("export", str(tmp_path))
    assert proc.returncode == 2 and "is not an exported agent" in proc.stderr.strip().splitlines()[-1]
    with pytest.raises(Agent2Error, match="Discrete and Box actions"):
        acting_kind("PPO", gym.spaces.MultiDiscrete([2, 3]))
    assert (
        acting_kind("DQN", gym.spaces.Discrete(3)) == "q" and acting_kind("SAC", gym.spaces.Box(-1, 1, (2,))) == "sac"
    )
