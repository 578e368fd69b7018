"""Designers: who fills in each design decision. One contract (``base.Designer``), several makers."""

from __future__ import annotations

from nodes.designers.base import DesignContext, Designer

DESIGNERS = ("expert",)


def get_designer(name: str) -> Designer:
    if name == "expert":
        from nodes.designers.expert import ExpertDesigner

        return ExpertDesigner()
    raise ValueError(f"unknown designer {name!r}; choose one of {', '.join(DESIGNERS)}")


__all__ = ["DESIGNERS", "DesignContext", "Designer", "get_designer"]
