"""The run report: a learning-curve plot (matplotlib) and a markdown summary."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from tools.run_files import TRAIN_RESULT
from tools.schemas import IterationRecord, ReviewRecord, TaskSpec, TrainResult


def _curve(rec: IterationRecord) -> TrainResult | None:
    path = Path(rec.iter_dir) / TRAIN_RESULT
    return TrainResult.model_validate_json(path.read_text()) if path.exists() else None


def plot_learning_curve(history: list[IterationRecord], target: float | None, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    offset = 0
    for rec in history:
        tr = _curve(rec)
        if tr is not None and tr.curve:
            xs = [offset + p.env_step for p in tr.curve]
            ys = [p.mean for p in tr.curve]
            lo = [p.mean - p.std for p in tr.curve]
            hi = [p.mean + p.std for p in tr.curve]
            (line,) = ax.plot(
                xs, ys, marker=".", label=f"iter {rec.iteration}: {rec.algo.algorithm}, {rec.mdp_summary}"
            )
            ax.fill_between(xs, lo, hi, alpha=0.15, color=line.get_color())
            if rec.eval_mean is not None:
                ax.errorbar(
                    [xs[-1]], [rec.eval_mean], yerr=[rec.eval_std or 0], fmt="s", color=line.get_color(), capsize=3
                )
        offset += rec.env_steps
    if target is not None:
        ax.axhline(target, color="k", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.set_xlabel("env steps (whole run)")
    ax.set_ylabel("test return (original reward)")
    ax.set_title("Agent² learning curve (squares: final evaluation)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def _interval(ci: list[float] | None) -> str:
    return "—" if not ci else f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def confirmation_lines(chosen: dict) -> list[str]:
    """The chosen policy's second evaluation on fresh seeds (``nodes/confirm.py``), when it had one."""
    if chosen.get("confirmation_error"):
        return ["", f"Its evaluation on fresh seeds failed: {chosen['confirmation_error']}"]
    if chosen.get("selection_mean") is None:
        return []
    return [
        "",
        f"It was chosen from {chosen['compared']} evaluated policies on that evaluation, which the choice "
        f"biases upward. **On fresh seeds: {chosen['eval_mean']:.2f} ± {chosen['eval_std'] or 0:.2f} over "
        f"{chosen['eval_episodes']} episodes**"
        + (f", 95% CI {_interval(chosen['eval_ci95'])}" if chosen.get("eval_ci95") else "")
        + "".join(f"; {k} {v:.2f}" for k, v in (chosen.get("eval_metrics") or {}).items())
        + ". That is the run's figure.",
    ]


def write_report(
    task: TaskSpec,
    history: list[IterationRecord],
    best: IterationRecord | None,
    status: str,
    result: dict,
    out_dir: Path,
    reviews: list[ReviewRecord] = (),
) -> Path:
    png = plot_learning_curve(history, task.target, out_dir / "learning_curve.png")
    lines = [
        "# Agent² report",
        "",
        f"- **Task**: {task.text}",
        f"- **Env**: `{task.env}`",
        f"- **Target**: {task.target if task.target is not None else 'none'} ({result.get('metric', 'mean episode return')}, "
        f"{task.eval_episodes} evaluation episodes)",
        *([f"- **Observation**: {result['observation_encoding']}"] if result.get("observation_encoding") else []),
        f"- **Status**: {status}",
        f"- **Env steps**: {result['env_steps_total']} of {task.budget_steps}; "
        f"**wall time**: {result['wall_seconds']:.0f} s",
        "",
        f"![learning curve]({png.name})",
        "",
        "## Iterations",
        "",
        "| # | MDP | algorithm | env steps | best test | eval (mean ± std) | 95% CI | episodes | stop | verdict "
        "| fix | reason |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in history:
        ev = "—" if r.eval_mean is None else f"{r.eval_mean:.1f} ± {r.eval_std or 0:.1f}"
        lines.append(
            f"| {r.iteration} | {r.mdp_summary} | {r.algo.short()} | {r.env_steps} | "
            f"{_fmt(r.train_best)} | {ev} | {_interval(r.eval_ci)} | {r.eval_episodes} | {r.stop_reason} | "
            f"{r.verdict} | {r.fix_kind} | {r.reason} |"
        )
    if best is not None:
        lines += [
            "",
            f"## Best: iteration {best.iteration}",
            "",
            f"Evaluation {best.eval_mean:.2f} ± {best.eval_std or 0:.2f} over {best.eval_episodes} episodes"
            + (f", 95% CI {_interval(best.eval_ci)}" if best.eval_ci else "")
            + (f" (per agent, {best.eval_agents} agents)" if best.eval_agents > 1 else "")
            + "".join(f"; {k} {v:.2f}" for k, v in best.eval_metrics.items())
            + ".",
            *confirmation_lines(result.get("best") or {}),
            *(
                [
                    "",
                    "### Reward terms over training",
                    "",
                    "| term | episode mean ± std | non-zero steps | share |",
                    "|---|---|---|---|",
                ]
                + [
                    f"| {n} | {t.episode_mean:.3g} ± {t.episode_std:.3g} | {t.nonzero_fraction:.0%} | {t.share:.0%} |"
                    for n, t in best.reward_terms.items()
                ]
                if best.reward_terms
                else []
            ),
            "",
            "### Algorithm",
            "",
            "```json",
            json.dumps(best.algo.model_dump(), indent=1),
            "```",
            "",
            "### MDP code",
            "",
            "```python",
            best.mdp_code.rstrip(),
            "```",
        ]
    if any(r.candidates for r in history):
        lines += [
            "",
            "## Candidates",
            "",
            "Each iteration trained its candidates side by side and kept the best on the original metric.",
            "",
            "| iteration | # | variation | algorithm | env steps | eval (mean ± std) | stop | why |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in history:
            for c in r.candidates:
                ev = "—" if c.eval_mean is None else f"{c.eval_mean:.1f} ± {c.eval_std or 0:.1f}"
                lines.append(
                    f"| {r.iteration} | {c.index} | {c.label} | {c.algorithm} | {c.env_steps} | {ev} | "
                    f"{c.stop_reason} | {c.note} |"
                )
    if len(history) > 1:
        lines += ["", "## Every iteration's design", ""]
        for r in history:
            lines += [
                f"<details><summary>Iteration {r.iteration}: {r.mdp_summary}; {r.algo.short()}; "
                f"{r.diagnosis}: {r.reason}</summary>",
                "",
                "```python",
                r.mdp_code.rstrip(),
                "```",
                "",
                "```json",
                json.dumps(r.algo.model_dump(exclude={"rationale"})),
                "```",
                "</details>",
                "",
            ]
    if reviews:
        lines += [
            "",
            "## Human reviews",
            "",
            "| iteration | stage | answer | proposal | changes / feedback |",
            "|---|---|---|---|---|",
        ]
        for v in reviews:
            said = ", ".join(f"{k}={'<code>' if k == 'code' else repr(x)}" for k, x in v.changes.items())
            lines.append(
                f"| {v.iteration} | {v.stage} | {v.action} | {v.proposal} | "
                f"{'; '.join(t for t in (said, v.feedback) if t) or '—'} |"
            )
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
