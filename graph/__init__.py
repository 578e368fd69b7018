"""The Generator Agent as a LangGraph ``StateGraph``: its wiring (``build.py``), the checkpointers, the
API server's entry point and the driver that starts, resumes and forks threads (``runner.py``).

The graph imports ``nodes``, ``tools`` and ``envs``; only the front doors (``app``) import the graph.
"""
