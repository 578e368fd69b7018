"""Human review (interrupts after MDP design and algorithm choice), its CLI, and ``agent2 fork``."""

import json

from conftest import ROOT


def test_server_graph_has_no_checkpointer_and_langgraph_json_points_at_it():
    from graph.server import graph

    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["graphs"]["agent2"]["path"] == "graph.server:graph"
    assert graph.checkpointer is None and graph.get_input_jsonschema()["required"] == ["env"]
