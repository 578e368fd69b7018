"""The graph ``langgraph dev`` / ``langgraph up`` serve: no checkpointer of its own (the server brings one)."""

from graph.build import build_graph

graph = build_graph()
