"""The generator's nodes, one module per node, the state they share (``state.py``) and the designers
they ask (``designers/``).

Nodes import ``tools`` and ``envs``; only the graph and the front doors import ``nodes``.
"""
