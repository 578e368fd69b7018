"""Human review (interrupts after MDP design and algorithm choice), its CLI, and ``agent2 fork``."""

import pytest
from conftest import IDENTITY_MDP

from app.review_prompt import answer_from_flags, ask_review, parse_assignments
from envs.errors import Agent2Error
from nodes.designers.base import DesignContext
from nodes.designers.expert import ExpertDesigner
from nodes.review import parse_answer
from tools.profiling import profile_env
from tools.schemas import ReviewAnswer, ReviewNote, TaskSpec


@pytest.mark.parametrize(
    "raw,action",
    [("approve", "approve"), (" Reject ", "reject"), ({"action": "edit", "changes": {"lr": 0.01}}, "edit")],
)
def test_answers_parse(raw, action):
    assert parse_answer(raw).action == action


@pytest.mark.parametrize("raw", ["maybe", {"action": "edit", "bogus": 1}, 42])
def test_bad_answers_are_refused(raw):
    with pytest.raises(ValueError):
        parse_answer(raw)


def test_flags_give_one_answer(tmp_path):
    code = tmp_path / "m.py"
    code.write_text(IDENTITY_MDP)
    assert answer_from_flags(False, None, [], None) is None
    assert answer_from_flags(True, None, [], None) == ReviewAnswer(action="approve")
    assert answer_from_flags(False, "no", [], None) == ReviewAnswer(action="reject", feedback="no")
    edit = answer_from_flags(False, None, ["lr=0.01", "hidden_sizes=[32, 32]", "activation=relu"], str(code))
    assert edit.changes == {"lr": 0.01, "hidden_sizes": [32, 32], "activation": "relu", "code": IDENTITY_MDP}
    as_json = answer_from_flags(False, None, [], None, '{"action": "edit", "changes": {"gamma": 0.98}}')
    assert as_json == ReviewAnswer(action="edit", changes={"gamma": 0.98})
    with pytest.raises(Agent2Error, match="one answer"):
        answer_from_flags(True, "no", [], None)
    with pytest.raises(Agent2Error, match="not a review answer"):
        answer_from_flags(False, None, [], None, '{"action": "maybe"}')
    with pytest.raises(Agent2Error, match="not a review answer"):
        answer_from_flags(False, None, [], None, "{oops")
    with pytest.raises(Agent2Error, match="KEY=VALUE"):
        parse_assignments(["lr"])
    with pytest.raises(Agent2Error, match="missing.py"):
        answer_from_flags(False, None, [], str(tmp_path / "missing.py"))


def test_prompt_asks_until_the_answer_is_usable():
    said = iter(["what?", "e", "lr", "e", "lr=0.002 algorithm=DQN"])
    answer = ask_review({"stage": "algorithm"}, read=lambda _: next(said))
    assert answer == ReviewAnswer(action="edit", changes={"lr": 0.002, "algorithm": "DQN"})
    said = iter(["r", "smaller network"])
    assert ask_review({"stage": "mdp"}, read=lambda _: next(said)).feedback == "smaller network"


@pytest.fixture(scope="module")
def cartpole_ctx():
    task = TaskSpec(text="t", env="CartPole-v1", target=475, budget_steps=50_000)
    return DesignContext(task=task, profile=profile_env("CartPole-v1", episodes=3))


def test_expert_answers_a_rejection_with_another_proposal(cartpole_ctx):
    expert = ExpertDesigner()
    first_mdp, first_algo = expert.design_mdp(cartpole_ctx), expert.select_algorithm(cartpole_ctx)
    note = ReviewNote(stage="mdp", rejected=first_mdp.summary, feedback="no")
    second_mdp = expert.design_mdp(DesignContext(**{**cartpole_ctx.__dict__, "mdp": first_mdp, "review": note}))
    assert second_mdp.code != first_mdp.code and second_mdp.summary != first_mdp.summary
    note = ReviewNote(stage="algorithm", rejected=first_algo.short())
    second_algo = expert.select_algorithm(
        DesignContext(**{**cartpole_ctx.__dict__, "algo": first_algo, "review": note})
    )
    assert (first_algo.algorithm, second_algo.algorithm) == ("PPO", "DQN")


def test_a_rejected_design_with_running_normalisation_drops_it_instead_of_adding_a_second(cartpole_ctx):
    """The flip read only the fixed standardisation: a rejected design with running normalisation got
    random play's statistics on top of it."""
    from nodes.designers.expert import running_normalisation

    expert = ExpertDesigner()
    raw = expert.build_mdp(cartpole_ctx.profile, 475, "none", 1.0, False, 1)
    running = running_normalisation(raw)
    note = ReviewNote(stage="mdp", rejected=running.summary, feedback="no")
    second = expert.design_mdp(DesignContext(**{**cartpole_ctx.__dict__, "mdp": running, "review": note}))
    assert not second.normalize_obs and "standardised obs" not in second.summary
    shaped = running_normalisation(expert.build_mdp(cartpole_ctx.profile, 475, "potential", 1.0, False, 1))
    note = ReviewNote(stage="mdp", rejected=shaped.summary, feedback="no")
    third = expert.design_mdp(DesignContext(**{**cartpole_ctx.__dict__, "mdp": shaped, "review": note}))
    assert third.shaping is None and third.normalize_obs and "standardised obs" not in third.summary


def test_a_reviewers_edit_gets_the_runs_rules_but_keeps_what_the_reviewer_set(cartpole_ctx):
    """An edited budget gets its own epoch length; DQN on an env of a process each steps two envs,
    unless the reviewer asked for more."""
    from nodes.review import edited_algorithm
    from tools.run_rules import epoch_steps

    algo = ExpertDesigner().select_algorithm(cartpole_ctx)
    out, error = edited_algorithm(algo, cartpole_ctx.profile, {"budget_steps": 2_000_000})
    assert error is None and out["algo"].epoch_steps == epoch_steps(out["algo"]) != algo.epoch_steps
    own = cartpole_ctx.profile.model_copy(update={"one_per_process": True})
    out, _ = edited_algorithm(algo, own, {"algorithm": "DQN"})
    assert (out["algo"].n_train_envs, out["algo"].n_test_envs) == (2, 2)
    out, _ = edited_algorithm(algo, own, {"algorithm": "DQN", "n_train_envs": 8, "epoch_steps": 3000})
    assert (out["algo"].n_train_envs, out["algo"].n_test_envs, out["algo"].epoch_steps) == (8, 2, 3000)
    assert edited_algorithm(algo, own, {"algorithm": "SAC"})[1].startswith("edit refused: algorithm='SAC'")
