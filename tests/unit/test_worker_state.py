"""What a worker's checkpoint keeps of its algorithm beyond Tianshou's ``state_dict``."""

from __future__ import annotations

import gymnasium as gym
import pytest

from tools.algorithms import build_algorithm
from tools.schemas import AlgoConfig
from tools.train_worker import algorithm_state, load_algorithm_state


@pytest.mark.parametrize(
    ("algorithm", "space", "counter"),
    [("DQN", gym.spaces.Discrete(2), "_iter"), ("TD3", gym.spaces.Box(-1.0, 1.0, (1,)), "_cnt")],
)
def test_update_counters_survive_a_checkpoint(algorithm, space, counter):
    """DQN syncs its target network every ``target_update_freq`` updates and TD3 updates its actor every
    ``update_actor_freq``, counted outside ``state_dict``: a resumed DQN synced its target at once."""
    cfg = AlgoConfig(algorithm=algorithm, hidden_sizes=[8])
    trained = build_algorithm(cfg, 3, space)
    setattr(trained, counter, 123)
    resumed = build_algorithm(cfg, 3, space)
    load_algorithm_state(resumed, algorithm_state(trained))
    assert getattr(resumed, counter) == 123


def test_the_novelty_bonus_visit_counts_survive_a_checkpoint(tmp_path):
    """The count-based bonus decays with each visit; restored without its counts, every state earned
    the full bonus again after a resume while the buffer held the decayed ones."""
    from nodes.design_mdp import original_mdp
    from tools.run_files import JOB
    from tools.schemas import TrainJob
    from tools.train_worker import TrainWorker

    algo = AlgoConfig(algorithm="PPO", hidden_sizes=[8], budget_steps=2000, novelty_bonus=0.1)
    job = TrainJob(env="CartPole-v1", mdp=original_mdp(4), algo=algo, seed=0, target=None)
    (tmp_path / JOB).write_text(job.model_dump_json())
    worker = TrainWorker(tmp_path)
    worker.build()
    worker.train_envs.visit_counts.n.update({b"state": 7})
    worker.save_checkpoint(1, 100, 10)
    resumed = TrainWorker(tmp_path)
    resumed.build()
    resumed.restore()
    assert resumed.train_envs.visit_counts.n == {b"state": 7}


def test_a_warm_start_of_another_shape_trains_from_scratch_with_fresh_optimisers(tmp_path):
    """Tianshou loads the optimisers before the weights: a warm start whose weights did not fit kept
    the other network's Adam state, and the first update failed on its shapes."""
    import torch

    from nodes.design_mdp import original_mdp
    from tools.run_files import JOB
    from tools.schemas import TrainJob
    from tools.train_worker import TrainWorker

    def worker(folder, **fields) -> TrainWorker:
        folder.mkdir()
        algo = AlgoConfig(algorithm="PPO", budget_steps=2000, **fields)
        (folder / JOB).write_text(TrainJob(env="CartPole-v1", mdp=original_mdp(4), algo=algo).model_dump_json())
        w = TrainWorker(folder)
        w.build()
        return w

    old = worker(tmp_path / "old", hidden_sizes=[8])
    for p in old.algorithm.parameters():
        p.grad = torch.zeros_like(p)
    for opt in old.algorithm._optimizers:
        opt._optim.step()  # Adam now holds state shaped like [8]
    old.save_checkpoint(1, 100, 1)
    new = worker(tmp_path / "new", hidden_sizes=[16], warm_start_from=str(tmp_path / "old"))
    new.restore()
    assert all(not opt._optim.state_dict()["state"] for opt in new.algorithm._optimizers)
