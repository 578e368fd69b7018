"""Nodes: human review of the MDP design and of the algorithm choice (opt-in, ``settings.review``).

Each stops the graph with ``interrupt()`` and shows the proposal; the answer (``Command(resume=...)``
on the server, ``agent2 resume THREAD --approve|--edit|--reject`` or the prompt in the CLI) is a
``ReviewAnswer``: approve keeps it, edit changes fields of it (checked like a designer's proposal:
MDP code in the sandbox, hyper-parameters by their schema), reject sends the designer back with
the feedback. A bad answer or an edit that fails its check asks again, with the error.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt
from pydantic import ValidationError

from nodes.context import store
from nodes.designers.expert import ExpertDesigner
from nodes.state import GeneratorState
from tools.mdp_check import validate_mdp
from tools.run_rules import FINALISED_FIELDS, finalised
from tools.schemas import (
    AlgoConfig,
    EnvProfile,
    MDPDesign,
    ReviewAnswer,
    ReviewNote,
    ReviewRecord,
    ReviewStage,
    allowed_algorithms,
)

HOW_TO_ANSWER = (
    '{"action": "approve"} | {"action": "edit", "changes": {FIELD: VALUE, ...}} | '
    '{"action": "reject", "feedback": "what to do instead"}'
)


def parse_answer(value: Any) -> ReviewAnswer:
    """A ``ReviewAnswer`` from what a human sent: the model, its dict, or the bare word of an action."""
    if isinstance(value, ReviewAnswer):
        return value
    if isinstance(value, str):
        return ReviewAnswer(action=value.strip().lower())  # type: ignore[arg-type]
    return ReviewAnswer.model_validate(value)


def _error_text(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, err['loc'])) or 'answer'}={err.get('input')!r}: {err['msg']}" for err in e.errors()
    )


def _ask(
    stage: ReviewStage, state: GeneratorState, proposal: dict, one_line: str, error: str | None
) -> ReviewAnswer | str:
    """Stop for the human; their answer, or the reason it cannot be used (to ask again)."""
    raw = interrupt(
        {
            "stage": stage,
            "iteration": state["iteration"],
            "env": state["spec"].env,
            "summary": one_line,
            "proposal": proposal,
            "error": error,
            "answer": HOW_TO_ANSWER,
        }
    )
    try:
        return parse_answer(raw)
    except (ValidationError, ValueError) as e:
        return (
            f"answer not understood ({_error_text(e) if isinstance(e, ValidationError) else e}); "
            f"expected {HOW_TO_ANSWER}"
        )


def _review(stage: ReviewStage, state: GeneratorState, proposal: Any, one_line: str, apply_edit) -> dict:
    error: str | None = None
    while True:
        answer = _ask(stage, state, proposal.model_dump(), one_line, error)
        if isinstance(answer, str):
            error = answer
            continue
        record = ReviewRecord(
            iteration=state["iteration"],
            stage=stage,
            action=answer.action,
            proposal=one_line,
            changes=answer.changes,
            feedback=answer.feedback,
        )
        if answer.action == "approve":
            return {"review": None, "reviews": [record]}
        if answer.action == "reject":
            return {"review": ReviewNote(stage=stage, rejected=one_line, feedback=answer.feedback), "reviews": [record]}
        edited, error = apply_edit(answer.changes)
        if error is None:
            return {"review": None, "reviews": [record], **edited}


def review_mdp(state: GeneratorState, config: RunnableConfig) -> dict:
    if not state["settings"].review:
        return {}
    mdp: MDPDesign = state["mdp"]

    def apply_edit(changes: dict) -> tuple[dict, str | None]:
        try:
            edited = MDPDesign.model_validate({**mdp.model_dump(), **changes})
        except ValidationError as e:
            return {}, f"edit refused: {_error_text(e)}"
        if "summary" not in changes:
            edited = edited.model_copy(update={"summary": f"{mdp.summary} (edited in review)"})
        check_dir = store(state, config).check_folder(state["iteration"], "review_check")
        failure = validate_mdp(state["spec"].env, edited, check_dir)
        if failure is not None:
            return {}, f"edited MDP failed validation: {failure}"
        return {"mdp": edited}, None

    return _review("mdp", state, mdp, mdp.summary, apply_edit)


def edited_algorithm(algo: AlgoConfig, profile: EnvProfile, changes: dict) -> tuple[dict, str | None]:
    """A reviewer's edit of ``algo``: ({"algo": the edited config}, None), or ({}, why it is refused).
    The run's rules (``finalised``: epoch length, envs of a process each) apply to the edited config,
    but a field the reviewer set stays as set."""
    allowed = allowed_algorithms(profile.action.kind, profile.multi_agent)
    if changes.get("algorithm", algo.algorithm) not in allowed:
        return (
            {},
            f"edit refused: algorithm={changes['algorithm']!r} cannot train this env; choose one of {', '.join(allowed)}",
        )
    base = algo
    if changes.get("algorithm", algo.algorithm) != algo.algorithm:  # another algorithm: its own defaults
        base = ExpertDesigner().default_config(changes["algorithm"], profile, algo.budget_steps, profile.sparse_reward)
    try:
        edited = AlgoConfig.model_validate({**base.model_dump(), **changes})
    except ValidationError as e:
        return {}, f"edit refused: {_error_text(e)}"
    ruled = finalised(edited, profile.one_per_process)
    return {"algo": ruled.model_copy(update={k: getattr(edited, k) for k in changes if k in FINALISED_FIELDS})}, None


def review_algorithm(state: GeneratorState, config: RunnableConfig) -> dict:
    if not state["settings"].review:
        return {}
    algo: AlgoConfig = state["algo"]
    return _review(
        "algorithm", state, algo, algo.short(), lambda changes: edited_algorithm(algo, state["profile"], changes)
    )


def after_mdp_review(state: GeneratorState) -> Literal["design_mdp", "select_algorithm"]:
    note = state.get("review")
    return "design_mdp" if note is not None and note.stage == "mdp" else "select_algorithm"


def after_algorithm_review(state: GeneratorState) -> Literal["select_algorithm", "train", "propose_candidates"]:
    note = state.get("review")
    if note is not None and note.stage == "algorithm":
        return "select_algorithm"
    critique = state.get("critique")
    screen = critique is not None and critique.screen
    return "propose_candidates" if state["settings"].candidates > 1 or screen else "train"
