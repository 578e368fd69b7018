"""MuJoCo built-in tasks: make, profile, the expert's design, and a tiny run through the graph."""

from conftest import agent2, tiny_run


def test_tiny_hopper_run_exports_and_plays(runs_dir):
    result = tiny_run(runs_dir, "Hopper-v5", "hop", 1500, eval_episodes=2)
    assert result["iterations"][0]["algorithm"] == "SAC" and result["best"]["eval_mean"] is not None
    # the warm-up (1,000 random steps) is cut to half a budget this small: the run keeps its budget but
    # for the last round of its 4 envs (it took 2,000 steps when the warm-up could eat the whole budget)
    assert result["iterations"][0]["env_steps"] <= 1500 + 2 * 4
    play = agent2("play", result["agent_dir"], "--episodes", "1")
    assert play.returncode == 0 and "episode 1: return" in play.stdout
