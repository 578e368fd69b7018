"""The RL toolset shared by the graph's nodes (and, later, the MCP server).

Tools import ``envs`` but never ``nodes`` or ``graph``.
"""
