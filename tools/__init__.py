"""The RL toolset the nodes use: profiling, the sandbox, training workers and executors, the run
database, the report, and the run's rules (``run_rules.py``) and artefact types (``schemas.py``).

Tools import ``envs`` but never ``nodes``, ``graph`` or ``app``.
"""
