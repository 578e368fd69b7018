"""The generator graph: nodes, edges and the critic's router, wired in one place.

    intake → analyze_task → design_mdp → review_mdp → select_algorithm → review_algorithm → train
                                ▲    └─ reject ─┘ ▲   ▲         └─ reject ─┘                    │
                                │                 │   └──────────── revise_algo ─┐              ▼
                                └──────────────── revise_mdp ─── critic ◀── evaluate ◀──────────┘
                                                                   └→ confirm → export → END

With K > 1 candidates (``--candidates K``) the approved algorithm goes to ``propose_candidates``
instead of ``train``; it fans out one ``train_candidate`` branch per candidate (``Send``), each
training and evaluating on the run's executor, and ``pick_candidate`` ranks them on the original
metric and hands the winner to the critic (see ``nodes/candidates.py``).

The review nodes pass straight through unless the run asked for human review. ``confirm`` evaluates
the chosen policy again on fresh seeds when it was chosen among several (``nodes/confirm.py``); when
that misses the target while budget and iterations remain, the loop goes on instead of exporting
(``route_after_confirm``), and that policy's first figure no longer counts as meeting the target.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.types import Checkpointer

from graph.plain_state import plain_io
from nodes.analyze import analyze_task
from nodes.candidates import fan_out, pick_candidate, propose_candidates, train_candidate
from nodes.confirm import confirm
from nodes.critic import critic
from nodes.design_mdp import design_mdp
from nodes.evaluate import evaluate
from nodes.export import export
from nodes.intake import intake, intake_on_server
from nodes.review import after_algorithm_review, after_mdp_review, review_algorithm, review_mdp
from nodes.select_algorithm import select_algorithm
from nodes.state import CandidateBranch, GeneratorOutput, GeneratorState, RunContext, RunRequest, run_position
from nodes.train import train
from tools.run_rules import best_record, record_met, room_left, target_met

DESCRIPTION = (
    "Agent² Generator Agent: designs the MDP and the Tianshou algorithm for an RL task, trains, "
    "evaluates on the task's original metric and revises until the target is met, the budget or "
    "iterations are spent or the critic stops; exports the best agent with a report. Human review "
    "of each design is opt-in (context: review)."
)

Route = Literal["design_mdp", "select_algorithm", "confirm"]
AfterConfirm = Literal["design_mdp", "select_algorithm", "export"]


def _confirmed_short(state: GeneratorState) -> bool:
    """Whether the current best policy was evaluated again on fresh seeds and missed the target there:
    its first evaluation, the best of several, was the winner's-curse figure. A run with no target
    has nothing to miss: its critic's ``done`` ends it."""
    best, conf = best_record(state.get("history", [])), state.get("confirmation")
    return (
        state["spec"].target is not None
        and best is not None
        and conf is not None
        and conf.mean is not None
        and state.get("confirmed_iteration") == best.iteration
        and not target_met(conf.mean, conf.std, conf.episodes, state["spec"].target)
    )


def _room_left(state: GeneratorState) -> bool:
    return room_left(**run_position(state))


def route_after_critic(state: GeneratorState) -> Route:
    """Loop back while the target is unmet and budget and iterations remain; else confirm and export.
    A best policy whose confirmation missed the target does not count as meeting it."""
    task = state["spec"]
    short = _confirmed_short(state)
    if record_met(best_record(state.get("history", [])), task.target) and not short:
        return "confirm"
    if not _room_left(state):
        return "confirm"
    verdict = state["critique"].verdict
    if verdict == "revise_mdp":
        return "design_mdp"
    if verdict == "revise_algo" or (verdict == "done" and short):  # "done" read the biased figure
        return "select_algorithm"
    return "confirm"


def route_after_confirm(state: GeneratorState) -> AfterConfirm:
    """Export, unless the chosen policy missed the target on fresh seeds while budget and iterations
    remain: then the loop goes on (the critic's verdict said "done" on the biased figure)."""
    if not _confirmed_short(state) or not _room_left(state) or state["critique"].verdict == "give_up":
        return "export"
    return "design_mdp" if state["critique"].verdict == "revise_mdp" else "select_algorithm"


def build_graph(checkpointer: Checkpointer = None, on_server: bool = False):
    """The graph; ``on_server``: for the LangGraph API server, where clients may not choose any folder."""
    # on the API server the state is stored as plain data (graph/plain_state.py): its serializer does
    # not know our types, and a hardened one (LANGGRAPH_STRICT_MSGPACK) refuses them
    io = plain_io if on_server else (lambda fn: fn)
    builder = StateGraph(
        GeneratorState, input_schema=RunRequest, output_schema=GeneratorOutput, context_schema=RunContext
    )
    builder.add_node("intake", io(intake_on_server if on_server else intake), input_schema=RunRequest)
    builder.add_node("analyze_task", io(analyze_task))
    builder.add_node("design_mdp", io(design_mdp))
    builder.add_node("review_mdp", io(review_mdp))
    builder.add_node("select_algorithm", io(select_algorithm))
    builder.add_node("review_algorithm", io(review_algorithm))
    builder.add_node("train", io(train))
    builder.add_node("evaluate", io(evaluate))
    builder.add_node("critic", io(critic))
    builder.add_node("confirm", io(confirm))
    builder.add_node("export", io(export))
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "analyze_task")
    builder.add_edge("analyze_task", "design_mdp")
    builder.add_edge("design_mdp", "review_mdp")
    builder.add_conditional_edges("review_mdp", io(after_mdp_review))
    builder.add_edge("select_algorithm", "review_algorithm")
    builder.add_conditional_edges("review_algorithm", io(after_algorithm_review))
    builder.add_node("propose_candidates", io(propose_candidates))
    builder.add_node("train_candidate", io(train_candidate), input_schema=CandidateBranch)
    builder.add_node("pick_candidate", io(pick_candidate))
    builder.add_conditional_edges("propose_candidates", io(fan_out), ["train_candidate"])
    builder.add_edge("train_candidate", "pick_candidate")
    builder.add_edge("pick_candidate", "critic")
    builder.add_edge("train", "evaluate")
    builder.add_edge("evaluate", "critic")
    builder.add_conditional_edges("critic", io(route_after_critic))
    builder.add_conditional_edges("confirm", io(route_after_confirm))
    builder.add_edge("export", END)
    graph = builder.compile(checkpointer=checkpointer, name="agent2-generator")
    graph.description = DESCRIPTION
    return graph
