"""Scripted SMAX teams: the win rates a learned policy has to beat, with no learning at all.

    python bench/smax_scripted.py [--maps 3m 8m 2s3z] [--battles 200]

Every ally plays the same rule against SMAX's heuristic enemy (the built-in opponent of the smax_*
tasks), on ``--battles`` battles stepped together (``envs.smax.SMAXBatch``):

- ``random``: a uniformly random available action (moves, stop, attacks on enemies in range);
- ``advance, attack any``: attack a random enemy in range, otherwise move in the advance direction;
- ``advance, focus fire``: attack the enemy in range with the lowest index (so allies that see the
  same enemies shoot the same one), otherwise advance;
- ``advance, focus weakest``: attack the enemy in range with the least health, otherwise advance.

The advance direction is the one of the four moves under which ``advance, attack any`` wins most on a
separate set of battles (seeds from 0); every figure is then measured on battles from seed 10,000.
Writes bench/results/smax-scripted-<commit>.json: win rate, mean return per agent (SMAX's dense
reward, the one training sees) and mean battle length per map and rule.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import provenance, save_raw
from envs.smax import SMAXBatch

MOVES = 4  # SMAX's discrete actions: 4 moves, stop, then one attack per enemy
FIRST_ATTACK = 5
TUNE_SEED, TEST_SEED = 0, 10_000

Rule = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


def play(batch: SMAXBatch, rule: Rule, first_seed: int) -> dict[str, float]:
    """Every game of ``batch`` plays one battle with ``rule`` (obs, masks, rng → actions)."""
    games = batch.size
    obs, masks = batch.reset({i: first_seed + i for i in range(games)})
    over, won = np.zeros(games, dtype=bool), np.zeros(games, dtype=bool)
    ret, length = np.zeros((games, batch.n_agents)), np.zeros(games)
    rng = np.random.default_rng(first_seed)
    while not over.all():
        step = batch.step(rule(obs, masks, rng), ~over)
        ret[~over] += np.where(step.live, step.rew, 0.0)[~over]
        length[~over] += 1
        won |= step.infos["battle_over"] & step.infos["won"] & ~over
        over |= step.infos["battle_over"]
        obs, masks = step.obs, step.masks
    return {"win_rate": float(won.mean()), "return_per_agent": float(ret.mean()), "length": float(length.mean())}


def rules(batch: SMAXBatch, advance: int) -> dict[str, Rule]:
    enemies = batch.n_actions - FIRST_ATTACK
    unit = (batch.obs_dim - own_features(batch)) // (batch.n_agents - 1 + enemies)
    start = (batch.n_agents - 1) * unit  # the enemy blocks follow the other allies'; health leads a block

    def attack_or_advance(choose: Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]) -> Rule:
        def rule(obs: np.ndarray, masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            in_range = masks[..., FIRST_ATTACK:].astype(bool)
            target = FIRST_ATTACK + choose(obs, in_range, rng)
            return np.where(in_range.any(-1), target, advance)

        return rule

    def any_enemy(obs, in_range, rng):
        return (in_range * rng.random(in_range.shape)).argmax(-1)

    def lowest_index(obs, in_range, rng):
        return in_range.argmax(-1)

    def weakest(obs, in_range, rng):
        health = obs[..., start : start + enemies * unit].reshape(*in_range.shape, unit)[..., 0]
        return np.where(in_range, health + 1e-6 * np.arange(enemies), np.inf).argmin(-1)

    def uniform(obs, masks, rng):
        p = masks / masks.sum(-1, keepdims=True)
        return (p.cumsum(-1) > rng.random(p.shape[:-1] + (1,))).argmax(-1)

    return {
        "random": uniform,
        "advance, attack any": attack_or_advance(any_enemy),
        "advance, focus fire": attack_or_advance(lowest_index),
        "advance, focus weakest": attack_or_advance(weakest),
    }


def own_features(batch: SMAXBatch) -> int:
    """SMAX's own-unit block (health, x, y, cooldown, unit-type bits) closes each observation."""
    return 4 + int(batch.env.unit_type_bits)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--maps", nargs="+", default=["3m", "8m", "2s3z"])
    ap.add_argument("--battles", type=int, default=200)
    args = ap.parse_args()
    prov, out = provenance(), {}
    for name in args.maps:
        batch = SMAXBatch(name, 100, args.battles)
        tried = {m: play(batch, rules(batch, m)["advance, attack any"], TUNE_SEED)["win_rate"] for m in range(MOVES)}
        advance = max(tried, key=tried.get)
        out[name] = {"advance_move": advance, "advance_tuning": tried, "rules": {}}
        for rule_name, rule in rules(batch, advance).items():
            out[name]["rules"][rule_name] = row = play(batch, rule, TEST_SEED)
            print(
                f"{name} {rule_name}: win rate {row['win_rate']:.3f}, return per agent "
                f"{row['return_per_agent']:.3f}, battle length {row['length']:.1f}",
                flush=True,
            )
    save_raw("smax-scripted", prov, {"battles": args.battles, "maps": out})


if __name__ == "__main__":
    main()
