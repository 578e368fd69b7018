"""The LLM designer against a scripted OpenAI-compatible server on loopback, through the real
``ChatOpenAI`` client over HTTP: repairs, fallbacks, retries, a dead endpoint, no key leaks."""

import json
import os

from stub_llm import StubLLM

from nodes.designers.base import DesignContext
from nodes.designers.expert import ExpertDesigner
from nodes.designers.llm import SOURCE_LIMIT, LLMDesigner
from nodes.designers.llm_config import LLMSettings
from tools.profiling import profile_env
from tools.schemas import CurvePoint, EvalResult, TaskSpec, TrainResult


def _designed_cartpole() -> DesignContext:
    """CartPole with the expert's MDP and algorithm, trained 20k steps to a flat 300 and evaluated."""
    ctx = DesignContext(
        task=TaskSpec(text="t", env="CartPole-v1", target=475, budget_steps=100_000),
        profile=profile_env("CartPole-v1", episodes=3),
    )
    expert = ExpertDesigner()
    ctx.mdp, ctx.algo = expert.design_mdp(ctx), expert.select_algorithm(ctx)
    ctx.train = TrainResult(
        env_steps=20_000,
        best_test_mean=300,
        stop_reason="budget",
        iter_dir="/tmp/x",
        curve=[CurvePoint(env_step=1000 * i, mean=30 * i, std=5, wall=i) for i in range(1, 11)],
    )
    ctx.eval = EvalResult(mean=290, std=10, episodes=20, returns=[], mean_length=290)
    ctx.steps_used = 20_000
    return ctx


def _designer(stub: StubLLM) -> LLMDesigner:
    return LLMDesigner(LLMSettings(base_url=stub.url, model="stub-model", retries=0))


def test_every_call_of_a_run_starts_with_the_same_prefix_through_the_env_source():
    """A prefix-caching server (llama.cpp, OpenAI-style endpoints) reads the env's source once a run."""
    ctx = _designed_cartpole()
    script = {
        "AnalysisAnswer": [{"objective": "balance the pole", "challenges": ["long horizon"]}],
        "MDPAnswer": [{"code": "x = 1", "obs_dim": 4, "summary": "s"}],
        "AlgoAnswer": [{"algorithm": "PPO"}],
        "Critique": [{"verdict": "revise_algo", "diagnosis": "plateau", "reason": "flat"}],
    }
    with StubLLM(script) as stub:
        llm = _designer(stub)
        design = llm.design_mdp(ctx)
        llm.analyze(ctx), llm.repair_mdp(ctx, design, "NameError: np"), llm.select_algorithm(ctx), llm.critique(ctx)
    assert len({json.dumps(r["messages"][0]) for r in stub.requests}) == 1  # one system message
    texts = [next(m["content"] for m in r["messages"] if m["role"] == "user") for r in stub.requests]
    shared = os.path.commonprefix(texts)
    assert ctx.profile.source[:SOURCE_LIMIT].rstrip()[-200:] in shared, shared[-300:]
    assert [t[len(shared) :].strip().split("\n")[0] for t in texts] == [
        "Design the MDP for this task (iteration 1).",
        "Analyse the reinforcement-learning task above.",
        "Your MDP module failed validation. Fix it.",
        "Choose the algorithm, network and hyper-parameters (iteration 1).",
        "Judge this training iteration and decide what to change.",
    ]


def test_model_stopping_below_target_gets_an_expert_second_opinion():
    ctx = _designed_cartpole()
    with StubLLM({"Critique": [{"verdict": "done", "diagnosis": "other", "reason": "looks fine"}]}) as stub:
        c = _designer(stub).critique(ctx)
    assert c.verdict == "revise_algo" and c.warm_start and "model said done" in c.reason


def test_llm_candidates_are_sampled_and_an_unusable_answer_takes_the_expert_variation():
    ctx = _designed_cartpole()
    script = {
        "AlgoAnswer": [
            {"algorithm": "PPO", "lr": 0.0025, "rationale": "lr x2.5: faster early progress"},
            {"algorithm": "SAC", "rationale": "continuous control"},  # not for discrete actions
            {"algorithm": "DQN", "rationale": "value-based: small discrete action set"},
        ]
    }
    with StubLLM(script) as stub:
        out = _designer(stub).propose_candidates(ctx, 4, 10)
    sampled = [r for r in stub.requests if "Propose candidate" in json.dumps(r["messages"])]
    assert len(sampled) == 3 and all(r.get("temperature", 0) >= 0.9 for r in sampled)
    assert "1. model: lr x2.5" in json.dumps(sampled[1]["messages"])  # each sample sees the candidates so far
    assert out[0].algo == ctx.algo and out[0].label == "as designed"
    assert out[1].label == "model: lr x2.5" and out[1].algo.lr == 0.0025
    assert out[2].label == "lr ×0.3"  # SAC can't act here: the expert's second variation instead
    assert out[3].label.startswith("model: value-based") and out[3].algo.algorithm == "DQN"
    assert [c.seed for c in out] == [10, 11, 12, 13]


def test_the_models_off_policy_choice_steps_few_envs_where_each_is_a_process():
    """MetaDrive-like: one env per process; the model's DQN with 16 envs runs 2 (the expert's rule)."""
    ctx = _designed_cartpole()
    ctx.profile = ctx.profile.model_copy(update={"one_per_process": True})
    with StubLLM({"AlgoAnswer": [{"algorithm": "DQN", "n_train_envs": 16}]}) as stub:
        cfg = _designer(stub).select_algorithm(ctx)
    assert cfg.algorithm == "DQN" and (cfg.n_train_envs, cfg.n_test_envs) == (2, 2)
