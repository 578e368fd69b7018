"""Multi-agent envs: the per-agent MDP wrapper, one slot per agent, shared and independent networks."""

import numpy as np
import pytest
import torch
from conftest import IDENTITY_MDP, ROOT, agent2, tiny_run
from pettingzoo.test import parallel_api_test
from tianshou.data import Collector, CollectStats, VectorReplayBuffer

from envs.loading import is_multi_agent, make_env, make_parallel_env
from envs.mdp_wrapper import load_mdp_module
from envs.multiagent import AgentLayout, MDPParallelEnv
from nodes.designers.base import DesignContext
from nodes.designers.expert import ExpertDesigner
from nodes.designers.llm import LLMDesigner
from tools.algorithms import AgentView, build_algorithm
from tools.profiling import profile_env
from tools.schemas import AlgoConfig, MDPDesign, TaskSpec, allowed_algorithms
from tools.vector_envs import make_vector_env

MA_FILE = ROOT / "tests" / "envfiles" / "ma_envs.py"
TOY = f"{MA_FILE}:make_env"
DYING = f"{MA_FILE}:make_dying"
MASKED = f"{MA_FILE}:make_masked"

IDENTITY = IDENTITY_MDP

SHARED_REWARD = IDENTITY.replace("    return reward\n", "    return info['team_reward']\n")


def _mdp(obs_dim: int, code: str = IDENTITY) -> MDPDesign:
    return MDPDesign(code=code, obs_dim=obs_dim, summary="identity")


@pytest.mark.parametrize("ref", ["simple_spread_v3", "simple_reference_v3", TOY])
def test_pettingzoo_parallel_api_test_passes_on_the_mdp_wrapper(ref):
    game = make_parallel_env(ref)
    dim = max(int(np.prod(game.observation_space(a).shape)) for a in game.possible_agents)
    parallel_api_test(MDPParallelEnv(game, ref, load_mdp_module(IDENTITY), dim, shape_reward=True), num_cycles=60)


def test_mpe_tasks_make_and_profile_as_one_agents_view():
    for name, n in [("simple_spread_v3", 3), ("simple_reference_v3", 2)]:
        assert is_multi_agent(name)
        p = profile_env(name, episodes=3)
        assert p.agents == [f"agent_{k}" for k in range(n)] and p.multi_agent
        assert p.max_episode_steps == 25 and p.action.kind == "discrete"
        assert p.random_return_mean < -15  # random play is far from the targets
    assert not is_multi_agent("CartPole-v1")


def test_each_slot_gets_its_own_agents_reward_and_next_observation():
    venv = make_vector_env(TOY, _mdp(3), n=2, seed=0, shape_reward=True)
    assert len(venv) == 6 and venv.layout == AgentLayout(obs_dim=3, n_agents=3)
    buf = VectorReplayBuffer(600, len(venv))
    collector = Collector[CollectStats](_random_algorithm(venv), venv, buf)
    collector.reset()
    stats = collector.collect(n_step=6 * 20, random=True)
    assert stats.n_collected_steps == 120
    batch, _ = buf.sample(0)
    agent = batch.obs[:, 0].astype(int)  # the env writes the agent index into its observation
    # the slot's reward is its own agent's: 10 * (k + 1) + its action
    np.testing.assert_allclose(batch.rew, 10 * (agent + 1) + batch.act)
    # obs_next is the same agent's next observation: same index, time + 1, the action just taken
    np.testing.assert_array_equal(batch.obs_next[:, 0], batch.obs[:, 0])
    np.testing.assert_array_equal(batch.obs_next[:, 1], batch.obs[:, 1] + 1)
    np.testing.assert_array_equal(batch.obs_next[:, 2], batch.act)
    # the one-hot after the own observation names the agent; the state holds every agent's observation
    np.testing.assert_array_equal(batch.obs[:, 3:6].argmax(1), agent)
    np.testing.assert_array_equal(batch.obs[:, 6::3], np.tile([0, 1, 2], (len(agent), 1)))
    # all agents of a game end together, after LENGTH steps
    assert set(np.unique(stats.lens)) == {8}
    venv.close()


def test_an_agent_that_leaves_early_keeps_its_slot_with_zero_reward_until_the_game_ends():
    venv = make_vector_env(DYING, _mdp(3), n=1, seed=0, shape_reward=True)
    venv.reset()
    rewards, ends = [], []
    for _ in range(8):
        _, rew, term, trunc, _ = venv.step(np.zeros(3, dtype=int))
        rewards.append(rew)
        ends.append(term | trunc)
    rewards = np.array(rewards)
    assert list(rewards[:3, 0]) == [10, 10, 10] and list(rewards[3:, 0]) == [0] * 5
    assert list(rewards[:, 1]) == [20] * 8
    assert not np.any(ends[:-1]) and np.all(ends[-1])
    # Tianshou stacks the slots' infos: a left agent's must have the same keys and types
    buf = VectorReplayBuffer(100, len(venv))
    Collector[CollectStats](_random_algorithm(venv), venv, buf).collect(n_step=30, reset_before_collect=True)
    assert len(buf) == 30


def test_a_shared_reward_design_gives_every_agent_the_team_reward():
    venv = make_vector_env(TOY, _mdp(3, SHARED_REWARD), n=1, seed=0, shape_reward=True)
    venv.reset()
    _, rew, _, _, info = venv.step(np.array([0, 1, 2]))
    assert np.allclose(rew, (10 + 21 + 32) / 3)
    assert [i["original_reward"] for i in info] == [10, 21, 32]
    # tests and evaluation never shape: the slot's own original reward
    venv = make_vector_env(TOY, _mdp(3, SHARED_REWARD), n=1, seed=0, shape_reward=False)
    venv.reset()
    _, rew, _, _, _ = venv.step(np.array([0, 1, 2]))
    assert list(rew) == [10, 21, 32]


def test_the_llm_designer_is_told_about_the_agents_and_offered_only_multi_agent_learners():
    p = profile_env("simple_spread_v3", episodes=2)
    text = LLMDesigner.contract(p)
    assert "3 agents (agent_0, agent_1, agent_2)" in text and "info['team_reward']" in text
    assert allowed_algorithms(p.action.kind, p.multi_agent) == ("MAPPO", "PPO", "IPPO")
    assert "agents" not in LLMDesigner.contract(profile_env("CartPole-v1", episodes=2))


def _random_algorithm(venv):
    cfg = AlgoConfig(algorithm="MAPPO", hidden_sizes=[8])
    return build_algorithm(cfg, venv.layout.flat_dim, venv.get_env_attr("action_space", 0)[0], venv.layout)


def test_action_masks_travel_in_the_observation_and_masked_actions_are_never_taken():
    venv = make_vector_env(MASKED, _mdp(3), n=2, seed=0, shape_reward=True)
    layout = venv.layout
    assert layout.mask_dim == 3 and layout.flat_dim == 3 + 3 + 9 + 3
    obs, _ = venv.reset()
    np.testing.assert_array_equal(obs[:3, -3:], [[1, 1, 0], [1, 1, 1], [1, 1, 1]])
    algo = build_algorithm(
        AlgoConfig(algorithm="MAPPO", hidden_sizes=[8]),
        layout.flat_dim,
        venv.get_env_attr("action_space", 0)[0],
        layout,
    )
    with torch.no_grad():
        logits, _ = algo.policy.actor(torch.as_tensor(obs))
    assert float(logits[0, 2]) < -1e8 and float(logits[1, 2]) > -1e8
    torch.manual_seed(0)
    algo.policy.deterministic_eval = False  # sample actions, as in training
    buf = VectorReplayBuffer(600, len(venv))
    Collector[CollectStats](algo, venv, buf).collect(n_step=6 * 40, reset_before_collect=True)
    batch, _ = buf.sample(0)
    agent0 = batch.obs[:, 0] == 0
    assert agent0.sum() >= 40 and not np.any(batch.act[agent0] == 2)
    assert np.any(batch.act[~agent0] == 2)  # the others may
    venv.close()


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


def test_tiny_mpe_run_exports_and_plays(runs_dir):
    result = tiny_run(runs_dir, "simple_spread_v3", "mpe", 2000)
    assert result["iterations"][0]["algorithm"] == "MAPPO" and result["best"]["eval_mean"] is not None
    play = agent2("play", result["agent_dir"], "--episodes", "2")
    assert play.returncode == 0, play.stderr[-2000:]
    assert "per-agent return" in play.stdout and "2 episodes × 3 agents" in play.stdout


def test_a_user_pettingzoo_env_by_path_learns_each_agents_best_action(runs_dir):
    result = tiny_run(runs_dir, TOY, "toy", 20000)
    # per-agent return of the best action (2) every step: mean over agents of 8 * (10(k+1) + 2)
    best_possible = np.mean([8 * (10 * (k + 1) + 2) for k in range(3)])
    random_play = np.mean([8 * (10 * (k + 1) + 1) for k in range(3)])
    assert result["best"]["eval_mean"] > random_play + 0.5 * (best_possible - random_play)
