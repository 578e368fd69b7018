"""Dead ReLU units in the acting network (``tools.dead_units``): measured at each test, training stops
when a layer died, and the critic starts over with observations the network can learn from."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from tianshou.data import Batch

from nodes.design_mdp import original_mdp
from tools.algorithms import build_algorithm
from tools.buffers import CheckedVectorReplayBuffer
from tools.dead_units import DEAD_SHARE, alive_shares, is_dead, policy_alive_share
from tools.run_files import JOB, PROGRESS
from tools.schemas import AlgoConfig, TrainJob
from tools.train_worker import TrainWorker

OBS_DIM = 8
SPACE = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


def sac_and_buffer(states: int = 64):
    torch.manual_seed(0)
    algorithm = build_algorithm(AlgoConfig(algorithm="SAC", hidden_sizes=[32, 32], activation="relu"), OBS_DIM, SPACE)
    buffer = CheckedVectorReplayBuffer(256, 1)
    rng = np.random.default_rng(0)
    for i in range(states):
        obs = rng.normal(size=(1, OBS_DIM)).astype(np.float32)
        buffer.add(
            Batch(
                obs=obs,
                act=rng.uniform(-1, 1, (1, 2)).astype(np.float32),
                rew=np.zeros(1),
                terminated=np.array([i % 20 == 19]),
                truncated=np.array([False]),
                obs_next=obs,
                info=Batch(),
            ),
            buffer_ids=[0],
        )
    return algorithm, buffer


def kill_first_layer(algorithm) -> None:
    first = next(m for m in algorithm.policy.actor.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        first.bias.fill_(-1e3)  # below zero for every state: the layer passes nothing


def test_a_layer_below_zero_for_every_state_is_dead_and_a_fresh_one_is_not():
    algorithm, buffer = sac_and_buffer()
    fresh = policy_alive_share(algorithm, buffer)
    assert fresh is not None and fresh > 0.3 and not is_dead(fresh)
    kill_first_layer(algorithm)
    assert policy_alive_share(algorithm, buffer) == 0.0 and is_dead(0.0)
    assert not is_dead(None) and is_dead(DEAD_SHARE) and not is_dead(DEAD_SHARE + 0.01)


def test_the_measurement_draws_nothing_from_trainings_random_streams():
    algorithm, buffer = sac_and_buffer()
    np.random.seed(3)
    global_before, buffer_before = np.random.get_state()[1].copy(), buffer._random_state.get_state()[1].copy()
    policy_alive_share(algorithm, buffer)
    assert np.array_equal(np.random.get_state()[1], global_before)
    assert np.array_equal(buffer._random_state.get_state()[1], buffer_before)


def test_alive_shares_counts_each_relu_layer_and_nothing_else():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2), torch.nn.Tanh())
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.copy_(torch.tensor([1.0, -1.0, 1.0, -1.0]))  # two units on for every state, two off
    assert alive_shares(net, torch.ones(5, 3)) == [0.5]
    assert policy_alive_share(None, None) is None  # nothing built yet
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.ReLU())
    with torch.no_grad():
        conv[0].weight.fill_(1.0)
        conv[0].bias.copy_(torch.tensor([0.0, -10.0]))  # channel 1 off at every position
    image = torch.zeros(3, 1, 2, 5)
    image[0, 0, 0, 0] = 1.0  # one state lights channel 0 at one of its 10 positions
    assert alive_shares(conv, image) == [pytest.approx(1 / 20)]  # a unit is a channel at a position, not a column


def test_nothing_to_measure_without_relu_or_states():
    algorithm = build_algorithm(AlgoConfig(algorithm="SAC", hidden_sizes=[16], activation="tanh"), OBS_DIM, SPACE)
    _, buffer = sac_and_buffer()
    assert policy_alive_share(algorithm, buffer) is None
    relu, _ = sac_and_buffer()
    assert policy_alive_share(relu, CheckedVectorReplayBuffer(16, 1)) is None


def test_a_worker_stops_at_the_test_that_finds_its_policy_dead_and_says_why(tmp_path):
    job = TrainJob(
        env="Pendulum-v1",
        mdp=original_mdp(3),
        algo=AlgoConfig(algorithm="SAC", budget_steps=20_000, epoch_steps=1000),
        seed=0,
        target=None,
    )
    (tmp_path / JOB).write_text(job.model_dump_json())
    worker = TrainWorker(tmp_path)
    worker.save_best = lambda step: None
    worker.on_test(1000, -1200.0, 10.0)  # not built yet: nothing measured, no stop
    assert worker.alive_share is None and not worker.stop_fn(-1200.0)
    worker.algorithm, worker.buffer = sac_and_buffer()
    worker.on_test(2000, -1100.0, 10.0)
    assert worker.alive_share > 0.3 and not worker.stop_fn(-1100.0)
    kill_first_layer(worker.algorithm)
    worker.on_test(3000, -1300.0, 10.0)
    assert worker.alive_share == 0.0 and worker.stop_fn(-1100.0)
    assert worker.ending() == "dead_units"
    worker.plateau = True
    assert worker.ending() == "dead_units"  # the cause, not its symptom
    tests = [json.loads(line) for line in (tmp_path / PROGRESS).read_text().splitlines()]
    alive = [t.get("alive") for t in tests if t["kind"] == "test"]
    assert alive[0] is None and alive[1] > 0.3 and alive[2] == 0.0


def test_an_on_policy_buffer_emptied_by_its_update_still_gives_the_states_it_held():
    """PPO's buffer is reset after every update, before the test: without the states it kept there,
    no on-policy network (a CNN's ReLU convolutions) was ever measured."""
    algorithm, buffer = sac_and_buffer()
    kill_first_layer(algorithm)
    buffer.reset(keep_statistics=True)
    assert len(buffer) == 0 and buffer.kept_states is not None and len(buffer.kept_states) == 64
    assert policy_alive_share(algorithm, buffer) == 0.0
    assert policy_alive_share(algorithm, CheckedVectorReplayBuffer(16, 1)) is None  # never held any


def test_a_resume_after_the_test_that_found_the_policy_dead_trains_no_further(tmp_path):
    """The stop was not checkpointed: a resumed run trained another epoch on the dead network, or, after
    its last epoch, reported the stop as the budget's, and a critic warm-started from the dead weights."""
    job = TrainJob(
        env="Pendulum-v1",
        mdp=original_mdp(3),
        algo=AlgoConfig(algorithm="SAC", hidden_sizes=[8], budget_steps=2000, epoch_steps=500, activation="relu"),
        seed=0,
        target=None,
    )
    (tmp_path / JOB).write_text(job.model_dump_json())
    worker = TrainWorker(tmp_path)
    worker.build()
    for i in range(10):  # a checkpoint of an off-policy run holds its buffer
        obs = np.full((1, 3), 0.1 * i, np.float32)
        step = Batch(obs=obs, act=np.zeros((1, 1), np.float32), rew=np.zeros(1), terminated=np.array([False]))
        worker.buffer.add(Batch(step, truncated=np.array([False]), obs_next=obs, info=Batch()), buffer_ids=[0])
    worker.alive_share = 0.0
    worker.save_checkpoint(1, 500, 500)
    resumed = TrainWorker(tmp_path)
    resumed.build()
    resumed.restore()
    assert resumed.ending() == "dead_units"
    result = TrainWorker(tmp_path).run()  # builds and restores itself
    assert result.stop_reason == "dead_units" and result.env_steps == 500
