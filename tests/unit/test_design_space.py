"""The wider design space end to end on tiny budgets: observation history (frame stack) and layer
norm through training, evaluation, export, play and warm start; evaluation that grows its episodes
until its 95% interval decides the target; the screen's fan-out."""

import json

import numpy as np
import pytest
from conftest import BLINK, original_design

from envs.mdp_wrapper import make_mdp_env
from nodes.candidates import propose_candidates
from nodes.designers.expert import ExpertDesigner
from nodes.designers.screen import SCREEN_K, SCREEN_SHARE
from nodes.review import after_algorithm_review
from nodes.state import RunSettings
from tools.profiling import profile_env
from tools.run_rules import MIN_ITERATION_STEPS
from tools.schemas import AlgoConfig, Critique, TaskSpec
from tools.statistics import episode_means, iqm_ci, mean_ci, needs_more_episodes


def test_history_stacks_the_last_observations_oldest_first():
    env = make_mdp_env(BLINK, original_design(BLINK).code, 2, shape_reward=False, history=3)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (6,) and np.allclose(obs[:2], obs[2:4]) and np.allclose(obs[2:4], obs[4:])
    cue = obs[0]
    obs, *_ = env.step(0)
    assert np.allclose(obs[:4], [cue, 0, cue, 0]) and np.allclose(obs[4:], [0, 1 / 3])


def test_confidence_intervals():
    low, high = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert low == pytest.approx(2.5 - 3.182446 * np.std([1, 2, 3, 4], ddof=1) / 2, rel=1e-4) and high > 4
    assert mean_ci([7.0]) == (7.0, 7.0)
    point, lo, hi = iqm_ci([0, 1, 2, 3, 100, -100, 2, 1])
    assert point == pytest.approx(1.5) and lo <= point <= hi
    with pytest.raises(ValueError, match="no values"):
        mean_ci([])


def test_a_win_rate_gets_wilsons_interval_not_a_zero_width_one():
    """20 wins of 20 used to give the interval [1, 1], so an evaluation at a 0.9 target stopped there;
    SMAX 3m's 20/20 then replayed at 0.87 over 200 battles."""
    low, high = mean_ci([1.0] * 20)
    assert low == pytest.approx(0.8389, abs=1e-3) and high == 1.0
    assert mean_ci([0.0] * 20) == pytest.approx((0.0, 0.1611), abs=1e-3)
    assert needs_more_episodes([1.0] * 20, 0.9, cap=200)
    low, high = mean_ci([1.0] * 7 + [0.0] * 3)
    assert low == pytest.approx(0.3968, abs=1e-3) and high == pytest.approx(0.8922, abs=1e-3)
    assert mean_ci([1.0, 0.0, 0.5]) != mean_ci([1.0, 0.0, 1.0])  # not all 0/1: the t interval


def test_a_multi_agent_interval_is_over_episodes_not_agent_episodes():
    """Five allies share each battle's outcome: 19 wins in 20 battles are 20 samples, not 100, so the
    interval is √5 wider than one over the 100 per-agent returns, and the sequential rule still asks
    for more battles at a 0.85 target."""
    battles = [1.0] * 19 + [0.0]
    per_agent = [r for r in battles for _ in range(5)]
    assert episode_means(per_agent, 5) == battles
    low, high = mean_ci(episode_means(per_agent, 5))
    naive_low, _ = mean_ci(per_agent)
    assert low < 0.85 < naive_low and high < 1.0  # win rates: Wilson's interval, inside [0, 1]
    assert needs_more_episodes(episode_means(per_agent, 5), 0.85, cap=200)
    assert not needs_more_episodes(per_agent, 0.85, cap=1000)  # what the per-agent count wrongly said
    with pytest.raises(ValueError, match="do not split into episodes of 5 agents"):
        episode_means(per_agent[:-1], 5)


def test_a_screen_goes_to_the_fan_out_with_diverse_designs_on_a_share_of_the_budget(tmp_path):
    profile = profile_env("CartPole-v1", episodes=2)
    spec = TaskSpec(text="t", env="CartPole-v1", target=475, budget_steps=200_000, max_iterations=6)
    settings = RunSettings(runs_dir=str(tmp_path))
    screen = Critique(verdict="revise_algo", diagnosis="plateau", reason="r", screen=True, warm_start=True)
    assert after_algorithm_review({"settings": settings, "critique": screen}) == "propose_candidates"
    assert (
        after_algorithm_review({"settings": settings, "critique": screen.model_copy(update={"screen": False})})
        == "train"
    )
    expert = ExpertDesigner()
    mdp = expert.build_mdp(profile, 475, "none", 1.0, False, 1)
    algo = expert.default_config("PPO", profile, 60_000, False)
    state = {
        "spec": spec,
        "settings": settings,
        "profile": profile,
        "iteration": 3,
        "steps_used": 100_000,
        "mdp": mdp,
        "algo": algo,
        "critique": screen,
        "history": [],
    }
    out = propose_candidates(state, {"configurable": {"thread_id": "s"}})["candidates"]
    assert len(out) == SCREEN_K
    each = int(SCREEN_SHARE * 100_000 / SCREEN_K)
    assert all(c.algo.budget_steps == each >= MIN_ITERATION_STEPS for c in out)
    assert out[0].label.startswith("screen: continue") and len({c.algo.algorithm for c in out}) >= 2
    assert json.loads(out[1].model_dump_json())["label"].startswith("screen:")


@pytest.mark.parametrize(
    "algorithm,space", [("PPO", "discrete"), ("DQN", "discrete"), ("SAC", "box"), ("TD3", "box"), ("A2C", "box")]
)
def test_conv_encoders_read_images_inside_flat_frames(algorithm, space):
    import gymnasium as gym
    import torch

    from tools.algorithms import build_algorithm
    from tools.schemas import ImageSlice

    images = [ImageSlice(offset=4, height=7, width=7, channels=3)]  # MiniGrid's layout: direction, image, text
    frame = 4 + 147 + 32
    action_space = gym.spaces.Discrete(7) if space == "discrete" else gym.spaces.Box(-1, 1, (2,))
    algo = build_algorithm(
        AlgoConfig(algorithm=algorithm, encoder="cnn", hidden_sizes=[32]),
        frame * 2,
        action_space,
        images=images,
        history=2,
    )
    convs = [m for m in algo.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and convs[0].in_channels == 6  # two frames' images stacked as channels
    obs = np.random.default_rng(0).random((5, frame * 2), dtype=np.float32)
    from tianshou.data import Batch

    with torch.no_grad():
        out = algo.policy(Batch(obs=obs, info={}))
        assert out.act.shape[0] == 5
        if algorithm in ("SAC", "TD3"):  # the critics read the action beside the conv features
            assert algo.critic(obs, np.zeros((5, 2), np.float32)).shape == (5, 1)
    with pytest.raises(ValueError, match="does not fit"):
        build_algorithm(AlgoConfig(algorithm=algorithm, encoder="cnn"), 100, action_space, images=images)


def test_hindsight_relabelling_rewrites_goals_and_rewards_from_later_achieved_goals():
    from tianshou.data import Batch

    from tools.her import FlatHERVectorReplayBuffer
    from tools.schemas import GoalSlices

    goal = GoalSlices(achieved_offset=0, desired_offset=1, size=1)

    def reward(achieved, desired):
        return -(np.abs(achieved - desired).sum(axis=-1) > 0).astype(np.float64)

    buf = FlatHERVectorReplayBuffer(100, 1, compute_reward_fn=reward, horizon=5, future_k=1e9, goal=goal)
    for ep in range(4):  # the achieved goal walks 0..4; the desired goal (99) is never reached
        for t in range(5):
            buf.add(
                Batch(
                    obs=np.array([[t, 99.0, ep]]),
                    act=np.array([0]),
                    rew=np.array([-1.0]),
                    terminated=np.array([False]),
                    truncated=np.array([t == 4]),
                    obs_next=np.array([[t + 1, 99.0, ep]]),
                    info=Batch(),
                )
            )
    np.random.seed(0)
    batch, idx = buf.sample(40)
    new = batch.obs[:, 1] != 99.0
    assert new.mean() >= 0.5  # k → ∞: all sampled episodes but (rounding) one are relabelled
    # the new goal is one the episode achieves later; reaching it pays 0, the rest -1
    assert np.all(batch.obs[new, 1] >= batch.obs[new, 0] + 1) and np.all(batch.obs[new, 1] <= 5)
    assert (batch.rew[new] == 0).any() and (batch.rew[~new] == -1).all()
    assert np.array_equal(batch.rew, reward(batch.obs_next[:, :1], batch.obs_next[:, 1:2]))
    assert np.array_equal(batch.obs[:, 1], batch.obs_next[:, 1])
    buf.add(
        Batch(
            obs=np.array([[0, 99.0, 9]]),
            act=np.array([0]),
            rew=np.array([-1.0]),
            terminated=np.array([True]),
            truncated=np.array([False]),
            obs_next=np.array([[1, 99.0, 9]]),
            info=Batch(),
        )
    )
    assert np.all(buf.obs[:20, 1] == 99.0)  # a write restores the original goals first


def test_a_multidiscrete_policy_is_a_product_of_one_choice_per_part():
    import gymnasium as gym
    import torch

    from envs.spaces import JointDiscreteAction
    from tools.algorithms import FactoredDiscreteActor, build_algorithm

    class Dials(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (4,))
        action_space = gym.spaces.MultiDiscrete([2, 3, 4])

    space = JointDiscreteAction(Dials()).action_space
    assert space.n == 24 and space.nvec == (2, 3, 4)
    algo = build_algorithm(AlgoConfig(algorithm="PPO", hidden_sizes=[16]), 4, space)
    actor = algo.policy.actor
    assert isinstance(actor, FactoredDiscreteActor) and actor.last.output_dim == 2 + 3 + 4
    obs = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    with torch.no_grad():
        parts, _ = super(FactoredDiscreteActor, actor).forward(obs)
        joint, _ = actor(obs)
    probs = torch.softmax(joint, dim=1).reshape(5, 2, 3, 4)
    each = [torch.softmax(p, dim=1) for p in torch.split(parts, [2, 3, 4], dim=1)]
    product = torch.einsum("bi,bj,bk->bijk", *each)
    assert torch.allclose(probs, product, atol=1e-6)  # independent parts, combinations in product order
    assert not isinstance(
        build_algorithm(AlgoConfig(algorithm="PPO"), 4, gym.spaces.Discrete(24)).policy.actor, FactoredDiscreteActor
    )  # a plain Discrete keeps one logit per action
