"""Typed artefacts that flow through the generator loop, defined once.

The graph state (``nodes/state.py``) holds these; the tools and the training worker read and
write them as JSON, so every field is JSON-serialisable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.run_rules import (
    DEFAULT_EVAL_EPISODES,
    DEFAULT_MAX_ITERATIONS,
    MAX_EVAL_EPISODES,
    MAX_ITERATIONS,
    MAX_SEED,
    RunStatus,
)

AlgorithmName = Literal["PPO", "A2C", "DQN", "SAC", "TD3", "MAPPO", "IPPO"]
DISCRETE_ALGORITHMS: tuple[str, ...] = ("PPO", "A2C", "DQN")
CONTINUOUS_ALGORITHMS: tuple[str, ...] = ("SAC", "TD3", "PPO", "A2C")
MULTI_AGENT_ALGORITHMS: tuple[str, ...] = ("MAPPO", "PPO", "IPPO")
"""Multi-agent: MAPPO (shared actor, centralised critic on every agent's observation), PPO (one
network shared by all agents, each critic on its own observation) and IPPO (independent networks)."""


def allowed_algorithms(action_kind: str, multi_agent: bool) -> tuple[str, ...]:
    """The catalog entries that can train on an env with these actions and agents."""
    if multi_agent:
        return MULTI_AGENT_ALGORITHMS
    return DISCRETE_ALGORITHMS if action_kind == "discrete" else CONTINUOUS_ALGORITHMS


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_HISTORY = 16


class TaskSpec(_Model):
    """What the user asked for."""

    text: str = Field(description="The task in the user's words.")
    env: str = Field(description="Env reference: built-in name, Gymnasium id or path/to/file.py:Factory.")
    target: float | None = Field(None, description="Mean evaluation return that counts as solved.")
    budget_steps: int = Field(gt=0, description="Env steps for the whole run, all iterations together.")
    max_iterations: int = Field(DEFAULT_MAX_ITERATIONS, gt=0, le=MAX_ITERATIONS, description="Most loop passes.")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    eval_episodes: int = Field(DEFAULT_EVAL_EPISODES, gt=0, le=MAX_EVAL_EPISODES)


class SpaceInfo(_Model):
    kind: Literal["discrete", "continuous"]
    n: int | None = None
    """Number of discrete actions."""
    shape: list[int] = Field(default_factory=list)
    low: list[float] | None = None
    high: list[float] | None = None


class ImageSlice(_Model):
    """An image inside the flat observation vector: ``height × width × channels`` values from ``offset``."""

    offset: int = Field(ge=0)
    height: int = Field(gt=0)
    width: int = Field(gt=0)
    channels: int = Field(gt=0)
    channels_first: bool = False
    """The image's values are in C×H×W order (else H×W×C)."""

    @property
    def size(self) -> int:
        return self.height * self.width * self.channels


class GoalSlices(_Model):
    """A goal-conditioned observation (a Dict of ``observation``, ``achieved_goal`` and ``desired_goal``,
    and an env ``compute_reward``): where the two goals lie in the flat observation."""

    achieved_offset: int = Field(ge=0)
    desired_offset: int = Field(ge=0)
    size: int = Field(gt=0)


class EnvProfile(_Model):
    """Measured facts about an env (from tools, not from a designer)."""

    env: str
    raw_observation_space: str
    observation_encoding: str = Field(
        "",
        description="How each part of the raw observation reaches the learner, in one line: encoded (how) or dropped.",
    )
    raw_action_space: str
    obs_dim: int
    images: list[ImageSlice] = Field(default_factory=list)
    """Images inside the flat observation (measured from the observation space)."""
    goal: GoalSlices | None = None
    """Set for a goal-conditioned env (measured from its space and its ``compute_reward``)."""
    obs_low: list[float]
    obs_high: list[float]
    obs_mean: list[float]
    obs_std: list[float]
    action: SpaceInfo
    max_episode_steps: int | None
    reward_threshold: float | None
    random_return_mean: float
    random_return_std: float
    random_return_max: float
    random_episode_length: float
    reward_step_mean: float
    reward_step_std: float
    reward_nonzero_fraction: float
    reward_distinct_values: int
    reward_min: float
    reward_max: float
    reward_abs_median: float = 0.0
    """The median per-step |reward| of random play: what a typical step is worth."""
    distinct_observations: float = 1.0
    """Distinct observations per step of random play: low when it keeps revisiting the same few
    (a countable state space, such as a one-hot Discrete state), about 1 for continuous states."""
    sparse_reward: bool
    """Random play almost never sees a reward that differs from the usual per-step value."""
    episodes_profiled: int
    steps_per_second: float
    source: str = ""
    one_per_process: bool = False
    """Only one instance fits in a process (MetaDrive): every env is a process of its own."""
    agents: list[str] = Field(default_factory=list)
    """Agent ids of a multi-agent env (empty for a single-agent env); the other fields then
    describe one agent's view (its observation, action and reward) with the others acting at random."""
    state_dim: int = 0
    """The size of a multi-agent env's own global state (PettingZoo's ``state_space``), 0 when it
    declares none."""
    joint_obs_dim: int = 0
    """Every agent's (flat, unpadded) observation side by side: what a centralised critic reads when
    it does not read the env's state."""

    @property
    def multi_agent(self) -> bool:
        return len(self.agents) > 1


class TaskAnalysis(_Model):
    objective: str
    agents: Literal["single", "multi"] = "single"
    action_type: Literal["discrete", "continuous"]
    horizon: int
    reward_sparse: bool
    reward_scale: float
    challenges: list[str] = Field(default_factory=list, max_length=5)


class MDPDesign(_Model):
    """Generated MDP code and declared spaces. The code defines three functions:

    ``observation(obs) -> np.ndarray``, ``action(act) -> act`` and
    ``reward(obs, action, next_obs, reward, info) -> float`` (``info`` carries ``terminated``
    and ``truncated``). It may define ``OBS_DIM`` and import numpy and math only.
    """

    code: str
    obs_dim: int = Field(gt=0)
    normalize_obs: bool = False
    history: int = Field(
        1,
        ge=1,
        le=MAX_HISTORY,
        description="Observation history: the learner sees the last "
        "``history`` observations, concatenated (frame stack).",
    )
    images: list[ImageSlice] = Field(default_factory=list)
    """Images inside observation()'s output (the expert's element-wise designs keep the env's layout);
    an ``AlgoConfig`` with ``encoder="cnn"`` reads them with convolutions."""
    goal: GoalSlices | None = None
    """The goals inside observation()'s output, for hindsight relabelling (``AlgoConfig.her_future_k``)."""
    env_state: bool = Field(
        False,
        description="Multi-agent: the centralised critic reads the env's own global state (PettingZoo's "
        "state()) instead of every agent's observation side by side.",
    )
    shaping: str | None = None
    summary: str
    rationale: str = ""

    @property
    def input_dim(self) -> int:
        """Length of what the network reads: ``obs_dim`` per remembered observation."""
        return self.obs_dim * self.history


class AlgoConfig(_Model):
    """One Tianshou 2.x algorithm with network and hyper-parameters."""

    algorithm: AlgorithmName
    hidden_sizes: list[int] = Field(default_factory=lambda: [64, 64], min_length=1, max_length=4)
    activation: Literal["tanh", "relu"] = "tanh"
    layer_norm: bool = Field(False, description="Layer normalisation after each hidden layer.")
    encoder: Literal["mlp", "cnn", "gru", "lstm"] = Field(
        "mlp",
        description="cnn: convolutions over the MDP's images, sized from their shape, before the hidden "
        "layers; gru / lstm: a recurrent layer over the MDP's observation history (its last "
        "``history`` observations, in order) before the hidden layers.",
    )
    lr: float = Field(3e-4, gt=0, lt=1)
    gamma: float = Field(0.99, gt=0, le=1)
    n_train_envs: int = Field(8, ge=1, le=64)
    n_test_envs: int = Field(10, ge=1, le=100)
    test_episodes: int = Field(10, ge=1, le=200)
    batch_size: int = Field(64, ge=1)
    budget_steps: int = Field(100_000, gt=0, description="Env steps for this iteration.")
    epoch_steps: int = Field(5_000, gt=0, description="Steps between tests and checkpoints.")
    warm_start_from: str | None = Field(None, description="Iteration folder whose last checkpoint to continue from.")
    # on-policy (PPO, A2C)
    collect_steps: int = Field(2048, ge=1, description="Env steps per collection (all envs together).")
    repeat: int = Field(10, ge=1, le=100, description="Passes over each collection (PPO epochs).")
    gae_lambda: float = Field(0.95, ge=0, le=1)
    ent_coef: float = Field(0.0, ge=0, le=1)
    vf_coef: float = Field(0.5, ge=0)
    eps_clip: float = Field(0.2, gt=0, le=1)
    max_grad_norm: float = Field(0.5, gt=0)
    lr_decay: bool = False
    advantage_normalization: bool = True
    return_scaling: bool = False
    novelty_bonus: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Count-based exploration: training reward + "
        "novelty_bonus / sqrt(visits of the observation reached), for observations that "
        "repeat exactly (discrete states); 0: off.",
    )
    # off-policy (DQN, SAC, TD3)
    buffer_size: int = Field(100_000, ge=100)
    start_steps: int = Field(1_000, ge=0, description="Random-action steps before learning.")
    update_per_step: float = Field(1.0, gt=0, le=32)
    n_step: int = Field(1, ge=1, le=20)
    tau: float = Field(0.005, gt=0, le=1)
    target_update_freq: int = Field(500, ge=0)
    eps_start: float = Field(1.0, ge=0, le=1)
    eps_final: float = Field(0.05, ge=0, le=1)
    eps_decay_fraction: float = Field(0.2, gt=0, le=1)
    her_future_k: float = Field(
        0.0,
        ge=0,
        le=16,
        description="Hindsight experience replay (future strategy): "
        "about k relabelled episodes per original one; 0 is off. Needs the MDP's goal.",
    )
    alpha: float | Literal["auto"] = "auto"
    exploration_noise: float = Field(0.1, ge=0, le=5)
    policy_noise: float = Field(0.2, ge=0, le=5)
    noise_clip: float = Field(0.5, ge=0, le=5)
    update_actor_freq: int = Field(2, ge=1)
    rationale: str = ""

    @field_validator("hidden_sizes")
    @classmethod
    def _sizes_positive(cls, v: list[int]) -> list[int]:
        if any(h < 1 or h > 4096 for h in v):
            raise ValueError(f"hidden sizes must be in 1..4096, got {v}")
        return v

    @property
    def on_policy(self) -> bool:
        return self.algorithm in ("PPO", "A2C", "MAPPO", "IPPO")

    def short(self) -> str:
        return f"{self.algorithm} {self.hidden_sizes} lr={self.lr:g} γ={self.gamma:g}"

    @staticmethod
    def unused_fields(algorithm: str) -> set[str]:
        """Fields ``algorithm`` ignores (the other family's hyper-parameters)."""
        names = list(AlgoConfig.model_fields)
        on = names[names.index("collect_steps") : names.index("buffer_size")]
        off = names[names.index("buffer_size") : names.index("rationale")]
        return set(off if algorithm in ("PPO", "A2C", "MAPPO", "IPPO") else on)


class TrainJob(_Model):
    """Everything the training worker needs; written as ``job.json`` in the iteration folder."""

    env: str
    mdp: MDPDesign
    algo: AlgoConfig
    seed: int = 0
    target: float | None = None


class CurvePoint(_Model):
    env_step: int
    mean: float
    std: float
    wall: float
    untrained: bool = False
    """The test of the policy before its first update (an iteration that starts from scratch): a
    baseline, not a peak of learning. Where doing nothing pays (an Ant that stands still earns its
    healthy reward), it can score above every trained test for a long time."""


StopReason = Literal["target", "budget", "plateau", "divergence", "crash", "dead_units"]
"""Why training ended; ``dead_units``: the acting network's ReLU units died (``tools.dead_units``)."""


class RewardTermStats(_Model):
    """One named term of a reward() that returns its components, over training's episodes."""

    episode_mean: float
    episode_std: float
    nonzero_fraction: float
    """Share of steps where the term was not 0 (0: it never fired)."""
    share: float
    """|episode mean| over the sum of every term's |episode mean| (near 1: it dominates)."""


class TrainResult(_Model):
    env_steps: int
    """Env steps used by this iteration (training collection only)."""
    best_test_mean: float | None
    stop_reason: StopReason
    curve: list[CurvePoint] = Field(default_factory=list)
    wall_seconds: float = 0.0
    time_collect: float = 0.0
    time_update: float = 0.0
    time_test: float = 0.0
    resumed_at_step: int = 0
    error: str | None = None
    peak_rss_mb: float | None = None
    """Peak resident memory of the (last) training worker process."""
    reward_terms: dict[str, RewardTermStats] = Field(default_factory=dict)
    """Statistics of each named reward term (when reward() returns a dict), for the critic."""
    alive_share: float | None = None
    """The acting network's smallest share of live ReLU units at the last test (None: not measured)."""
    device: str = "cpu"
    """Where the networks trained (``tools.devices``): cpu or cuda."""
    iter_dir: str

    @classmethod
    def crashed(cls, iter_dir: str, error: str, env_steps: int = 0, wall_seconds: float = 0.0) -> TrainResult:
        """Training that produced no result (the one way every failure is built)."""
        return cls(
            env_steps=env_steps,
            best_test_mean=None,
            stop_reason="crash",
            error=error,
            iter_dir=iter_dir,
            wall_seconds=wall_seconds,
        )


class EvalResult(_Model):
    mean: float | None
    """None when evaluation failed (see ``error``). Multi-agent: the mean over agents and episodes
    of each agent's return (a per-agent figure, not a team sum)."""
    std: float | None
    episodes: int
    returns: list[float]
    """One per episode, or one per agent and episode for a multi-agent env."""
    agents: int = 1
    metrics: dict[str, float] = Field(default_factory=dict)
    """Means of the env's episode-end measures (MetaDrive: ``arrive_dest`` success rate,
    ``route_completion``)."""
    mean_length: float
    lengths: list[float] = Field(default_factory=list)
    """The length of each entry of ``returns`` (empty in records older than this field)."""
    ci_low: float | None = None
    ci_high: float | None = None
    """95% confidence interval of ``mean`` (Student t over the episodes' returns)."""
    wall_seconds: float = 0.0
    error: str | None = None
    seed: int | None = None
    """Seed of the first env (env i plays seed + i); None in records older than this field."""

    @classmethod
    def failed(cls, error: str) -> EvalResult:
        """An evaluation with no score (the one way every failure is built)."""
        return cls(mean=None, std=None, episodes=0, returns=[], mean_length=0.0, error=error)


Verdict = Literal["done", "revise_mdp", "revise_algo", "give_up"]


Diagnosis = Literal[
    "solved",
    "no_progress",
    "still_improving",
    "plateau",
    "unstable",
    "diverged",
    "crashed",
    "dead_units",
    "budget_spent",
    "screened",
    "other",
]


class MDPChanges(_Model):
    """What to change in the MDP design for the next pass (None: keep)."""

    shaping: Literal["none", "potential"] | None = None
    shaping_scale: float | None = Field(None, ge=0, le=1000)
    normalize_obs: bool | None = None
    history: int | None = Field(None, ge=1, le=MAX_HISTORY, description="Observations remembered (frame stack).")
    sanitize_reward: bool | None = None
    """Replace non-finite rewards with 0 and clip the rest (after a NaN/inf reward stopped training)."""


class Critique(_Model):
    verdict: Verdict
    diagnosis: Diagnosis
    reason: str
    changes: list[str] = Field(default_factory=list, max_length=8)
    """The changes in words, for people and reports."""
    next_algorithm: AlgorithmName | None = None
    algo_changes: dict[str, float | int | bool | str | list[int]] = Field(default_factory=dict)
    """Hyper-parameter updates (``AlgoConfig`` field names) for the next pass."""
    mdp_changes: MDPChanges = Field(default_factory=MDPChanges)
    warm_start: bool = False
    """Continue training from this iteration's weights instead of starting over."""
    screen: bool = False
    """Screen diverse designs side by side on a share of the budget left, then continue the best."""


FixKind = Literal[
    "none", "hyperparameters", "continue", "repair", "exploration", "algorithm", "representation", "reward", "screen"
]
STRUCTURAL_FIXES: tuple[str, ...] = ("exploration", "algorithm", "representation", "reward", "screen")
"""Fixes that change the design, not only its numbers."""


class Candidate(_Model):
    """One of an iteration's K designs, trained on a branch of its own (``Send`` fan-out)."""

    index: int = Field(ge=0, description="0 is the design the designer chose; 1.. are its variations")
    label: str = Field(description="What differs from candidate 0, e.g. 'lr ×3'")
    mdp: MDPDesign
    algo: AlgoConfig
    seed: int


class CandidateResult(_Model):
    """A candidate's training and evaluation, as its branch hands them to the fan-in."""

    iteration: int
    candidate: Candidate
    train: TrainResult
    eval: EvalResult
    executor: str = "local"
    started: float = 0.0
    finished: float = 0.0
    """Wall-clock span of the branch (``time.time()``): the fan-in counts the union of the spans."""


class CandidateRank(_Model):
    """A candidate's place in its iteration's ranking (on the original metric), kept in the report."""

    index: int
    label: str
    algorithm: str
    eval_mean: float | None
    eval_std: float | None
    env_steps: int
    stop_reason: StopReason
    iter_dir: str
    executor: str = "local"
    note: str = Field(description="Why it won, or why it lost to the winner")


class IterationRecord(_Model):
    iteration: int
    mdp_summary: str
    mdp_code: str
    algo: AlgoConfig
    env_steps: int
    train_best: float | None
    stop_reason: StopReason
    eval_mean: float | None
    eval_std: float | None
    eval_episodes: int
    eval_metrics: dict[str, float] = Field(default_factory=dict)
    eval_agents: int = 1
    verdict: Verdict
    diagnosis: str
    reason: str
    changes: list[str] = Field(default_factory=list)
    reward_terms: dict[str, RewardTermStats] = Field(default_factory=dict)
    fix_kind: FixKind = "none"
    """What kind of change the verdict made (``nodes/designers/escalation.py`` classifies it)."""
    eval_ci: list[float] | None = None
    """95% confidence interval of ``eval_mean`` ([low, high])."""
    iter_dir: str
    wall_seconds: float
    candidates: list[CandidateRank] = Field(default_factory=list)
    """The iteration's K candidates, best first (empty for a one-candidate iteration)."""


ReviewStage = Literal["mdp", "algorithm"]


class ReviewAnswer(_Model):
    """A human's answer to a review: ``Command(resume=...)`` on the server, flags or a prompt in the CLI.

    ``approve`` keeps the proposal; ``edit`` changes some of its fields (``MDPDesign`` fields for
    the MDP, e.g. ``code``; ``AlgoConfig`` fields for the algorithm, e.g. ``lr``), and the edited
    proposal is checked like a designer's; ``reject`` asks the designer for another proposal,
    with the feedback.
    """

    action: Literal["approve", "edit", "reject"]
    changes: dict[str, object] = Field(default_factory=dict)
    feedback: str = ""


class ReviewNote(_Model):
    """A rejection the designer's next proposal must answer."""

    stage: ReviewStage
    rejected: str
    """The rejected proposal in one line."""
    feedback: str = ""


class ReviewRecord(_Model):
    iteration: int
    stage: ReviewStage
    action: Literal["approve", "edit", "reject"]
    proposal: str
    """The proposal in one line, as it stood when answered."""
    changes: dict[str, object] = Field(default_factory=dict)
    feedback: str = ""


class BestIteration(_Model):
    iteration: int
    algorithm: str
    eval_mean: float
    eval_std: float | None
    eval_ci95: list[float] | None = None
    eval_episodes: int
    eval_metrics: dict[str, float] = Field(default_factory=dict)
    agents: int = 1
    compared: int = 1
    """Evaluated policies (iterations and candidates) this one was chosen from."""
    selection_mean: float | None = None
    """With ``compared`` > 1: the evaluation that chose it, the highest of several noisy scores and so
    biased upward. The ``eval_*`` fields then come from its confirmation: the same policy evaluated
    again on seeds no earlier evaluation used."""
    confirmation_error: str | None = None
    """Why that second evaluation failed (the ``eval_*`` fields are then the choosing one's)."""


class RunSummary(_Model):
    """A finished run in brief (``result.json`` adds every iteration)."""

    thread_id: str
    task: str
    env: str
    status: RunStatus
    target: float | None
    designer: str
    metric: str
    best: BestIteration | None
    env_steps_total: int
    budget_steps: int
    wall_seconds: float
    agent_dir: str | None
    report: str | None = None
    """Path of the Markdown report."""
