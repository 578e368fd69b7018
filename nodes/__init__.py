"""The generator's nodes, one module per node, and the designers they ask.

Nodes import ``tools`` and ``envs``; nothing below imports ``nodes``.
"""
