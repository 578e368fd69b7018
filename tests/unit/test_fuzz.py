"""Bad inputs, generated with hypothesis: each gets a clear error (our own types), never a crash
of another kind, a hang or a lost run. Derandomised, so CI sees the same inputs every time."""

import argparse
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.cli import build_parser
from envs.errors import Agent2Error
from nodes.designers.base import DesignContext
from nodes.designers.expert import apply_changes
from nodes.designers.llm import AlgoAnswer, LLMDesigner, MDPAnswer, _to_design
from nodes.designers.llm_config import LLMSettings
from nodes.intake import resolve_spec
from nodes.review import parse_answer
from nodes.state import RunRequest
from tools.mdp_check import static_check
from tools.profiling import profile_env
from tools.schemas import AlgoConfig, TaskSpec, allowed_algorithms

FAST = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


SLOW = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)


json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=10,
)


env_refs = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["CartPole-v1", "Nope-v9", ":", "x.py:", "a:b:c", "/nonexistent/f.py:make", "os:system", " "]),
)


@FAST
@given(st.dictionaries(st.sampled_from(list(RunRequest.model_fields) + ["bogus"]), scalars, max_size=8))
def test_run_requests(fields):
    try:
        request = RunRequest.model_validate(fields)
    except ValidationError:
        return
    try:
        spec = resolve_spec(request)
    except Agent2Error:
        return
    assert isinstance(spec, TaskSpec) and spec.budget_steps > 0


@FAST
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "run",
                    "resume",
                    "fork",
                    "show",
                    "play",
                    "mcp",
                    "--env",
                    "--budget-steps",
                    "--target",
                    "--iteration",
                    "--edit",
                    "--seed",
                    "--port",
                    "--max-iterations",
                    "-1",
                    "0",
                    "nan",
                    "inf",
                    "1e400",
                ]
            ),
            st.text(max_size=12),
        ),
        max_size=6,
    )
)
def test_command_lines(argv):
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        assert e.code == 2  # argparse's one-line error (our parser never dumps the usage)
        return
    assert isinstance(args, argparse.Namespace)


@FAST
@given(st.dictionaries(st.sampled_from(list(AlgoConfig.model_fields) + ["bogus"]), json_values, max_size=8))
def test_config_values(fields):
    base = AlgoConfig(algorithm="PPO")
    try:
        AlgoConfig.model_validate({"algorithm": "SAC", **fields})
    except ValidationError:
        pass
    changed = apply_changes(base, fields)  # the critic's changes: bad ones are dropped, never raised
    assert isinstance(AlgoConfig.model_validate(changed.model_dump()), AlgoConfig)


@FAST
@given(json_values)
def test_review_answers(raw):
    try:
        answer = parse_answer(raw)
    except ValueError:
        return
    assert answer.action in ("approve", "edit", "reject")


@FAST
@given(
    st.one_of(
        st.text(max_size=300),
        st.builds(
            lambda body: (
                f"import numpy as np\n{body}\n"
                "def observation(obs):\n    return obs\n"
                "def action(act):\n    return act\n"
                "def reward(obs, action, next_obs, reward, info):\n"
                "    return reward\n"
            ),
            st.text(max_size=80),
        ),
    )
)
def test_mdp_code_static_check(code):
    out = static_check(code)
    assert out is None or (isinstance(out, str) and out.startswith("mdp.py"))


@pytest.fixture(scope="module")
def pendulum_ctx():
    task = TaskSpec(text="t", env="Pendulum-v1", target=-200, budget_steps=50_000)
    return DesignContext(task=task, profile=profile_env("Pendulum-v1", episodes=2))


algo_answers = st.builds(
    AlgoAnswer,
    algorithm=st.sampled_from(["PPO", "A2C", "DQN", "SAC", "TD3", "MAPPO", "IPPO"]),
    hidden_sizes=st.one_of(st.none(), st.lists(st.integers(1, 4096), min_size=1, max_size=4)),
    activation=st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["tanh", "relu"])),
    lr=st.one_of(st.none(), st.floats(1e-9, 0.99)),
    gamma=st.one_of(st.none(), st.floats(0.01, 1.0)),
    n_train_envs=st.one_of(st.none(), st.integers(1, 64)),
    batch_size=st.one_of(st.none(), st.integers(1, 65536)),
    collect_steps=st.one_of(st.none(), st.integers(1, 10**7)),
)


@SLOW
@given(algo_answers)
def test_model_answers_for_the_algorithm(pendulum_ctx, answer):
    designer = LLMDesigner(LLMSettings())
    designer.ask = lambda node, ctx, instruction, schema: answer  # what the model said, already parsed
    cfg = designer.select_algorithm(pendulum_ctx)
    assert cfg.algorithm in allowed_algorithms("continuous", False)
    assert AlgoConfig.model_validate(cfg.model_dump()) == cfg


@FAST
@given(st.dictionaries(st.sampled_from(["code", "obs_dim", "summary", "rationale", "extra"]), json_values))
def test_model_answers_for_the_mdp(fields):
    try:
        design = _to_design(MDPAnswer.model_validate(fields))
    except ValidationError:
        return
    assert design.summary and design.obs_dim > 0


@SLOW
@given(env_refs)
def test_env_references(ref):
    from envs.loading import make_env

    try:
        make_env(ref).close()
    except Agent2Error:
        pass


@SLOW
@given(st.text(max_size=200))
def test_env_files(tmp_path_factory, source):
    from envs.loading import make_env

    path = Path(tmp_path_factory.mktemp("envfile")) / "fuzzed_env.py"
    path.write_text(source)
    with pytest.raises(Agent2Error):
        make_env(f"{path}:make_env").close()


def test_json_answers_round_trip():
    """The CLI's --answer takes what the server takes."""
    from app.review_prompt import answer_from_flags

    for raw in ('"approve"', '{"action": "reject", "feedback": "x"}'):
        assert answer_from_flags(False, None, [], None, raw) == parse_answer(json.loads(raw))


"""The only (function, body) pairs that make a valid MDP for CartPole (obs_dim 4; the wrapper flattens
observations, so a 2x2 array of 4 values is valid); every other one returns the wrong thing, raises or
loops, and must be refused."""


"""What the refusal must say for code that raises or loops."""
