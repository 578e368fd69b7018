"""Human review (interrupts after MDP design and algorithm choice), its CLI, and ``agent2 fork``."""

import json
from pathlib import Path

import pytest
from conftest import IDENTITY_MDP, ROOT, agent2

from app.review_prompt import WAITING, answer_from_flags, ask_review, parse_assignments
from envs.errors import Agent2Error
from nodes.designers.base import DesignContext
from nodes.designers.expert import ExpertDesigner
from nodes.review import parse_answer
from tools.profiling import profile_env
from tools.schemas import ReviewAnswer, ReviewNote, TaskSpec


@pytest.mark.parametrize(
    "raw,action",
    [("approve", "approve"), (" Reject ", "reject"), ({"action": "edit", "changes": {"lr": 0.01}}, "edit")],
)
def test_answers_parse(raw, action):
    assert parse_answer(raw).action == action


@pytest.mark.parametrize("raw", ["maybe", {"action": "edit", "bogus": 1}, 42])
def test_bad_answers_are_refused(raw):
    with pytest.raises(ValueError):
        parse_answer(raw)


def test_flags_give_one_answer(tmp_path):
    code = tmp_path / "m.py"
    code.write_text(IDENTITY_MDP)
    assert answer_from_flags(False, None, [], None) is None
    assert answer_from_flags(True, None, [], None) == ReviewAnswer(action="approve")
    assert answer_from_flags(False, "no", [], None) == ReviewAnswer(action="reject", feedback="no")
    edit = answer_from_flags(False, None, ["lr=0.01", "hidden_sizes=[32, 32]", "activation=relu"], str(code))
    assert edit.changes == {"lr": 0.01, "hidden_sizes": [32, 32], "activation": "relu", "code": IDENTITY_MDP}
    as_json = answer_from_flags(False, None, [], None, '{"action": "edit", "changes": {"gamma": 0.98}}')
    assert as_json == ReviewAnswer(action="edit", changes={"gamma": 0.98})
    with pytest.raises(Agent2Error, match="one answer"):
        answer_from_flags(True, "no", [], None)
    with pytest.raises(Agent2Error, match="not a review answer"):
        answer_from_flags(False, None, [], None, '{"action": "maybe"}')
    with pytest.raises(Agent2Error, match="not a review answer"):
        answer_from_flags(False, None, [], None, "{oops")
    with pytest.raises(Agent2Error, match="KEY=VALUE"):
        parse_assignments(["lr"])
    with pytest.raises(Agent2Error, match="missing.py"):
        answer_from_flags(False, None, [], str(tmp_path / "missing.py"))


def test_prompt_asks_until_the_answer_is_usable():
    said = iter(["what?", "e", "lr", "e", "lr=0.002 algorithm=DQN"])
    answer = ask_review({"stage": "algorithm"}, read=lambda _: next(said))
    assert answer == ReviewAnswer(action="edit", changes={"lr": 0.002, "algorithm": "DQN"})
    said = iter(["r", "smaller network"])
    assert ask_review({"stage": "mdp"}, read=lambda _: next(said)).feedback == "smaller network"


@pytest.fixture(scope="module")
def cartpole_ctx():
    task = TaskSpec(text="t", env="CartPole-v1", target=475, budget_steps=50_000)
    return DesignContext(task=task, profile=profile_env("CartPole-v1", episodes=3))


def test_expert_answers_a_rejection_with_another_proposal(cartpole_ctx):
    expert = ExpertDesigner()
    first_mdp, first_algo = expert.design_mdp(cartpole_ctx), expert.select_algorithm(cartpole_ctx)
    note = ReviewNote(stage="mdp", rejected=first_mdp.summary, feedback="no")
    second_mdp = expert.design_mdp(DesignContext(**{**cartpole_ctx.__dict__, "mdp": first_mdp, "review": note}))
    assert second_mdp.code != first_mdp.code and second_mdp.summary != first_mdp.summary
    note = ReviewNote(stage="algorithm", rejected=first_algo.short())
    second_algo = expert.select_algorithm(
        DesignContext(**{**cartpole_ctx.__dict__, "algo": first_algo, "review": note})
    )
    assert (first_algo.algorithm, second_algo.algorithm) == ("PPO", "DQN")


def _answer(runs: Path, thread: str, *flags: str):
    return agent2("resume", thread, "--runs-dir", str(runs), *flags)


def test_cli_review_edit_reject_approve_then_fork(tmp_path, runs_dir):
    marked = IDENTITY_MDP + "# reviewed by a human\n"
    (tmp_path / "good.py").write_text(marked)
    (tmp_path / "bad.py").write_text("import os\n" + IDENTITY_MDP)
    proc = agent2(
        "run",
        "--env",
        "CartPole-v1",
        "--budget-steps",
        "2000",
        "--max-iterations",
        "1",
        "--eval-episodes",
        "2",
        "--runs-dir",
        str(runs_dir),
        "--thread-id",
        "rv",
        "--no-progress",
        "--review",
    )
    assert proc.returncode == WAITING, proc.stderr[-2000:]
    assert "waiting for review of the mdp (iteration 1)" in proc.stdout and "def reward" in proc.stderr
    proc = _answer(runs_dir, "rv", "--edit-code", str(tmp_path / "bad.py"))
    assert proc.returncode == WAITING and "waiting for review of the mdp" in proc.stdout
    assert "edited MDP failed validation" in proc.stderr and "os" in proc.stderr
    proc = _answer(runs_dir, "rv", "--edit-code", str(tmp_path / "good.py"))
    assert proc.returncode == WAITING and "waiting for review of the algorithm" in proc.stdout
    proc = _answer(runs_dir, "rv", "--reject", "try a value-based method")
    assert proc.returncode == WAITING and "DQN" in proc.stderr
    proc = _answer(runs_dir, "rv", "--approve", "--reject", "x")
    assert proc.returncode == 2 and "one answer" in proc.stderr
    proc = _answer(runs_dir, "rv", "--approve")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((runs_dir / "rv" / "result.json").read_text())
    (it,) = result["iterations"]
    assert it["mdp_code"] == marked and "edited in review" in it["design"] and it["algorithm"] == "DQN"
    assert [(r["stage"], r["action"]) for r in result["reviews"]] == [
        ("mdp", "edit"),
        ("algorithm", "reject"),
        ("algorithm", "approve"),
    ]
    assert "## Human reviews" in Path(result["report"]).read_text()
    proc = _answer(runs_dir, "rv", "--approve")
    assert proc.returncode == 2 and "not waiting for a review" in proc.stderr

    # time travel: a new thread from iteration 1's MDP design, choosing the algorithm again
    proc = agent2("fork", "rv", "--iteration", "1", "--thread-id", "rv2", "--runs-dir", str(runs_dir), "--review")
    assert proc.returncode == WAITING and "waiting for review of the algorithm (iteration 1)" in proc.stdout
    proc = _answer(runs_dir, "rv2", "--edit", "algorithm=PPO", "--edit", "lr=0.002")
    assert proc.returncode == 0, proc.stderr[-2000:]
    forked = json.loads((runs_dir / "rv2" / "result.json").read_text())
    (it2,) = forked["iterations"]
    assert it2["mdp_code"] == marked and it2["algorithm"] == "PPO" and it2["hyperparameters"]["lr"] == 0.002
    assert json.loads((runs_dir / "rv" / "result.json").read_text()) == result  # the parent is untouched
    proc = agent2("fork", "rv", "--iteration", "2", "--runs-dir", str(runs_dir))
    assert proc.returncode == 2 and "no iteration 2" in proc.stderr
    proc = agent2("fork", "rv", "--iteration", "1", "--thread-id", "rv2", "--runs-dir", str(runs_dir))
    assert proc.returncode == 2 and "already exists" in proc.stderr


def test_server_graph_has_no_checkpointer_and_langgraph_json_points_at_it():
    from graph.server import graph

    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["graphs"]["agent2"]["path"] == "graph.server:graph"
    assert graph.checkpointer is None and graph.get_input_jsonschema()["required"] == ["env"]


def test_langgraph_dockerfile_installs_bubblewrap_and_the_cpu_torch_before_agent2(tmp_path):
    """``langgraph dockerfile`` (what ``langgraph build`` builds; no Docker here, so the image itself is
    not built): bubblewrap so generated code runs confined (AGENT2_SANDBOX=bwrap makes it required),
    the CPU torch wheel (a build argument picks a CUDA index) installed before ``-e .`` so the
    install does not pull the multi-GB CUDA build, the env defaults, Python 3.11."""
    import os
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("langgraph")
    if not exe.exists():
        pytest.skip("langgraph-cli is part of 'make setup'")
    env = {**os.environ, "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "true"}
    proc = subprocess.run(
        [str(exe), "dockerfile", "-c", str(ROOT / "langgraph.json"), str(tmp_path / "Dockerfile")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = (tmp_path / "Dockerfile").read_text().splitlines()
    assert lines[0].startswith("FROM langchain/langgraph-api:3.11")

    def at(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    bwrap, torch = at("apt-get install -y --no-install-recommends bubblewrap"), at("torch==2.13.0")
    assert (
        "--index-url ${TORCH_INDEX_URL}" in lines[torch]
        and at("ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu") < torch
    )
    assert max(bwrap, torch) < at("ADD . /deps/") < at("-e .);")  # /deps/<the checkout's folder name>
    assert (
        "AGENT2_SANDBOX=bwrap" in lines[at("ENV AGENT2_")] and "AGENT2_RUNS_DIR=/data/runs" in lines[at("ENV AGENT2_")]
    )
