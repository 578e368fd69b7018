"""Multi-agent envs: the per-agent MDP wrapper, one slot per agent, shared and independent networks."""

import json

import numpy as np
import pytest
import torch
from conftest import IDENTITY_MDP, MA_FILE, TOY, agent2, tiny_run
from tianshou.data import Collector, CollectStats, VectorReplayBuffer

from envs.errors import UnsupportedSpaceError
from envs.loading import make_parallel_env
from envs.multiagent import AgentLayout, JointGame
from tools.algorithms import build_algorithm
from tools.mdp_check import validate_mdp
from tools.schemas import AlgoConfig, MDPDesign
from tools.vector_envs import make_vector_env

DYING = f"{MA_FILE}:make_dying"
BLINKING = f"{MA_FILE}:make_blinking"


MASKED = f"{MA_FILE}:make_masked"
STATEFUL = f"{MA_FILE}:make_stateful"


SHARED_REWARD = IDENTITY_MDP.replace("    return reward\n", "    return info['team_reward']\n")


def _mdp(obs_dim: int, code: str = IDENTITY_MDP) -> MDPDesign:
    return MDPDesign(code=code, obs_dim=obs_dim, summary="identity")


def test_running_normalisation_is_refused_for_a_multi_agent_env_by_its_check_and_its_envs(tmp_path):
    """A slot's vector holds the agent one-hot and the action mask: normalising it would break both.
    The design check says so (a review edit or a designer gets the message back), and the envs refuse."""
    mdp = _mdp(3).model_copy(update={"normalize_obs": True})
    why = validate_mdp(TOY, mdp, tmp_path)
    assert why is not None and "normalize_obs=True is for single-agent envs" in why and TOY in why
    with pytest.raises(ValueError, match="normalize_obs=True is for single-agent envs"):
        make_vector_env(TOY, mdp, n=1, seed=0, shape_reward=True)


def test_random_actions_of_every_slot_repeat_with_the_seed():
    """An off-policy warm-up samples each slot's action space: only a game's first slot was seeded, so
    the other agents' random actions differed from run to run with the same seed."""

    def draws(seed: int) -> list:
        venv = make_vector_env(TOY, _mdp(3), n=2, seed=seed, shape_reward=True)
        return [np.asarray(space.sample()).tolist() for _ in range(5) for space in venv.action_space]

    assert draws(0) == draws(0)
    assert draws(0) != draws(1)


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


def test_a_critic_reading_the_env_state_gets_each_games_own_state_in_every_slot(tmp_path):
    """With the MDP's ``env_state`` the state part is the env's ``state()`` after each step, the same
    in every slot of a game; an env that declares no state is refused, naming what is missing."""
    venv = make_vector_env(STATEFUL, _mdp(3).model_copy(update={"env_state": True}), n=2, seed=0, shape_reward=True)
    assert venv.layout == AgentLayout(obs_dim=3, n_agents=3, env_state_dim=2) and venv.layout.flat_dim == 3 + 3 + 2
    obs, _ = venv.reset()
    assert np.array_equal(obs[:, 6:], np.zeros((6, 2)))
    for t in range(1, 4):
        acts = np.array([t % 3, 1, 2, 0, 0, 1])  # game 0: slots 0-2, game 1: slots 3-5
        obs, *_ = venv.step(acts)
        np.testing.assert_array_equal(obs[:3, 6:], np.tile([t, t % 3 + 3], (3, 1)))
        np.testing.assert_array_equal(obs[3:, 6:], np.tile([t, 1], (3, 1)))
    np.testing.assert_array_equal(obs[:, 3:6].argmax(1), [0, 1, 2, 0, 1, 2])  # the one-hot is unchanged
    with pytest.raises(ValueError, match="env_state=True, but .*make_env declares no global state"):
        make_vector_env(TOY, _mdp(3).model_copy(update={"env_state": True}), n=2, seed=0, shape_reward=True)
    with pytest.raises(UnsupportedSpaceError, match="env_state=True, but LabelledAgents declares no state_space"):
        JointGame(make_parallel_env(TOY), TOY, 3, env_state=True)
    why = validate_mdp("CartPole-v1", _mdp(4).model_copy(update={"env_state": True}), tmp_path)
    assert why is not None and "env_state=True is for a multi-agent env's centralised critic" in why
    why = validate_mdp(TOY, _mdp(3).model_copy(update={"env_state": True}), tmp_path)
    assert why is not None and f"env_state=True, but {TOY} declares no global state" in why


def test_each_slot_remembers_its_agents_last_observations_and_the_state_stays_current():
    """With an MDP ``history`` of 3 a slot's own part is its agent's last 3 observations, oldest
    first (a game starts with its first one repeated, as Gymnasium's frame stack pads); the one-hot
    and the state (every agent's current observation) follow, as without a history."""
    venv = make_vector_env(TOY, _mdp(3).model_copy(update={"history": 3}), n=2, seed=0, shape_reward=True)
    assert venv.layout == AgentLayout(obs_dim=3, n_agents=3, history=3) and venv.layout.flat_dim == 9 + 3 + 9
    obs, _ = venv.reset()
    frames = obs[:, :9].reshape(6, 3, 3)  # slot, frame, [agent index, t, last action]
    assert np.all(frames[:, :, 1] == 0) and np.array_equal(frames[:, :, 0], np.repeat([0, 1, 2] * 2, 3).reshape(6, 3))
    acts = []
    for t in range(1, 9):
        acts.append(np.arange(6) % 3 if t % 2 else np.full(6, 2))
        obs, _, term, trunc, _ = venv.step(acts[-1])
        frames = obs[:, :9].reshape(6, 3, 3)
        np.testing.assert_array_equal(frames[:, :, 1], np.tile([max(t - 2, 0), max(t - 1, 0), t], (6, 1)))
        np.testing.assert_array_equal(frames[:, -1, 2], acts[-1])  # the newest frame: the action just taken
        if t >= 2:
            np.testing.assert_array_equal(frames[:, -2, 2], acts[-2])
        np.testing.assert_array_equal(obs[:, 9:12].argmax(1), np.arange(6) % 3)  # the one-hot
        np.testing.assert_array_equal(obs[:, 13::3], np.full((6, 3), t))  # the state: current times only
    assert np.all(term | trunc)  # the games end after 8 steps; a new one starts with its first frame
    obs, _ = venv.reset()
    assert np.all(obs[:, :9].reshape(6, 3, 3)[:, :, 1] == 0)
    venv.close()


def test_agents_with_memory_solve_what_one_observation_hides(tmp_path):
    """A multi-agent blink: each agent sees its cue at the first step only and must match it two
    steps later. MAPPO reading each agent's last 3 observations solves it (a memoryless policy
    averages 0: 0.05 with this budget); the evaluation rebuilds the policy from its saved weights
    (``load_policy``, as ``agent2 play`` does)."""
    from tools.schemas import TrainJob
    from tools.training import run_evaluation, run_training

    algo = AlgoConfig(
        algorithm="MAPPO",
        hidden_sizes=[32, 32],
        lr=3e-3,
        gamma=0.9,
        n_train_envs=4,
        collect_steps=128,
        batch_size=64,
        repeat=4,
        budget_steps=3000,
        epoch_steps=512,
        test_episodes=10,
    )
    job = TrainJob(env=BLINKING, mdp=_mdp(2).model_copy(update={"history": 3}), algo=algo, seed=0, target=0.9)
    train = run_training(job, tmp_path / "iter", eval_episodes=40)
    ev = run_evaluation(tmp_path / "iter", 40)
    assert ev.mean is not None and ev.mean >= 0.9, (train.curve, ev)
    # the test that stopped it at the target was confirmed on 20 new games (tools.train_worker.CONFIRM_TEST_FACTOR)
    tests = [
        e
        for e in map(json.loads, (tmp_path / "iter" / "progress.jsonl").read_text().splitlines())
        if e["kind"] == "test"
    ]
    assert train.stop_reason == "target" and (tests[-1]["confirmed"], tests[-1]["episodes"]) == (True, 30), tests


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
