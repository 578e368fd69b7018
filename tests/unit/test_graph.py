"""Graph wiring, the critic's router, and state round-trips through the SQLite checkpointer."""

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from graph.build import build_graph, route_after_confirm, route_after_critic
from graph.runner import serializer
from nodes.export import final_status
from nodes.state import RunSettings
from tools.schemas import AlgoConfig, Critique, EvalResult, IterationRecord, MDPChanges, TaskSpec


def record(i: int, score: float | None) -> IterationRecord:
    return IterationRecord(
        iteration=i,
        mdp_summary="m",
        mdp_code="c",
        algo=AlgoConfig(algorithm="PPO"),
        env_steps=1000,
        train_best=score,
        stop_reason="budget",
        eval_mean=score,
        eval_std=0.0,
        eval_episodes=5,
        verdict="revise_algo",
        diagnosis="plateau",
        reason="r",
        iter_dir="/tmp",
        wall_seconds=1.0,
    )


def state(verdict="revise_algo", scores=(10.0,), used=10_000, iteration=2, budget=100_000, max_it=5):
    return {
        "spec": TaskSpec(text="t", env="CartPole-v1", target=475, budget_steps=budget, max_iterations=max_it),
        "history": [record(i + 1, s) for i, s in enumerate(scores)],
        "steps_used": used,
        "iteration": iteration,
        "critique": Critique(verdict=verdict, diagnosis="plateau", reason="r"),
    }


def test_graph_has_the_loop_nodes():
    g = build_graph().get_graph()
    assert {
        "analyze_task",
        "design_mdp",
        "select_algorithm",
        "train",
        "evaluate",
        "critic",
        "confirm",
        "export",
    } <= set(g.nodes)


@pytest.mark.parametrize(
    "kwargs,route,status",
    [
        ({"verdict": "revise_algo"}, "select_algorithm", None),
        ({"verdict": "revise_mdp"}, "design_mdp", None),
        ({"verdict": "give_up"}, "confirm", "stopped_by_critic"),
        ({"verdict": "done"}, "confirm", "stopped_by_critic"),
        ({"verdict": "revise_algo", "scores": (10.0, 480.0)}, "confirm", "target_met"),  # met by an earlier one
        ({"verdict": "revise_mdp", "used": 98_000}, "confirm", "budget_exhausted"),  # budget spent
        ({"verdict": "revise_mdp", "iteration": 6}, "confirm", "iterations_exhausted"),  # iterations spent
        ({"verdict": "revise_algo", "scores": (None,)}, "select_algorithm", None),  # a crash: try again
    ],
)
def test_router(kwargs, route, status):
    """Where the router ends the run, the exported status says why."""
    assert route_after_critic(state(**kwargs)) == route
    if status is not None:
        assert final_status(state(**kwargs)) == status


def test_state_round_trips_through_the_checkpointer(tmp_path):
    task = TaskSpec(text="t", env="CartPole-v1", target=475, budget_steps=1000)
    crit = Critique(
        verdict="revise_mdp",
        diagnosis="no_progress",
        reason="r",
        mdp_changes=MDPChanges(shaping="potential"),
        algo_changes={"lr": 1e-4},
    )
    values = {
        "spec": task,
        "settings": RunSettings(runs_dir=str(tmp_path)),
        "critique": crit,
        "history": [record(1, 12.5)],
        "steps_used": 77,
    }
    with SqliteSaver.from_conn_string(str(tmp_path / "cp.sqlite")) as saver:
        saver.serde = serializer()
        graph = build_graph(checkpointer=saver)
        cfg = {"configurable": {"thread_id": "rt"}}
        graph.update_state(cfg, values, as_node="critic")
    with SqliteSaver.from_conn_string(str(tmp_path / "cp.sqlite")) as saver:
        saver.serde = serializer()
        got = build_graph(checkpointer=saver).get_state(cfg).values
    assert got["spec"] == task and got["critique"] == crit
    assert got["history"] == [record(1, 12.5)] and got["steps_used"] == 77
    assert isinstance(got["settings"], RunSettings)


def test_checkpoints_that_name_the_old_state_module_still_load():
    """Runs checkpointed before the state types moved (graph/state.py → nodes/state.py) resume: the
    old module name reads back as the same typed settings, not a dict."""
    serde = serializer()
    kind, data = serde.dumps_typed(RunSettings(runs_dir="/r", designer="expert", candidates=3))
    assert b"nodes.state" in data
    old = data.replace(b"nodes.state", b"graph.state")  # the same length: msgpack's sizes still hold
    back = serde.loads_typed((kind, old))
    assert isinstance(back, RunSettings) and back.candidates == 3 and back.runs_dir == "/r"


def test_checkpoints_that_hold_the_retired_progress_setting_still_load():
    """Runs checkpointed while nodes drew progress bars hold ``settings.progress``; the serializer
    rebuilds settings with ``RunSettings(**saved)``: the field is dropped, the rest kept and checked."""
    back = RunSettings(**{"runs_dir": "/r", "designer": "expert", "progress": True, "candidates": 2})
    assert back.candidates == 2 and "progress" not in back.model_dump()
    with pytest.raises(ValueError, match="colour"):
        RunSettings(**{"runs_dir": "/r", "colour": "blue"})


def test_a_front_door_listener_gets_the_nodes_events_and_each_branch_ends_with_done():
    from nodes.context import announce, listening, progress_reporter

    got: list[dict] = []
    with listening(got.append):
        announce("critic", 2, "plateau")
        with progress_reporter("iter 2 SAC", 1000, iteration=2) as report:
            report({"kind": "test", "env_step": 100, "mean": 1.0, "best": 1.0})
            report({"kind": "train", "env_step": 100, "mean": 0.5})  # per-episode returns are not sent
    announce("critic", 3, "nobody listens")
    assert [(e["type"], e.get("kind")) for e in got] == [("step", None), ("training", "test"), ("training", "done")]
    assert got[1]["label"] == "iter 2 SAC" and got[1]["iteration"] == 2 and got[1]["budget_steps"] == 1000


def test_the_bars_open_on_a_branch_first_event_and_close_on_its_done():
    from app.progress import ProgressBars

    head = {"type": "training", "label": "iter 1 #0", "budget_steps": 500, "iteration": 1, "candidate": 0}
    with ProgressBars() as bars:
        bars({"type": "step", "text": "not training"})
        bars({**head, "kind": "collect", "env_step": 100})
        bars({**head, "kind": "test", "env_step": 200, "mean": 3.5, "best": None})
        bar = bars.bars[(1, 0)]
        assert bars.display.tasks[0].completed == 200 and bar.score == "test 3.5 (best 3.5)"
        bars({**head, "kind": "done"})
        assert not bars.bars and bars.display.tasks[0].stop_time is not None  # its line stays, stopped


def _confirmed(mean: float, episodes: int = 40, **kwargs) -> dict:
    """A run whose best iteration (1: 480, chosen among several) was evaluated again on fresh seeds."""
    st = state(scores=(480.0, 100.0), **kwargs)
    st["confirmation"] = EvalResult(mean=mean, std=1.0, episodes=episodes, returns=[mean] * episodes, mean_length=1.0)
    st["confirmed_iteration"] = 1
    return st


@pytest.mark.parametrize(
    "kwargs,after_confirm,after_critic",
    [
        ({"mean": 480.0}, "export", "confirm"),  # confirmed: done
        ({"mean": 400.0}, "select_algorithm", "select_algorithm"),  # missed on fresh seeds, budget left
        ({"mean": 400.0, "verdict": "done"}, "select_algorithm", "select_algorithm"),  # "done" read the biased figure
        ({"mean": 400.0, "verdict": "revise_mdp"}, "design_mdp", "design_mdp"),
        ({"mean": 400.0, "used": 98_000}, "export", "confirm"),  # missed, but no budget left
        ({"mean": 400.0, "verdict": "give_up"}, "export", "confirm"),
    ],
)
def test_a_confirmation_that_misses_the_target_sends_the_loop_on_while_budget_remains(
    kwargs, after_confirm, after_critic
):
    """The router used to stop on the best of several evaluations (the winner's-curse figure) and export
    even when that policy then missed the target on fresh seeds with budget and iterations left."""
    st = _confirmed(**kwargs)
    assert route_after_confirm(st) == after_confirm
    assert route_after_critic(st) == after_critic


@pytest.mark.parametrize(
    "kwargs,route,status",
    [
        ({"mean": 400.0, "verdict": "give_up"}, "export", "stopped_by_critic"),  # missed, room left, gave up
        ({"mean": 400.0, "used": 98_000}, "export", "budget_exhausted"),
        ({"mean": 400.0, "iteration": 6}, "export", "iterations_exhausted"),
        ({"mean": 480.0}, "export", "target_met"),
    ],
)
def test_where_the_run_ends_after_a_confirmation_its_status_says_why(kwargs, route, status):
    st = _confirmed(**kwargs)
    assert route_after_confirm(st) == route and final_status(st) == status


def test_a_failed_confirmation_keeps_the_first_evaluations_verdict():
    st = _confirmed(480.0)
    st["confirmation"] = EvalResult.failed("worker died")
    assert route_after_confirm(st) == "export" and final_status(st) == "target_met"


def test_a_run_with_no_target_ends_when_its_critic_says_done():
    """With no target nothing can be missed: a confirmed best is not 'short', so "done" exports
    (it used to loop on until the steps or passes ran out, and then said so)."""
    st = _confirmed(400.0, verdict="done")
    st["spec"] = st["spec"].model_copy(update={"target": None})
    assert route_after_critic(st) == "confirm"
    assert route_after_confirm(st) == "export" and final_status(st) == "stopped_by_critic"


def test_a_confirmation_of_an_earlier_best_does_not_hold_back_a_new_one():
    st = _confirmed(400.0)
    st["confirmed_iteration"] = 2  # the confirmation was of another iteration: the new best gets its own
    assert route_after_critic(st) == "confirm"
