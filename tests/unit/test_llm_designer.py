"""The LLM designer against a scripted OpenAI-compatible server on loopback, through the real
``ChatOpenAI`` client over HTTP: repairs, fallbacks, retries, a dead endpoint, no key leaks."""

import json

from stub_llm import StubLLM


def test_model_stopping_below_target_gets_an_expert_second_opinion():
    from nodes.designers.base import DesignContext
    from nodes.designers.expert import ExpertDesigner
    from nodes.designers.llm import LLMDesigner
    from nodes.designers.llm_config import LLMSettings
    from tools.profiling import profile_env
    from tools.schemas import CurvePoint, EvalResult, TaskSpec, TrainResult

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
    with StubLLM({"Critique": [{"verdict": "done", "diagnosis": "other", "reason": "looks fine"}]}) as stub:
        c = LLMDesigner(LLMSettings(base_url=stub.url, model="stub-model", retries=0)).critique(ctx)
    assert c.verdict == "revise_algo" and c.warm_start and "model said done" in c.reason


def test_llm_candidates_are_sampled_and_an_unusable_answer_takes_the_expert_variation():
    from nodes.designers.base import DesignContext
    from nodes.designers.expert import ExpertDesigner
    from nodes.designers.llm import LLMDesigner
    from nodes.designers.llm_config import LLMSettings
    from tools.profiling import profile_env
    from tools.schemas import TaskSpec

    ctx = DesignContext(
        task=TaskSpec(text="t", env="CartPole-v1", target=475, budget_steps=100_000),
        profile=profile_env("CartPole-v1", episodes=3),
    )
    expert = ExpertDesigner()
    ctx.mdp, ctx.algo = expert.design_mdp(ctx), expert.select_algorithm(ctx)
    script = {
        "AlgoAnswer": [
            {"algorithm": "PPO", "lr": 0.0025, "rationale": "lr x2.5: faster early progress"},
            {"algorithm": "SAC", "rationale": "continuous control"},  # not for discrete actions
            {"algorithm": "DQN", "rationale": "value-based: small discrete action set"},
        ]
    }
    with StubLLM(script) as stub:
        out = LLMDesigner(LLMSettings(base_url=stub.url, model="stub-model", retries=0)).propose_candidates(ctx, 4, 10)
    sampled = [r for r in stub.requests if "Propose candidate" in json.dumps(r["messages"])]
    assert len(sampled) == 3 and all(r.get("temperature", 0) >= 0.9 for r in sampled)
    assert "1. model: lr x2.5" in json.dumps(sampled[1]["messages"])  # each sample sees the candidates so far
    assert out[0].algo == ctx.algo and out[0].label == "as designed"
    assert out[1].label == "model: lr x2.5" and out[1].algo.lr == 0.0025
    assert out[2].label == "lr ×0.3"  # SAC can't act here: the expert's second variation instead
    assert out[3].label.startswith("model: value-based") and out[3].algo.algorithm == "DQN"
    assert [c.seed for c in out] == [10, 11, 12, 13]
