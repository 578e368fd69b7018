"""Environments: built-in tasks, loading env references, and the wrapper that applies a generated MDP.

This is the bottom layer: it imports neither ``tools`` nor ``nodes`` nor ``graph``.
"""
