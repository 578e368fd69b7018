"""SMAX (jaxmarl, the ``[smax]`` extra) and the SMAC adapter: API, win-rate metric. A whole SMAX run (train,
kill, resume, export, play) is tests/e2e/test_end_to_end.py's kill -9 test."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import IDENTITY_MDP, ROOT, agent2
from pettingzoo.test import parallel_api_test

from envs.errors import EnvLoadError
from envs.loading import make_parallel_env
from tools.profiling import profile_env
from tools.schemas import MDPDesign
from tools.vector_envs import make_vector_env


def test_smax_passes_the_pettingzoo_parallel_api_test():
    parallel_api_test(make_parallel_env("smax_3m"), num_cycles=150)


def test_smax_profiles_and_its_evaluation_reward_is_the_win_indicator():
    p = profile_env("smax_3m", episodes=3)
    assert p.agents == ["ally_0", "ally_1", "ally_2"] and p.max_episode_steps == 100
    assert p.state_dim == 72  # its world state: 12 values for each of the 6 units
    assert p.action.kind == "discrete" and p.action.n == 8
    mdp = MDPDesign(code=IDENTITY_MDP, obs_dim=p.obs_dim, summary="identity")
    venv = make_vector_env("smax_3m", mdp, n=2, seed=0, shape_reward=False)
    venv.reset()
    rng = np.random.default_rng(0)
    finals = []
    for _ in range(300):
        _, rew, term, trunc, info = venv.step(rng.integers(0, 8, len(venv)))
        done = term | trunc
        assert set(np.unique(rew)) <= {0.0, 1.0}
        assert np.all(rew[~done] == 0)  # the metric pays only at a battle's end ...
        for k in np.flatnonzero(done):
            finals.append((rew[k], info[k]["won"]))
        if np.any(done):
            venv.reset(np.flatnonzero(done))
    assert finals and all(r == float(won) for r, won in finals)  # ... and then 1 exactly for a win


SHAPING_MDP = """import numpy as np
def observation(obs):
    return np.tanh(obs[:20] * 2.0)
def action(act):
    return act
def reward(obs, action, next_obs, reward, info):
    return reward + 0.5 * info["won"] + info["team_reward"] - 0.1 * info["terminated"] + 0.01 * info["agent_index"]
"""
"""A generated MDP that uses every per-agent input: its own observation size and the reward's info."""


def _play_rounds(venv, rounds: int, seed: int) -> list:
    """Actions among each slot's available ones (the mask ends the slot observation); every
    step's observations, rewards, ends and (evaluation) wins, resetting the games that ended."""
    rng = np.random.default_rng(seed)
    obs, _ = venv.reset()
    seen = []
    for _ in range(rounds):
        masks = obs[:, -8:] > 0
        # mostly: attack the first enemy in range (actions 5+), else move (1) towards the enemy, so
        # battles end and some are won (4 of 10 for this policy alone)
        acts = np.array(
            [
                rng.choice(np.flatnonzero(m)) if rng.random() < 0.1 else next(iter(np.flatnonzero(m[5:]) + 5), 1)
                for m in masks
            ]
        )
        obs, rew, term, trunc, info = venv.step(acts)
        won = np.array([i.get("won", False) for i in info])
        seen.append((obs.copy(), rew.copy(), term.copy(), trunc.copy(), won))
        done = np.flatnonzero(term | trunc)
        if done.size:
            obs[done], _ = venv.reset(done)
    return seen


@pytest.mark.parametrize(
    ("code", "dim", "shape", "history", "env_state"),
    [(IDENTITY_MDP, None, False, 1, False), (SHAPING_MDP, 20, True, 3, False), (SHAPING_MDP, 20, True, 1, True)],
)
def test_stacked_smax_games_match_the_same_games_stepped_one_by_one(monkeypatch, code, dim, shape, history, env_state):
    """The vector env steps its SMAX games in one vmapped call (``StackedGames``); with the same
    seeds and actions every observation (masks, remembered observations and the env's world state
    included), reward (the MDP's in training, the win metric in evaluation), end and win equals that of
    games stepped one by one, MDP wrapper and all."""
    from envs.smax import SMAXBatch, SMAXParallelEnv
    from envs.stacked_games import StackedGames

    p = profile_env("smax_3m", episodes=1)
    mdp = MDPDesign(code=code, obs_dim=dim or p.obs_dim, summary="identity", history=history, env_state=env_state)
    calls: list[int] = []  # games per jitted step
    monkeypatch.setattr(
        SMAXBatch, "step", lambda self, a, s, f=SMAXBatch.step: calls.append(int(s.sum())) or f(self, a, s)
    )
    venv = make_vector_env("smax_3m", mdp, n=4, seed=3, shape_reward=shape)
    assert isinstance(venv, StackedGames) and venv.layout.history == history
    assert venv.layout.state_dim == (p.state_dim if env_state else 3 * mdp.obs_dim)
    stacked = _play_rounds(venv, 250, seed=0)
    assert sum(1 for c in calls if c > 1) >= 200  # most rounds stepped several games in one call
    calls.clear()
    monkeypatch.delattr(SMAXParallelEnv, "stacked_games")
    alone = _play_rounds(make_vector_env("smax_3m", mdp, n=4, seed=3, shape_reward=shape), 250, seed=0)
    assert set(calls) == {1} and len(calls) >= 900  # one call per game and step
    ends = 0
    for (o1, r1, t1, u1, w1), (o2, r2, t2, u2, w2) in zip(stacked, alone, strict=True):
        assert np.array_equal(o1, o2) and np.allclose(r1, r2, rtol=0, atol=1e-12)
        assert np.array_equal(t1, t2) and np.array_equal(u1, u2)
        if not shape:  # training slots carry no infos
            assert np.array_equal(w1, w2)
        ends += int(np.sum(t1 | u1))
    assert ends > 0
    if not shape:
        assert any(w.any() for *_, w in stacked)  # some battles won
    if env_state:  # the state part is the world state: every ally's slot of a game holds the same one
        at = mdp.obs_dim + 3
        world = np.stack([o[:, at : at + p.state_dim] for o, *_ in stacked])  # [rounds, slots, state]
        assert np.array_equal(world[:, 0::3], world[:, 1::3]) and np.array_equal(world[:, 0::3], world[:, 2::3])
        assert (
            len(np.unique(world.reshape(-1, p.state_dim), axis=0)) > 100 and np.abs(world).max() <= 1
        )  # unit order (3m: no unit type above 0)
    if history > 1:  # the own part remembers: its oldest frame differs from the newest (the state's)
        d = mdp.obs_dim
        newest = [o[:, (history - 1) * d : history * d] for o, *_ in stacked]
        for n, (o, *_) in zip(newest, stacked, strict=True):  # the newest is the agent's own in the state
            state = o[:, history * d + 3 : history * d + 3 + 3 * d].reshape(len(o), 3, d)
            np.testing.assert_array_equal(n, state[np.arange(len(o)), np.arange(len(o)) % 3])
        assert any(not np.array_equal(o[:, :d], n) for n, (o, *_) in zip(newest, stacked, strict=True))


def test_smac_without_the_game_is_a_clear_error():
    with pytest.raises(EnvLoadError, match="SMAC needs StarCraft II"):
        make_parallel_env("smac_8m")
    proc = agent2("run", "--env", "smac_8m", "--budget-steps", "1000")
    assert proc.returncode == 2 and "SMAC needs StarCraft II" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("stacked", [True, False])
def test_a_won_battle_counts_for_every_ally_the_dead_ones_too(monkeypatch, stacked):
    """Evaluation pays the win metric to each ally's slot at a won battle's end, also to a unit that
    died before it (its slot is out of the game): a mean over agents is then the win rate."""
    from envs.smax import SMAXParallelEnv

    if not stacked:
        monkeypatch.delattr(SMAXParallelEnv, "stacked_games")
    p = profile_env("smax_3m", episodes=1)
    venv = make_vector_env("smax_3m", MDPDesign(code=IDENTITY_MDP, obs_dim=p.obs_dim, summary="id"), 4, 5, False)
    before = None
    won_with_a_dead_ally = 0
    for obs, rew, term, trunc, won in _play_rounds(venv, 400, seed=1):
        games_over = (term | trunc).reshape(4, 3).all(axis=1)
        for g in np.flatnonzero(games_over):
            if won[3 * g]:
                assert np.all(rew[3 * g : 3 * g + 3] == 1.0)
                own = before[3 * g : 3 * g + 3, : p.obs_dim] if before is not None else None
                won_with_a_dead_ally += int(own is not None and np.any(~own.any(axis=1)))
            else:
                assert np.all(rew[3 * g : 3 * g + 3] == 0.0)
        before = obs
    assert won_with_a_dead_ally > 0


def test_a_dead_unit_stays_in_the_battle_and_is_paid_its_teams_reward():
    """SMAX keeps a dead unit in the game (only "stop" available) and pays it its team's reward; its
    episode ends with the battle, so the damage and win its team deal after its death reach it."""
    from envs.smax import SMAXBatch

    batch = SMAXBatch("3m", 100, 8)
    _, masks = batch.reset({i: i for i in range(8)})
    over, checked = np.zeros(8, dtype=bool), 0
    stop_only = np.eye(batch.n_actions, dtype=masks.dtype)[4]
    while not over.all():
        in_range = masks[..., 5:]
        step = batch.step(np.where(in_range.any(-1), 5 + in_range.argmax(-1), 1), ~over)
        for g in np.flatnonzero(~over):
            ended = step.term[g] | step.trunc[g]
            if step.infos["battle_over"][g]:
                assert ended.all()
                continue
            assert not ended.any() and step.alive[g].all()
            dead = ~step.obs[g].any(axis=1)
            if dead.any():
                assert np.array_equal(
                    step.masks[g][dead], np.broadcast_to(stop_only, (int(dead.sum()), len(stop_only)))
                )
                assert np.allclose(step.rew[g], step.rew[g][0])  # one team reward, the dead paid too
                checked += 1
        over |= step.infos["battle_over"]
        masks = step.masks
    assert checked > 0


def test_smax_loads_only_its_own_jaxmarl_modules_and_jaxmarl_still_imports_whole():
    """jaxmarl's package __init__ imports every env it ships (10-15 s a process); SMAX skips it."""
    code = (
        "import sys\n"
        "from envs.loading import make_parallel_env\n"
        "make_parallel_env('smax_3m').reset(seed=0)\n"
        "print('loaded', sorted(m for m in sys.modules if m.startswith('jaxmarl.environments.') and m.count('.') == 2))\n"
        "from jaxmarl import make\n"
        "print('whole', type(make('HeuristicEnemySMAX')).__name__, 'jaxmarl.environments.storm' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    said = dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.startswith(("loaded ", "whole ")))
    smax_only = ["jaxmarl.environments.multi_agent_env", "jaxmarl.environments.smax", "jaxmarl.environments.spaces"]
    assert said["loaded"] == str(smax_only)
    assert said["whole"] == "HeuristicEnemySMAX True"  # asked for, the whole package still loads
