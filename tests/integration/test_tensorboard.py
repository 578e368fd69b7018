"""TensorBoard event files: every iteration's worker writes train/, test/, loss/ and eval/ scalars
under a readable name, through Tianshou's own TensorBoard logger, and a worker killed and resumed
does not show the replayed steps twice."""

from __future__ import annotations

from conftest import scalars

from nodes.design_mdp import original_mdp
from tools.schemas import AlgoConfig, TrainJob
from tools.tensorboard_log import TB_DIR, board_dir
from tools.training import run_training


def test_an_iteration_writes_namespaced_scalars_under_a_readable_name(tmp_path):
    algo = AlgoConfig(
        algorithm="PPO",
        hidden_sizes=[16],
        budget_steps=4096,
        epoch_steps=1024,
        collect_steps=512,
        n_train_envs=4,
        test_episodes=2,
    )
    it = tmp_path / "thread" / "iter_1"
    result = run_training(TrainJob(env="CartPole-v1", mdp=original_mdp(4), algo=algo, target=None), it, eval_episodes=3)
    assert result.error is None
    board = board_dir(it, "CartPole-v1", "PPO")
    assert board == it / TB_DIR / "CartPole-v1_PPO" and any(board.glob("events.out.tfevents.*"))
    tags = set(scalars(board).Tags()["scalars"])
    assert {"train/returns_stat/mean", "test/returns_stat/mean", "eval/mean", "eval/episodes"} <= tags, tags
    assert any(t.startswith("loss/") and "loss" in t.split("/", 1)[1] for t in tags), tags
    acc = scalars(board)
    tests = acc.Scalars("test/returns_stat/mean")
    assert [round(e.value, 6) for e in tests][-1] == round(result.curve[-1].mean, 6)  # the same tests
    # CartPole pays 1 per step: lengths equal returns, on the test collector's 16-entry ring and in the
    # on-policy buffer of 128 steps per env alike (Tianshou's own lengths wrap around both)
    for space in ("test", "train"):
        lengths = [e.value for e in acc.Scalars(f"{space}/lens_stat/mean")]
        returns = [e.value for e in acc.Scalars(f"{space}/returns_stat/mean")]
        assert lengths == returns and max(lengths) > 16, (space, lengths, returns)
    assert [e.step for e in acc.Scalars("eval/mean")] == [result.env_steps]
    assert board_dir(it, "/home/me/my_envs.py:make_env", "SAC").name == "my_envs.py_make_env_SAC"
