"""Prompt templates of the LLM designer, each a named constant (``str.format`` placeholders)."""

SYSTEM = """You are Agent², an expert reinforcement-learning engineer. You turn a task and an \
environment into a trained agent: you analyse the task, design the MDP (observation transform, \
action transform, shaped reward) as Python code, choose a Tianshou 2.x algorithm with its \
network and hyper-parameters, and read training reports to improve your design. Scores are always \
measured on the environment's ORIGINAL reward; a shaped reward only helps training. Answer only \
with the requested structure."""

CONTEXT = """Task (the user's words): {task}
Target: {target} (mean evaluation return on the original reward)

{env_facts}"""
"""The start of every request's user message, the same in every call of a run: a server that caches
prompt prefixes (llama.cpp, OpenAI-style endpoints) reads the long part (the env's source) once."""

ANALYZE = """Analyse the reinforcement-learning task above.

Give the objective in one sentence and the two or three key challenges (sparse or deceptive \
reward, long horizon, observation scales, exploration, ...)."""

MDP_CONTRACT = """The MDP module must define exactly these top-level functions and may import only \
numpy (as np) and math:

    def observation(obs):            # obs: flat float32 numpy array of length {obs_dim}
        return ...                   # a flat array of length OBS_DIM (declare it as obs_dim)
    def action(act):                 # act: what the learner outputs ({action})
        return ...                   # what the environment's step() takes
    def reward(obs, action, next_obs, reward, info):
        return ...                   # a finite float, or a dict of named float terms that are summed
                                     # (each term's statistics are reported back); info has
                                     # 'terminated' and 'truncated'

reward() receives the RAW observations (before observation()) and the env's own reward. Prefer \
potential-based shaping (gamma * phi(next_obs) - phi(obs), phi = 0 when info['terminated']) so \
the optimal policy is unchanged. No file, network or process access."""

MDP_CONTRACT_AGENTS = """This env has {n} agents ({agents}) acting at once. The three functions \
apply to every agent separately: observation() gets one agent's raw observation, action() one \
agent's action, reward() one agent's transition and the env's reward for that agent; its info also \
has 'agent' (the id), 'agent_index' and 'team_reward' (the mean reward of all agents this step): \
return info['team_reward'] for a fully shared reward. Scores are each agent's original return, \
averaged over agents."""

DESIGN_MDP = """Design the MDP for this task (iteration {iteration}).

Analysis: {analysis}

{contract}

Earlier iterations:
{history}

Critic's diagnosis of the last iteration: {critique}

Return the complete module as `code`, the length of observation()'s output as `obs_dim`, a \
one-line `summary` and your `rationale`."""

REPAIR_MDP = """Your MDP module failed validation. Fix it.

Error:
{error}

Your module:
```python
{code}
```

{contract}

Return the complete corrected module."""

SELECT_ALGORITHM = """Choose the algorithm, network and hyper-parameters (iteration {iteration}).

Action space: {action}; observation length after the MDP: {obs_dim}; episode horizon: {horizon}
MDP design: {mdp}
Env steps for this iteration: {budget}

Candidate algorithms (Tianshou 2.x): {algorithms}.
On-policy (PPO, A2C) use collect_steps, repeat, batch_size, gae_lambda, ent_coef; off-policy \
(DQN, SAC, TD3) use buffer_size, start_steps, batch_size, exploration_noise. Multi-agent (all PPO \
underneath): MAPPO = one actor shared by the agents and a critic that sees every agent's \
observation, PPO = one network shared, IPPO = independent networks. Networks: hidden_sizes, \
activation, layer_norm, and encoder: mlp, cnn (convolutions over the images the observation holds) \
or gru / lstm (a recurrent layer over the MDP's observation history; useful when it remembers \
more than one observation). Leave a field out to keep the expert default ({defaults}). When \
tuning after an earlier iteration, change at most five parameters, each by less than 30%, learning rate first.

Earlier iterations:
{history}

Critic's diagnosis of the last iteration: {critique}"""

CANDIDATE_VARIANT = """Propose candidate {number} of {k} for this iteration: another algorithm \
configuration that will train side by side with the ones below, each on {budget} env steps; \
the best on the task's original metric is kept.

Action space: {action}; observation length after the MDP: {obs_dim}; episode horizon: {horizon}
MDP design: {mdp}
Candidate algorithms (Tianshou 2.x): {algorithms}.

Candidates so far:
{so_far}

Make this one differ from every candidate above in at least one decision that matters (learning \
rate, network, discount, exploration, or another algorithm), for a reason you can state in the \
rationale, whose first clause is a short label (e.g. "lr x3: ..."). Keep the compute per env step \
about the same. Leave a field out to keep the first candidate's value."""

CRITIQUE = """Judge this training iteration and decide what to change.

Random-policy return: {random_return}
MDP: {mdp}
Algorithm: {algo}
Training stop reason: {stop_reason}{error}
Test returns over training (env step: mean ± std, original reward):
{curve}
Final evaluation: {evaluation}
Reward terms over training (when reward() returns named terms):
{reward_terms}
Env steps left: {steps_left}; iterations left: {iterations_left}

Earlier iterations:
{history}

verdict: done (target met or nothing left to try), revise_mdp (the reward or observation design is \
the problem), revise_algo (the algorithm or its hyper-parameters are), give_up. For revise_algo, \
put hyper-parameter changes in algo_changes (field name -> new value), a new algorithm in \
next_algorithm, and set warm_start to continue from this iteration's weights. diagnosis: \
no_progress or plateau when the test score is flat below the target; dead_units when training \
stopped because the acting network's ReLU units died (its action no longer depends on the \
observation; it cannot recover): standardise the observations (mdp_changes.normalize_obs) or \
change the algorithm or its activation ("tanh") and start over, never warm_start. A flat result after a \
hyper-parameter-only fix needs a structural change: exploration (ent_coef, eps_*, \
exploration_noise, or novelty_bonus: a count bonus for states that repeat exactly), another \
algorithm, the representation (mdp_changes.history: remember the last N observations; \
algo_changes encoder "gru" or "lstm" to read them with a recurrent layer; layer_norm) or the \
reward (mdp_changes.shaping "potential"); never the same kind of fix as the last one (see "fix kind" above). Set screen to try several diverse designs side by \
side on a share of the budget left when you have no confident fix."""

REVIEW_REJECTED = """A human reviewer REJECTED your last {stage} proposal ({rejected}). Their \
feedback: {feedback}. Propose something different that answers it."""

ENV_FACTS = """Measured by running a random policy:
{profile}

Environment source code (trimmed):
```python
{source}
```"""

INVALID_ANSWER = """Your answer did not match the required structure:
{error}
Answer again with the complete structure."""
