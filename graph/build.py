"""The generator graph: nodes, edges and the critic's router, wired in one place.

    analyze_task → design_mdp → select_algorithm → train → evaluate → critic ─┬→ export → END
                        ▲               ▲                                      │
                        └── revise_mdp ─┴── revise_algo ───────────────────────┘
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.types import Checkpointer

from graph.state import GeneratorInput, GeneratorOutput, GeneratorState
from nodes.analyze import analyze_task
from nodes.critic import best_record, critic
from nodes.design_mdp import design_mdp
from nodes.designers.expert import MIN_ITERATION_STEPS
from nodes.evaluate import evaluate
from nodes.export import export
from nodes.select_algorithm import select_algorithm
from nodes.train import train

Route = Literal["design_mdp", "select_algorithm", "export"]


def route_after_critic(state: GeneratorState) -> Route:
    """Loop back while the target is unmet and budget and iterations remain; else export."""
    task = state["task"]
    best = best_record(state.get("history", []))
    if best is not None and task.target is not None and best.eval_mean >= task.target:
        return "export"
    if task.budget_steps - state.get("steps_used", 0) < MIN_ITERATION_STEPS:
        return "export"
    if state.get("iteration", 1) > task.max_iterations:
        return "export"
    verdict = state["critique"].verdict
    if verdict == "revise_mdp":
        return "design_mdp"
    if verdict == "revise_algo":
        return "select_algorithm"
    return "export"


def build_graph(checkpointer: Checkpointer = None):
    builder = StateGraph(GeneratorState, input_schema=GeneratorInput, output_schema=GeneratorOutput)
    builder.add_node("analyze_task", analyze_task)
    builder.add_node("design_mdp", design_mdp)
    builder.add_node("select_algorithm", select_algorithm)
    builder.add_node("train", train)
    builder.add_node("evaluate", evaluate)
    builder.add_node("critic", critic)
    builder.add_node("export", export)
    builder.add_edge(START, "analyze_task")
    builder.add_edge("analyze_task", "design_mdp")
    builder.add_edge("design_mdp", "select_algorithm")
    builder.add_edge("select_algorithm", "train")
    builder.add_edge("train", "evaluate")
    builder.add_edge("evaluate", "critic")
    builder.add_conditional_edges("critic", route_after_critic)
    builder.add_edge("export", END)
    return builder.compile(checkpointer=checkpointer, name="agent2-generator")
