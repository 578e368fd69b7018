"""The LLM designer: any OpenAI-compatible model, through ``langchain-openai``'s ``ChatOpenAI``.

Every answer is a pydantic model requested with structured output; an answer that does not
validate is re-asked with the error shown to the model (bounded), HTTP rate limits and timeouts
back off and retry inside the client, and an unreachable endpoint stops the run with a clear
error (the state is checkpointed, so ``agent2 resume`` continues later). Where the model gives no
usable answer, the decision falls back to the expert designer (the MDP falls back to the last
good design), so model output never crashes a run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import numpy as np
import openai
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from envs.errors import Agent2Error
from nodes import prompts
from nodes.designers.base import DesignContext, Designer, design_env_state, observation_history, reward_terms_text
from nodes.designers.escalation import escalate
from nodes.designers.expert import ExpertDesigner, horizon
from nodes.designers.llm_config import LLMSettings, api_key
from tools.run_rules import finalised, target_met
from tools.schemas import (
    AlgoConfig,
    AlgorithmName,
    Candidate,
    Critique,
    EnvProfile,
    IterationRecord,
    MDPDesign,
    TaskAnalysis,
    allowed_algorithms,
)

T = TypeVar("T", bound=BaseModel)
UsageRecorder = Callable[[dict], None]
SOURCE_LIMIT = 6000
LIST_LIMIT = 16


class LLMUnavailableError(Agent2Error):
    """The model endpoint cannot be reached or refuses every request."""


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AnalysisAnswer(_Answer):
    objective: str = Field(description="The task's objective in one sentence.")
    challenges: list[str] = Field(default_factory=list, max_length=4, description="Two or three key challenges.")


class MDPAnswer(_Answer):
    code: str = Field(description="The complete Python module defining observation, action and reward.")
    obs_dim: int = Field(gt=0, le=100_000, description="Length of observation()'s output.")
    summary: str = Field(description="One line: what the design does.")
    rationale: str = Field("", description="Why.")


class AlgoAnswer(_Answer):
    algorithm: AlgorithmName
    hidden_sizes: list[int] | None = Field(None, min_length=1, max_length=4)
    activation: str | None = Field(None, description="tanh or relu")
    layer_norm: bool | None = Field(None, description="layer normalisation after each hidden layer")
    encoder: Literal["mlp", "cnn", "gru", "lstm"] | None = Field(
        None,
        description="mlp; cnn: convolutions over the observation's images; gru / lstm: a recurrent layer "
        "over the MDP's observation history",
    )
    lr: float | None = Field(None, gt=0, lt=1)
    gamma: float | None = Field(None, gt=0, le=1)
    n_train_envs: int | None = Field(None, ge=1, le=64)
    batch_size: int | None = Field(None, ge=1, le=65536)
    collect_steps: int | None = Field(None, ge=1)
    repeat: int | None = Field(None, ge=1, le=100)
    gae_lambda: float | None = Field(None, ge=0, le=1)
    ent_coef: float | None = Field(None, ge=0, le=1)
    buffer_size: int | None = Field(None, ge=100)
    start_steps: int | None = Field(None, ge=0)
    exploration_noise: float | None = Field(None, ge=0, le=5)
    novelty_bonus: float | None = Field(
        None,
        ge=0,
        le=100,
        description="count-based exploration bonus scale / sqrt(visits) for observations that repeat exactly; 0: off",
    )
    rationale: str = ""


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return float(f"{x:.4g}")
    if isinstance(x, list):
        items = [_round(v) for v in x[:LIST_LIMIT]]
        return items + ([f"... {len(x) - LIST_LIMIT} more"] if len(x) > LIST_LIMIT else [])
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    return x


def profile_text(p: EnvProfile) -> str:
    return json.dumps(_round(p.model_dump(exclude={"source"})), indent=None)


def history_text(history: list[IterationRecord]) -> str:
    if not history:
        return "(none yet)"
    return "\n".join(
        f"- iteration {r.iteration}: MDP [{r.mdp_summary}], {r.algo.short()}, {r.env_steps} steps, "
        f"eval {'failed' if r.eval_mean is None else f'{r.eval_mean:.1f} ± {r.eval_std or 0:.1f}'}, "
        f"stop {r.stop_reason}, diagnosis {r.diagnosis}, verdict {r.verdict}, fix kind {r.fix_kind}: {r.reason}"
        for r in history
    )


def curve_text(ctx: DesignContext) -> str:
    curve = ctx.train.curve if ctx.train else []
    if not curve:
        return "(no test yet)"
    idx = sorted(set(np.linspace(0, len(curve) - 1, min(len(curve), 12)).astype(int)))
    return "\n".join(
        f"{curve[i].env_step}: {curve[i].mean:.1f} ± {curve[i].std:.1f}"
        + (" (the untrained policy, before any update)" if curve[i].untrained else "")
        for i in idx
    )


def _action_text(p: EnvProfile) -> str:
    a = p.action
    if a.kind == "discrete":
        return f"Discrete({a.n}): an integer in [0, {a.n})"
    return f"Box{tuple(a.shape)} in [{min(a.low or [0]):g}, {max(a.high or [0]):g}]"


class LLMDesigner(Designer):
    name = "llm"

    def __init__(self, settings: LLMSettings, recorder: UsageRecorder | None = None, tokens_used: int = 0):
        self.settings = settings
        self.recorder = recorder
        self.tokens_used = tokens_used
        self.expert = ExpertDesigner()

    # -- talking to the model -------------------------------------------------------------------
    def chat_model(self, temperature: float | None = None) -> ChatOpenAI:
        s = self.settings
        return ChatOpenAI(
            model=s.model,
            base_url=s.base_url,
            api_key=api_key(),
            temperature=s.temperature if temperature is None else temperature,
            timeout=s.timeout,
            max_retries=s.retries,
            extra_body={"max_tokens": s.max_tokens},
        )

    def _record(self, **row: Any) -> None:
        if self.recorder is not None:
            self.recorder(row)

    def ask(
        self, node: str, ctx: DesignContext, instruction: str, schema: type[T], temperature: float | None = None
    ) -> T | None:
        """A validated answer to ``instruction``, asked after the run's shared context (``_prompt``), or None
        after ``retries`` invalid answers or with the token budget spent."""
        s = self.settings
        if self.tokens_used >= s.token_budget:
            self._record(
                node=node,
                attempt=0,
                ok=False,
                prompt_tokens=0,
                completion_tokens=0,
                seconds=0.0,
                error=f"token budget {s.token_budget} spent: expert decides",
            )
            return None
        runnable = self.chat_model(temperature).with_structured_output(schema, method=s.method, include_raw=True)
        messages: list[BaseMessage] = [SystemMessage(prompts.SYSTEM), HumanMessage(self._prompt(ctx, instruction))]
        for attempt in range(1, s.retries + 2):
            t0 = time.perf_counter()
            try:
                out = runnable.invoke(messages)
            except (openai.APIConnectionError, openai.APITimeoutError) as e:
                raise LLMUnavailableError(
                    f"model endpoint {s.base_url or 'api.openai.com'} unreachable ({type(e).__name__}: {e})"
                ) from e
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
                raise LLMUnavailableError(f"model endpoint refused {s.model!r}: {e}") from e
            except openai.APIStatusError as e:
                raise LLMUnavailableError(f"model endpoint failed after {s.retries} retries: {e}") from e
            except (ValidationError, ValueError) as e:  # the client parsed the answer itself and failed
                out = {"raw": None, "parsed": None, "parsing_error": e}
            usage = getattr(out.get("raw"), "usage_metadata", None) or {}
            p_tok, c_tok = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
            self.tokens_used += p_tok + c_tok
            parsed, error = out.get("parsed"), out.get("parsing_error")
            ok = parsed is not None and error is None
            self._record(
                node=node,
                attempt=attempt,
                ok=ok,
                prompt_tokens=p_tok,
                completion_tokens=c_tok,
                seconds=time.perf_counter() - t0,
                error=None if ok else str(error or "no answer")[:2000],
            )
            if ok:
                return parsed
            said = _answer_text(out.get("raw"))
            messages.append(
                HumanMessage(
                    (f"Your previous answer was:\n{said[:4000]}\n\n" if said else "")
                    + prompts.INVALID_ANSWER.format(error=str(error or "no structured answer")[:2000])
                )
            )
            if self.tokens_used >= s.token_budget:
                return None
        return None

    # -- decisions ------------------------------------------------------------------------------
    def _prompt(self, ctx: DesignContext, instruction: str) -> str:
        """The run's shared context (task, target, env facts), then this call's instruction."""
        context = prompts.CONTEXT.format(
            task=ctx.task.text,
            target=ctx.target if ctx.target is not None else "none given",
            env_facts=self.env_facts(ctx.profile),
        )
        return f"{context}\n\n{instruction}"

    def _common(self, ctx: DesignContext) -> dict[str, Any]:
        return {
            "iteration": ctx.iteration,
            "history": history_text(ctx.history),
            "critique": (
                "(first iteration)" if ctx.critique is None else ctx.critique.model_dump_json(exclude_defaults=True)
            )
            + (
                ""
                if ctx.review is None
                else "\n\n"
                + prompts.REVIEW_REJECTED.format(
                    stage=ctx.review.stage,
                    rejected=ctx.review.rejected,
                    feedback=ctx.review.feedback or "(no reason given)",
                )
            ),
        }

    @staticmethod
    def env_facts(p: EnvProfile) -> str:
        return prompts.ENV_FACTS.format(profile=profile_text(p), source=p.source[:SOURCE_LIMIT])

    @staticmethod
    def contract(p: EnvProfile) -> str:
        text = prompts.MDP_CONTRACT.format(obs_dim=p.obs_dim, action=_action_text(p))
        if p.multi_agent:
            text += "\n\n" + prompts.MDP_CONTRACT_AGENTS.format(n=len(p.agents), agents=", ".join(p.agents))
        return text

    def analyze(self, ctx: DesignContext) -> TaskAnalysis:
        measured = self.expert.analyze(ctx)
        ans = self.ask("analyze_task", ctx, prompts.ANALYZE, AnalysisAnswer)
        if ans is None:
            return measured
        return measured.model_copy(update={"objective": ans.objective, "challenges": ans.challenges[:5]})

    def design_mdp(self, ctx: DesignContext) -> MDPDesign | None:
        p = ctx.profile
        ans = self.ask(
            "design_mdp",
            ctx,
            prompts.DESIGN_MDP.format(
                analysis=ctx.analysis.model_dump_json() if ctx.analysis else "",
                contract=self.contract(p),
                **self._common(ctx),
            ),
            MDPAnswer,
        )
        if ans is None:
            return None
        return _to_design(ans).model_copy(
            update={"history": observation_history(ctx), "env_state": design_env_state(ctx)}
        )

    def repair_mdp(self, ctx: DesignContext, design: MDPDesign, error: str) -> MDPDesign | None:
        ans = self.ask(
            "repair_mdp",
            ctx,
            prompts.REPAIR_MDP.format(error=error[-3000:], code=design.code, contract=self.contract(ctx.profile)),
            MDPAnswer,
        )
        kept = {"history": design.history, "env_state": design.env_state}
        return None if ans is None else _to_design(ans).model_copy(update=kept)

    def select_algorithm(self, ctx: DesignContext) -> AlgoConfig:
        base = self.expert.select_algorithm(ctx)
        p = ctx.profile
        allowed = allowed_algorithms(p.action.kind, p.multi_agent)
        ans = self.ask(
            "select_algorithm",
            ctx,
            prompts.SELECT_ALGORITHM.format(
                action=_action_text(p),
                obs_dim=ctx.mdp.obs_dim if ctx.mdp else p.obs_dim,
                horizon=horizon(p),
                mdp=ctx.mdp.summary if ctx.mdp else "",
                budget=base.budget_steps,
                algorithms=", ".join(allowed),
                defaults=base.model_dump_json(include={"algorithm", "hidden_sizes", "lr", "gamma", "batch_size"}),
                **self._common(ctx),
            ),
            AlgoAnswer,
        )
        return self._config_from(ans, base, p) or base

    def _config_from(self, ans: AlgoAnswer | None, base: AlgoConfig, p: EnvProfile) -> AlgoConfig | None:
        """The model's answer on top of ``base`` (or the expert's default for another algorithm);
        None when it names an algorithm this env can't use or a value out of bounds."""
        if ans is None or ans.algorithm not in allowed_algorithms(p.action.kind, p.multi_agent):
            return None
        start = (
            base
            if ans.algorithm == base.algorithm
            else self.expert.default_config(ans.algorithm, p, base.budget_steps, p.sparse_reward)
        )
        update = {k: v for k, v in ans.model_dump(exclude={"algorithm"}).items() if v is not None and v != ""}
        if update.get("activation") not in (None, "tanh", "relu"):
            update.pop("activation")
        try:
            cfg = AlgoConfig.model_validate(
                {
                    **start.model_dump(),
                    **update,
                    "budget_steps": base.budget_steps,
                    "warm_start_from": base.warm_start_from if ans.algorithm == base.algorithm else None,
                }
            )
            return finalised(cfg, p.one_per_process)
        except ValueError:
            return None

    def propose_candidates(self, ctx: DesignContext, k: int, seed: int) -> list[Candidate]:
        """Candidate 0 is the chosen design; each other one is sampled from the model (temperature
        ≥ 0.9, shown the candidates so far); an unusable answer takes the expert's variation instead."""
        fallback = super().propose_candidates(ctx, k, seed)
        mdp, base, p = ctx.mdp, ctx.algo, ctx.profile
        assert mdp is not None and base is not None
        out = fallback[:1]
        for i in range(1, k):
            so_far = "\n".join(f"{c.index}. {c.label}: {c.algo.short()}" for c in out)
            ans = self.ask(
                "propose_candidates",
                ctx,
                prompts.CANDIDATE_VARIANT.format(
                    number=i + 1,
                    k=k,
                    budget=base.budget_steps,
                    action=_action_text(p),
                    obs_dim=mdp.obs_dim,
                    horizon=horizon(p),
                    mdp=mdp.summary,
                    so_far=so_far,
                    algorithms=", ".join(allowed_algorithms(p.action.kind, p.multi_agent)),
                ),
                AlgoAnswer,
                temperature=max(0.9, self.settings.temperature),
            )
            cfg = self._config_from(ans, base, p)
            if cfg is None or any(
                cfg.model_dump(exclude={"rationale"}) == c.algo.model_dump(exclude={"rationale"}) for c in out
            ):
                out.append(fallback[i].model_copy(update={"index": i}))
                continue
            label = (ans.rationale.split(":")[0].split(";")[0].strip() if ans and ans.rationale else "")[:60]
            out.append(Candidate(index=i, label=f"model: {label or cfg.short()}", mdp=mdp, algo=cfg, seed=seed + i))
        return out

    def critique(self, ctx: DesignContext) -> Critique:
        p, tr, ev = ctx.profile, ctx.train, ctx.eval
        assert tr is not None and ev is not None
        evaluation = (
            "failed: " + (ev.error or "")[-300:]
            if ev.mean is None
            else f"{ev.mean:.1f} ± {ev.std or 0:.1f} over {ev.episodes} episodes"
        )
        ans = self.ask(
            "critic",
            ctx,
            prompts.CRITIQUE.format(
                random_return=f"{p.random_return_mean:.1f}",
                mdp=ctx.mdp.summary if ctx.mdp else "",
                algo=ctx.algo.short() if ctx.algo else "",
                stop_reason=tr.stop_reason,
                error=f" ({tr.error.strip().splitlines()[-1]})" if tr.error else "",
                curve=curve_text(ctx),
                evaluation=evaluation,
                reward_terms=reward_terms_text(tr),
                steps_left=ctx.steps_left,
                iterations_left=ctx.iterations_left,
                **self._common(ctx),
            ),
            Critique,
        )
        if ans is None:
            return self.expert.critique(ctx)
        if target_met(ev.mean, ev.std, ev.episodes, ctx.target):
            return ans.model_copy(update={"verdict": "done", "diagnosis": "solved"})
        if ans.verdict in ("done", "give_up") and ctx.target is not None and ctx.iterations_left > 0:
            second = self.expert.critique(ctx)  # a second opinion before stopping below the target
            if second.verdict not in ("done", "give_up"):
                return second.model_copy(
                    update={
                        "reason": f"model said {ans.verdict} ({ans.reason[:120]}) "
                        f"below the target; expert: {second.reason}"
                    }
                )
        return escalate(ctx, ans)  # a repeated flat failure gets a structural fix, as the expert's would


def _to_design(ans: MDPAnswer) -> MDPDesign:
    return MDPDesign(
        code=ans.code,
        obs_dim=ans.obs_dim,
        summary=ans.summary[:200] or "LLM design",
        rationale=ans.rationale,
        shaping="llm",
    )


def _answer_text(raw: Any) -> str:
    if raw is None:
        return ""
    calls = getattr(raw, "tool_calls", None)
    if calls:
        return json.dumps(calls[0].get("args", {}))
    content = getattr(raw, "content", "")
    return content if isinstance(content, str) else json.dumps(content)
