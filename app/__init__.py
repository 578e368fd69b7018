"""The front doors: the ``agent2`` command line, the MCP server and background runs.

They all start, continue and read runs through one service API (``app/service.py``) on typed
objects; nothing below imports ``app``.
"""
