"""A Target Agent that runs without Agent² or Tianshou: ``agent2 export AGENT_DIR``.

Writes ``AGENT_DIR/standalone/``: ``policy.ts`` or ``policy.onnx`` (``--format torchscript|onnx``: the
acting network, observation in, the policy's deterministic action out), ``mdp.py`` (the generated MDP code), ``meta.json`` (the
observation history, the action mapping Tianshou applies, the action space) and, when the design
normalises observations, ``normalizer.npz``; plus ``policy.py``, a small file that needs numpy and
torch (TorchScript) or numpy and onnxruntime (ONNX) only, with ``Policy().act(obs) -> action`` on the
env's own observation and action spaces.

The exported function is the same as ``agent2 play``'s, step by step: ``observation()`` of mdp.py on
the raw observation, the last ``history`` of those stacked (padded with the first after a reset),
the running normalisation frozen at its trained statistics, the network's deterministic action
(argmax for discrete actions; the Gaussian's mean, tanh-squashed for SAC), Tianshou's bounding and
scaling to the action space, then ``action()`` of mdp.py. Single-agent policies with Discrete or Box
actions; a multi-agent or MultiDiscrete policy is refused with one line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from envs.errors import Agent2Error

STANDALONE_DIR = "standalone"
FORMATS = ("torchscript", "onnx")
NETWORK_FILE = {"torchscript": "policy.ts", "onnx": "policy.onnx"}

POLICY_PY = '''"""The exported Agent² policy, standalone: numpy, and torch (policy.ts) or onnxruntime
(policy.onnx) only.

    from policy import Policy
    policy = Policy()            # this folder's network, mdp.py, meta.json (normalizer.npz)
    policy.reset()               # at the start of every episode
    action = policy.act(obs)     # obs: the env's own observation; action: for env.step
"""

import json
import math
from collections import deque
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


class Policy:
    def __init__(self, folder=HERE):
        folder = Path(folder)
        self.meta = json.loads((folder / "meta.json").read_text())
        if self.meta["format"] == "onnx":
            import onnxruntime

            session = onnxruntime.InferenceSession(str(folder / "policy.onnx"))
            self.net = lambda x: session.run(None, {"obs": x})[0]
        else:
            import torch

            net = torch.jit.load(str(folder / "policy.ts"), map_location="cpu").eval()

            def forward(x):
                with torch.no_grad():
                    return net(torch.as_tensor(x)).numpy()

            self.net = forward
        namespace = {"__name__": "agent2_mdp", "np": np, "math": math}
        exec(compile((folder / "mdp.py").read_text(), str(folder / "mdp.py"), "exec"), namespace)
        self.observation, self.action = namespace["observation"], namespace["action"]
        norm = folder / "normalizer.npz"
        self.norm = dict(np.load(norm)) if norm.exists() else None
        self.frames = deque(maxlen=self.meta["history"])

    def reset(self):
        """Forget the observation history: call at the start of each episode."""
        self.frames.clear()

    def act(self, obs):
        frame = np.asarray(self.observation(obs), dtype=np.float32).reshape(-1)
        if not self.frames:  # the first observation of an episode pads the history
            self.frames.extend([frame] * self.frames.maxlen)
        else:
            self.frames.append(frame)
        x = np.concatenate(list(self.frames))
        if self.norm is not None:
            x = (x - self.norm["mean"]) / np.sqrt(self.norm["var"] + self.norm["eps"])
            if self.norm["clip_max"]:
                x = np.clip(x, -self.norm["clip_max"], self.norm["clip_max"])
        raw = np.asarray(self.net(np.asarray(x, dtype=np.float32).reshape(1, -1))[0])
        m = self.meta
        if m["discrete"]:
            act = int(raw)  # the index, as the trained policy gives it to the env
        else:
            act = raw.astype(np.float64)
            if m["bound"] == "clip":
                act = np.clip(act, -1.0, 1.0)
            elif m["bound"] == "tanh":
                act = np.tanh(act)
            if m["scaling"]:
                low, high = np.asarray(m["low"]), np.asarray(m["high"])
                act = low + (high - low) * (act + 1.0) / 2.0
        return self.action(act)
'''


class ActingNet(nn.Module):
    """The policy's deterministic action from a batch of prepared observations (before Tianshou's
    action mapping): what ``policy(batch).act`` gives in evaluation, as a traceable module."""

    def __init__(self, algorithm: nn.Module, kind: str):
        super().__init__()
        policy = algorithm.policy
        self.net = policy.model if kind == "q" else policy.actor
        self.kind = kind

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out, _ = self.net(obs)
        if self.kind in ("q", "logits"):
            return out.argmax(dim=-1)
        if self.kind == "gaussian":
            return out[0]
        if self.kind == "sac":
            return torch.tanh(out[0])
        return out  # deterministic actor (TD3)


def acting_kind(algorithm_name: str, action_space) -> str:
    import gymnasium as gym

    if getattr(action_space, "nvec", None) is not None or not isinstance(
        action_space, (gym.spaces.Discrete, gym.spaces.Box)
    ):
        raise Agent2Error(f"standalone export supports Discrete and Box actions; this policy acts in {action_space}")
    if algorithm_name == "DQN":
        return "q"
    if isinstance(action_space, gym.spaces.Discrete):
        return "logits"
    return {"SAC": "sac", "TD3": "deterministic"}.get(algorithm_name, "gaussian")


def export_standalone(agent_dir: Path, fmt: str = "torchscript") -> Path:
    """Write ``agent_dir/standalone/`` (see the module's docstring); runs in the sandboxed worker,
    since building the policy runs the agent's generated MDP code."""
    from envs.loading import is_multi_agent
    from tools.agent_io import POLICY_FILE, load_job
    from tools.train_worker import load_policy

    if fmt not in FORMATS:
        raise Agent2Error(f"export format {fmt!r}: use one of {', '.join(FORMATS)}")
    job = load_job(agent_dir)
    if is_multi_agent(job.env):
        raise Agent2Error(f"standalone export supports single-agent policies; {job.env!r} has several agents")
    algorithm, rms = load_policy(job, agent_dir / POLICY_FILE)
    algorithm = algorithm.to("cpu").eval()
    policy = algorithm.policy
    space = policy.action_space
    kind = acting_kind(job.algo.algorithm, space)
    out = agent_dir / STANDALONE_DIR
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    net = ActingNet(algorithm, kind).eval()
    example = torch.zeros(1, job.mdp.input_dim)
    with torch.no_grad():
        if fmt == "onnx":  # the TorchScript-based exporter: what the traced module computes, as ONNX
            torch.onnx.export(
                net,
                (example,),
                str(out / NETWORK_FILE[fmt]),
                input_names=["obs"],
                output_names=["action"],
                dynamic_axes={"obs": {0: "batch"}},
                dynamo=False,
            )
        else:
            torch.jit.trace(net, example, check_trace=False).save(str(out / NETWORK_FILE[fmt]))
    discrete = kind in ("q", "logits")
    meta = {
        "env": job.env,
        "algorithm": job.algo.algorithm,
        "format": fmt,
        "history": job.mdp.history,
        "discrete": discrete,
        "input_dim": job.mdp.input_dim,
    }
    if not discrete:
        meta.update(
            bound=policy.action_bound_method,
            scaling=bool(policy.action_scaling),
            low=np.asarray(space.low, dtype=np.float64).tolist(),
            high=np.asarray(space.high, dtype=np.float64).tolist(),
        )
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    if job.mdp.normalize_obs and rms is not None:
        np.savez(
            out / "normalizer.npz",
            mean=np.asarray(rms.mean, dtype=np.float64),
            var=np.asarray(rms.var, dtype=np.float64),
            eps=np.float64(rms.eps),
            clip_max=np.float64(rms.clip_max or 0.0),
        )
    (out / "mdp.py").write_text((agent_dir / "mdp.py").read_text())
    (out / "policy.py").write_text(POLICY_PY)
    return out


EXPORT_TIMEOUT_S = 600.0


def export(agent_dir: Path, fmt: str = "torchscript") -> Path:
    """``export_standalone`` in the sandbox (a worker confined to the agent's folder)."""
    from tools import sandbox
    from tools.agent_io import load_job

    agent_dir = Path(agent_dir).resolve()
    load_job(agent_dir)  # a folder that is not an agent: one clear error before any process
    if fmt not in FORMATS:
        raise Agent2Error(f"export format {fmt!r}: use one of {', '.join(FORMATS)}")
    log = agent_dir / "export.log"
    code = sandbox.run("tools.train_worker", ["export", str(agent_dir), fmt], log, timeout=EXPORT_TIMEOUT_S)
    if code != 0 or not (agent_dir / STANDALONE_DIR / NETWORK_FILE[fmt]).exists():
        said = sandbox.log_tail(log, 3).splitlines()
        raise Agent2Error(
            f"exporting {str(agent_dir)!r} failed (exit code {code}): {said[-1] if said else 'no output'} (log: {log})"
        )
    return agent_dir / STANDALONE_DIR
