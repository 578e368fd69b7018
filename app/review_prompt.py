"""The CLI side of a human review: show the proposal, read the answer from flags or a prompt."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from envs.errors import Agent2Error
from nodes.review import parse_answer
from tools.schemas import AlgoConfig, ReviewAnswer

WAITING = 3
"""Exit status of ``agent2 run/resume`` while a review waits for an answer."""


def parse_assignments(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs; a value is read as JSON when it parses (numbers, lists, true), else text."""
    changes: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise Agent2Error(f"edit {item!r} is not KEY=VALUE (e.g. lr=0.001 or hidden_sizes=[128,128])")
        try:
            changes[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            changes[key.strip()] = text
    return changes


def _read_code(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as e:
        raise Agent2Error(f"cannot read MDP code file {path!r}: {e.strerror}") from None


def answer_from_flags(
    approve: bool, reject: str | None, edits: list[str], edit_code: str | None, answer_json: str | None = None
) -> ReviewAnswer | None:
    """The answer the resume flags give, or None when they give none."""
    chosen = [
        name
        for name, on in (
            ("--approve", approve),
            ("--reject", reject is not None),
            ("--edit/--edit-code", bool(edits) or edit_code is not None),
            ("--answer", answer_json is not None),
        )
        if on
    ]
    if len(chosen) > 1:
        raise Agent2Error(f"give one answer to a review, not {' and '.join(chosen)}")
    if answer_json is not None:
        try:
            return parse_answer(json.loads(answer_json))
        except (json.JSONDecodeError, ValueError) as e:
            raise Agent2Error(
                f"--answer {answer_json[:80]!r} is not a review answer: {str(e).splitlines()[0]}"
            ) from None
    if approve:
        return ReviewAnswer(action="approve")
    if reject is not None:
        return ReviewAnswer(action="reject", feedback=reject)
    if edits or edit_code is not None:
        changes = parse_assignments(edits)
        if edit_code is not None:
            changes["code"] = _read_code(edit_code)
        return ReviewAnswer(action="edit", changes=changes)
    return None


def show_review(payload: dict, console: Console) -> None:
    stage = "MDP design" if payload["stage"] == "mdp" else "algorithm choice"
    console.print(
        f"\n[bold]Review of the {stage}[/], iteration {payload['iteration']} ({payload['env']}): {payload['summary']}"
    )
    if payload.get("error"):
        console.print(f"[red]Your last answer was not applied:[/] {payload['error']}")
    proposal = payload["proposal"]
    if payload["stage"] == "mdp":
        console.print(
            f"obs_dim {proposal['obs_dim']}; shaping {proposal.get('shaping') or 'none'}; "
            f"why: {proposal.get('rationale') or '—'}"
        )
        console.print(Syntax(proposal["code"], "python", line_numbers=True))
    else:
        table = Table("field", "value", "field", "value")
        unused = AlgoConfig.unused_fields(proposal["algorithm"]) | {"rationale"}
        items = [(k, v) for k, v in proposal.items() if k not in unused]
        for left, right in zip(items[::2], items[1::2] + [("", "")], strict=False):  # an odd count: one pad
            table.add_row(left[0], json.dumps(left[1]), right[0], json.dumps(right[1]) if right[0] else "")
        console.print(table)
        if proposal.get("rationale"):
            console.print(f"why: {proposal['rationale']}")


def how_to_answer(thread_id: str, runs_dir: str) -> str:
    return (
        f"answer with 'agent2 resume {thread_id} --runs-dir {runs_dir}' and one of: --approve | "
        "--edit KEY=VALUE [--edit ...] | --edit-code FILE.py (MDP) | --reject 'FEEDBACK'"
    )


def ask_review(payload: dict, read: Callable[[str], str] = input) -> ReviewAnswer:
    """Ask at the terminal until the answer is one of approve, edit, reject (a bare Enter approves
    nothing: it asks again). Ctrl-D or Ctrl-C raise ``EOFError`` / ``KeyboardInterrupt`` to the caller."""
    while True:
        choice = read("[a]pprove, [e]dit or [r]eject? ").strip().lower()
        if choice in ("a", "approve", "y", "yes"):
            return ReviewAnswer(action="approve")
        if choice in ("r", "reject"):
            return ReviewAnswer(action="reject", feedback=read("what should the designer do instead? ").strip())
        if choice in ("e", "edit"):
            hint = (
                "a file with the new MDP code, or KEY=VALUE ..."
                if payload["stage"] == "mdp"
                else "KEY=VALUE ... (e.g. lr=0.001 hidden_sizes=[128,128] algorithm=PPO)"
            )
            text = read(f"{hint}: ").strip()
            try:
                if payload["stage"] == "mdp" and "=" not in text:
                    return ReviewAnswer(action="edit", changes={"code": _read_code(text)})
                return ReviewAnswer(action="edit", changes=parse_assignments(text.split()))
            except Agent2Error as e:
                print(f"agent2: {e}")
