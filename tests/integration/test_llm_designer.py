"""The LLM designer against a scripted OpenAI-compatible server on loopback, through the real
``ChatOpenAI`` client over HTTP: repairs, fallbacks, retries, a dead endpoint, no key leaks."""

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import agent2, cli_args, mdp_answer
from stub_llm import StubLLM

from tools.rundb import RunDB

SECRET = "sk-test-secret-do-not-leak"


GOOD_CODE = """import numpy as np


def observation(obs):
    return np.asarray(obs, dtype=np.float32)


def action(act):
    return act


def potential(o):
    return -10.0 * abs(float(o[2]))  # pole upright: higher potential


def reward(obs, action, next_obs, reward, info):
    phi_next = 0.0 if info["terminated"] else potential(next_obs)
    return float(reward) + 0.99 * phi_next - potential(obs)
"""


SYNTAX_ERROR = GOOD_CODE.replace("def action(act):", "def action(act)")


WRONG_SIGNATURE = GOOD_CODE.replace("def reward(obs, action, next_obs, reward, info):", "def reward(obs, info):")


NAN_REWARD = GOOD_CODE.replace("return float(reward) + 0.99", "return float('nan') + 0.99")


RAISES_ON_STEP = GOOD_CODE.replace("    return act", "    raise RuntimeError('bad action transform')")


ANALYSIS = {"objective": "balance the pole", "challenges": ["pole falls quickly"]}


ALGO = {"algorithm": "PPO", "lr": 0.001, "hidden_sizes": [64, 64], "rationale": "small discrete task"}


DONE = {"verdict": "done", "diagnosis": "solved", "reason": "target met"}


def run_llm(runs_dir, url, thread, *extra, env_vars=None, timeout=400):
    return agent2(
        *cli_args(
            "run",
            env="CartPole-v1",
            designer="llm",
            base_url=url,
            model="stub-model",
            runs_dir=runs_dir,
            thread_id=thread,
            no_progress=True,
            eval_episodes=5,
            llm_retries=2,
        ),
        *extra,
        env={"OPENAI_API_KEY": SECRET, **(env_vars or {})},
        timeout=timeout,
    )


class EnvironWatcher:
    """Reads /proc/PID/environ of the worker processes while a run goes on."""

    def __init__(self, runs_dir: Path):
        self.runs_dir, self.seen, self.stop = runs_dir, {}, False
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stop:
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit() or proc.name in self.seen:
                    continue
                try:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    if "tools.train_worker" in cmd or "tools.mdp_check" in cmd:
                        self.seen[proc.name] = (cmd, (proc / "environ").read_bytes().decode(errors="replace"))
                except OSError:
                    continue
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_scripted_run_repairs_code_retries_and_exports(runs_dir, method):
    script = {
        "AnalysisAnswer": ["this is not JSON {", ANALYSIS],
        "MDPAnswer": [
            mdp_answer(SYNTAX_ERROR),
            mdp_answer(WRONG_SIGNATURE),
            mdp_answer(GOOD_CODE, "upright potential"),
        ],
        "AlgoAnswer": [429, ALGO],
        "Critique": [DONE],
    }
    with StubLLM(script) as stub, EnvironWatcher(runs_dir) as watch:
        proc = run_llm(runs_dir, stub.url, "llm", "--structured-method", method, "--target", "400")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((runs_dir / "llm" / "result.json").read_text())
    assert result["status"] == "target_met"
    first = result["iterations"][0]
    assert first["design"] == "upright potential" and "potential" in first["mdp_code"]
    assert first["hyperparameters"]["lr"] == 0.001
    # the broken answers were shown back to the model with their errors
    prompts = [json.dumps(r["messages"]) for r in stub.requests]
    assert any("syntax error" in p for p in prompts)
    assert any("takes 2 positional arguments, expected 5" in p for p in prompts)
    assert any("did not match the required structure" in p for p in prompts)
    assert [s[1] for s in stub.served if s[0] == "AlgoAnswer"][0] == 429  # retried after the rate limit
    # generated code ran in separate processes that never saw the key
    assert any("tools.train_worker" in cmd for cmd, _ in watch.seen.values())
    assert any("tools.mdp_check" in cmd for cmd, _ in watch.seen.values())
    assert all(SECRET not in environ and "OPENAI_API_KEY" not in environ for _, environ in watch.seen.values())
    usage = {u["node"]: u for u in RunDB(runs_dir).llm_usage("llm")}
    assert usage["analyze_task"]["invalid"] == 1 and usage["design_mdp"]["calls"] == 1
    assert usage["repair_mdp"]["calls"] == 2
    shown = agent2("show", "llm", "--runs-dir", str(runs_dir)).stdout
    assert "LLM calls" in shown and "repair_mdp" in shown
    play = agent2("play", str(runs_dir / "llm" / "agent"), "--episodes", "2")
    assert play.returncode == 0 and play.stdout.count("episode ") == 2


def test_model_that_never_gets_it_right_falls_back(runs_dir):
    script = {
        "AnalysisAnswer": [ANALYSIS],
        "MDPAnswer": [
            mdp_answer(NAN_REWARD),
            mdp_answer(RAISES_ON_STEP),
            mdp_answer(NAN_REWARD),
            mdp_answer(RAISES_ON_STEP),
        ],
        "AlgoAnswer": ['{"algorithm": "SAC"}'],  # valid JSON, wrong for discrete actions: expert decides
        "Critique": ["{broken"],
    }
    with StubLLM(script) as stub:
        proc = run_llm(runs_dir, stub.url, "fb", "--budget-steps", "6000", "--max-iterations", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((runs_dir / "fb" / "result.json").read_text())
    it = result["iterations"][0]
    assert it["design"] == "original MDP (fallback)"
    assert it["algorithm"] == "PPO"
    assert it["verdict"] in ("revise_algo", "done", "revise_mdp")  # the expert's critique
    errors = [json.dumps(r["messages"]) for r in stub.requests]
    assert any("non-finite value nan" in e for e in errors) and any("bad action transform" in e for e in errors)
    assert (runs_dir / "fb" / "agent" / "policy.pt").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_endpoint_fails_clearly_and_resume_continues(runs_dir):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    proc = run_llm(runs_dir, url, "dead", "--budget-steps", "6000", "--max-iterations", "1", "--llm-retries", "1")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("agent2: error: model endpoint") and "unreachable" in lines[-1]
    assert "agent2 resume dead" in lines[-1] and "Traceback" not in proc.stderr
    script = {
        "AnalysisAnswer": [ANALYSIS],
        "MDPAnswer": [mdp_answer(GOOD_CODE)],
        "AlgoAnswer": [ALGO],
        "Critique": [DONE],
    }
    with StubLLM(script, port=port):
        resumed = agent2("resume", "dead", "--runs-dir", str(runs_dir), env={"OPENAI_API_KEY": SECRET}, timeout=400)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((runs_dir / "dead" / "result.json").read_text())["iterations"][0]["design"] == "scripted design"


def test_doctor_reports_the_working_method():
    with StubLLM({"Sum": [{"answer": 5}], "json_mode": ['{"answer": 5}']}) as stub:
        out = agent2("doctor", "--base-url", stub.url, "--model", "stub-model")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "reachable" in out.stdout and "structured output via json_schema (configured): works" in out.stdout
