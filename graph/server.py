"""The graph ``langgraph dev`` / ``langgraph up`` serve: no checkpointer of its own (the server brings one),
and run folders only inside the operator's runs root (``$AGENT2_RUNS_DIR``, else ``./runs``)."""

from graph.build import build_graph

graph = build_graph(on_server=True)
