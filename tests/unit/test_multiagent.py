"""Multi-agent envs: the per-agent MDP wrapper, one slot per agent, shared and independent networks."""

import numpy as np
import pytest
import torch
from conftest import IDENTITY_MDP, MA_FILE, TOY
from pettingzoo.test import parallel_api_test
from stub_llm import StubLLM

from envs.loading import is_multi_agent, make_env, make_parallel_env
from envs.mdp_wrapper import load_mdp_module
from envs.multiagent import AgentLayout, MDPParallelEnv
from nodes.designers.base import DesignContext, critic_state
from nodes.designers.expert import ExpertDesigner
from nodes.designers.llm import LLMDesigner
from nodes.designers.llm_config import LLMSettings
from tools.algorithms import AgentView, build_algorithm
from tools.profiling import profile_env
from tools.schemas import AlgoConfig, TaskSpec, allowed_algorithms

STATEFUL = f"{MA_FILE}:make_stateful"
EXPERT = ExpertDesigner()


@pytest.mark.parametrize("ref", ["simple_spread_v3", "simple_reference_v3", TOY])
def test_pettingzoo_parallel_api_test_passes_on_the_mdp_wrapper(ref):
    game = make_parallel_env(ref)
    dim = max(int(np.prod(game.observation_space(a).shape)) for a in game.possible_agents)
    parallel_api_test(MDPParallelEnv(game, ref, load_mdp_module(IDENTITY_MDP), dim, shape_reward=True), num_cycles=60)


def test_mpe_tasks_make_and_profile_as_one_agents_view():
    for name, n in [("simple_spread_v3", 3), ("simple_reference_v3", 2)]:
        assert is_multi_agent(name)
        p = profile_env(name, episodes=3)
        assert p.agents == [f"agent_{k}" for k in range(n)] and p.multi_agent
        assert p.max_episode_steps == 25 and p.action.kind == "discrete"
        assert p.random_return_mean < -15  # random play is far from the targets
    assert not is_multi_agent("CartPole-v1")


def test_the_llm_designer_is_told_about_the_agents_and_offered_only_multi_agent_learners():
    p = profile_env("simple_spread_v3", episodes=2)
    text = LLMDesigner.contract(p)
    assert "3 agents (agent_0, agent_1, agent_2)" in text and "info['team_reward']" in text
    assert allowed_algorithms(p.action.kind, p.multi_agent) == ("MAPPO", "PPO", "IPPO")
    assert "agents" not in LLMDesigner.contract(profile_env("CartPole-v1", episodes=2))


def test_mappo_shares_one_actor_and_reads_the_state_in_its_critic():
    layout = AgentLayout(obs_dim=3, n_agents=3)
    space = make_env(TOY).action_space
    algo = build_algorithm(AlgoConfig(algorithm="MAPPO", hidden_sizes=[16]), layout.flat_dim, space, layout)
    actor_body, critic_body = algo.policy.actor.preprocess, algo.critic.preprocess
    assert isinstance(actor_body, AgentView) and len(actor_body.nets) == 1 and actor_body.part == "local"
    assert critic_body.part == "central"
    x = torch.zeros(2, layout.flat_dim)
    x[0, 3], x[1, 4] = 1, 1  # same own observation and state, agents 0 and 1
    logits, _ = algo.policy.actor(x)
    assert not torch.allclose(logits[0], logits[1])  # the shared actor tells agents apart by the one-hot
    x2 = x.clone()
    x2[:, 6:] = 5.0  # change only the state part
    assert torch.allclose(algo.policy.actor(x2)[0], logits)  # the actor does not read the state
    assert not torch.allclose(algo.critic(x2), algo.critic(x))  # the centralised critic does


def test_independent_ppo_trains_only_the_acting_agents_network():
    layout = AgentLayout(obs_dim=3, n_agents=3)
    space = make_env(TOY).action_space
    algo = build_algorithm(AlgoConfig(algorithm="IPPO", hidden_sizes=[16]), layout.flat_dim, space, layout)
    body = algo.policy.actor.preprocess
    assert len(body.nets) == 3
    x = torch.randn(4, layout.flat_dim)
    x[:, 3:6] = torch.tensor([0.0, 1.0, 0.0])  # every sample is agent 1's
    algo.policy.actor(x)[0].sum().backward()
    grads = [
        sum(float(p.grad.abs().sum()) if p.grad is not None else 0.0 for p in net.parameters()) for net in body.nets
    ]
    assert grads[1] > 0 and grads[0] == 0 and grads[2] == 0


def test_single_agent_algorithms_are_refused_for_a_multi_agent_env_and_vice_versa():
    layout = AgentLayout(obs_dim=3, n_agents=3)
    space = make_env(TOY).action_space
    with pytest.raises(ValueError, match="'DQN' is single-agent"):
        build_algorithm(AlgoConfig(algorithm="DQN"), layout.flat_dim, space, layout)
    with pytest.raises(ValueError, match="'MAPPO' needs a multi-agent env"):
        build_algorithm(AlgoConfig(algorithm="MAPPO"), 4, space)


def test_expert_picks_mappo_then_shared_then_independent_ppo():
    p = profile_env("simple_spread_v3", episodes=2)
    ctx = DesignContext(
        task=TaskSpec(text="t", env="simple_spread_v3", target=-16.3, budget_steps=1_000_000), profile=p
    )
    expert = ExpertDesigner()
    cfg = expert.select_algorithm(ctx)
    assert cfg.algorithm == "MAPPO" and cfg.gamma == 0.99 and cfg.on_policy
    assert expert.analyze(ctx).agents == "multi"
    assert expert.alternative("MAPPO", p) == "PPO" and expert.alternative("PPO", p) == "IPPO"


@pytest.mark.parametrize("llm", [False, True])
def test_the_critic_reads_the_env_state_only_where_the_env_gives_a_smaller_one(llm):
    """The one rule (``critic_state``), whichever designer drafts the MDP: MPE's state is every agent's
    observation side by side (54 = 3 x 18), so its critic keeps reading those; the stateful toy's 2
    values are fewer than its 9. A single-agent env has no such choice. A later design keeps the last
    one's choice (a reviewer's edit stays)."""
    cases = [("simple_spread_v3", 54, False), (STATEFUL, 2, True), ("CartPole-v1", 0, False)]
    with StubLLM({"MDPAnswer": [{"code": "x = 1", "obs_dim": 3, "summary": "s"}]}) as stub:
        designer = LLMDesigner(LLMSettings(base_url=stub.url, model="stub-model", retries=0)) if llm else EXPERT
        for ref, state_dim, reads in cases:
            p = profile_env(ref, episodes=2)
            assert p.state_dim == state_dim
            ctx = DesignContext(task=TaskSpec(text="t", env=ref, budget_steps=10_000), profile=p)
            mdp = designer.design_mdp(ctx)
            assert mdp.env_state is reads, ref
            assert ("critic reads the env state" in mdp.summary) is (reads and not llm)
            ctx.mdp = mdp.model_copy(update={"env_state": not reads})  # a reviewer's edit
            assert designer.design_mdp(ctx).env_state is (not reads)


def test_the_rule_compares_the_state_with_the_observations_unpadded():
    """Agents with observations of different sizes are padded to the largest in their slots; an env
    whose state is their plain concatenation (MPE's simple_adversary: 28 values, 3 agents padded to 10)
    is no smaller than what the critic reads without it."""
    p = profile_env("simple_spread_v3", episodes=1)
    assert p.joint_obs_dim == 54 and not critic_state(p)
    assert not critic_state(p.model_copy(update={"obs_dim": 10, "state_dim": 28, "joint_obs_dim": 28}))
    assert critic_state(p.model_copy(update={"state_dim": 53}))


def test_a_mappo_critic_reading_the_env_state_reads_only_that_part():
    layout = AgentLayout(obs_dim=3, n_agents=3, env_state_dim=2)
    space = make_env(TOY).action_space
    algo = build_algorithm(AlgoConfig(algorithm="MAPPO", hidden_sizes=[16]), layout.flat_dim, space, layout)
    assert algo.critic.preprocess.nets[0].model[0].in_features == 2 + 3  # the state and the agent's one-hot
    x = torch.zeros(2, layout.flat_dim)
    x[:, 3] = 1
    x2 = x.clone()
    x2[:, 6:] = 5.0
    assert not torch.allclose(algo.critic(x2), algo.critic(x))


def test_a_remembering_mappo_actor_reads_each_agents_frames_in_order_through_a_gru():
    """With a history, the shared actor's own part is the agent's last frames: an MLP reads them
    all, a GRU (``encoder="gru"``) reads them in order; the centralised critic reads the current
    state only."""
    layout = AgentLayout(obs_dim=3, n_agents=3, history=4)
    space = make_env(TOY).action_space
    mlp = build_algorithm(AlgoConfig(algorithm="MAPPO", hidden_sizes=[16]), layout.flat_dim, space, layout)
    assert mlp.policy.actor.preprocess.nets[0].model[0].in_features == 4 * 3 + 3
    cfg = AlgoConfig(algorithm="MAPPO", hidden_sizes=[16], encoder="gru")
    algo = build_algorithm(cfg, layout.flat_dim, space, layout)
    assert any(isinstance(m, torch.nn.GRU) for m in algo.policy.actor.modules())
    assert not any(isinstance(m, torch.nn.GRU) for m in algo.critic.modules())
    torch.manual_seed(0)
    x = torch.randn(2, layout.flat_dim)
    x[:, 12:15] = torch.eye(3)[:2]  # agents 0 and 1
    view = algo.policy.actor.preprocess
    enc = view.nets[0]

    def unrolled(frames: torch.Tensor) -> torch.Tensor:  # the GRU run by hand over frames in this order
        out, _ = enc.rnn(enc.embed(frames))
        return enc.mlp(torch.cat([out[:, -1], x[:, 12:15]], dim=1))

    frames = x[:, :12].reshape(2, 4, 3)  # slot layout: frame 0 (oldest) … frame 3 (newest)
    with torch.no_grad():
        got = view(x)[0]
        assert torch.allclose(got, unrolled(frames), atol=1e-6)
        assert not torch.allclose(got, unrolled(frames.flip(1)), atol=1e-3)  # newest first would differ
    swapped = x.clone()
    swapped[:, 0:3], swapped[:, 9:12] = x[:, 9:12], x[:, 0:3]  # the oldest and the newest frame
    assert torch.allclose(algo.critic(x), algo.critic(swapped))  # the critic does not read the frames


def test_games_take_consecutive_seeds_so_test_and_evaluation_games_never_meet():
    """Games were seeded 1000 apart while the run's offsets (tests +50,000, evaluation +100,000) assume
    seed + i: test game 50 + j replayed evaluation game j, and a policy was chosen on its own
    evaluation's battles."""
    from envs.multiagent import slot_seeds
    from tools.run_rules import EVAL_SEED_OFFSET, TEST_SEED_OFFSET

    seeds = slot_seeds(7, 4, 3)
    assert seeds[::3] == [7, 8, 9, 10]  # each game's first slot seeds the game
    assert len(set(seeds)) == 12
    games = lambda offset, n: set(slot_seeds(7 + offset, n, 3)[::3])  # noqa: E731
    assert not games(TEST_SEED_OFFSET, 200) & games(EVAL_SEED_OFFSET, 200)


def test_a_reshaped_design_keeps_the_critics_env_state():
    p = profile_env(STATEFUL, episodes=2)
    mdp = EXPERT.design_mdp(DesignContext(task=TaskSpec(text="t", env=STATEFUL, budget_steps=10_000), profile=p))
    assert mdp.env_state
    assert EXPERT.reshaped(mdp, p, None, "potential", 2, "kept from the screened design").env_state
