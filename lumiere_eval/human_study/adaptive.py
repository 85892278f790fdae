"""Adaptive rounds: which model pairs to ask about next, when to stop, and what the next round costs.

After each round the votes are refitted (`leaderboard.fit`). The next round's pairs are chosen greedily to
shrink the uncertainty of the differences between neighbours in the current ranking (an A-optimal design on
the adjacent contrasts): a vote on (a, b) adds w_ab (e_a - e_b)(e_a - e_b)^T to the Fisher information,
w_ab being the information one vote carries about theta_a - theta_b, largest for close models. Neighbours
already separated count 20 times less, so votes go where the order is still open: close or uncertain pairs.
Stop when every adjacent pair is separated at the chosen level or the ranking has not changed for the last
`patience` rounds.
"""
from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal

import numpy as np

from lumiere_eval.human_study.leaderboard import Fit, PairedVotes, concat_votes, fit

SEPARATED_WEIGHT = 0.05
RIDGE = 1e-3  # a weak N(0, 1000) prior, so a model not compared yet has a large but finite variance


def vote_information(result: Fit, a: int, b: int) -> float:
    """Fisher information of one vote on (a, b) about theta_a - theta_b (p(1 - p) without ties)."""
    p_win, p_tie = result.win_probability(), result.tie_probability()
    qa, qt = p_win[a, b], p_tie[a, b]
    # the vote's score in theta_a is (outcome share of a) - E[...]: a win counts 1, a tie 1/2
    mean = qa + 0.5 * qt
    return float(qa + 0.25 * qt - mean ** 2)


def _covariance(result: Fit, n: int) -> np.ndarray:
    hessian = result.hessian.copy()
    hessian[:n, :n] += RIDGE * np.eye(n)
    return np.linalg.inv(hessian)[:n, :n]


def adjacent_separation(result: Fit, z: float = 1.96) -> list[tuple[int, int, bool]]:
    """Neighbours in the fitted ranking, each with whether |difference| / standard error >= z (Wald)."""
    n = len(result.log_strength)
    cov = _covariance(result, n)
    order = np.argsort(-result.log_strength, kind="stable")
    out = []
    for upper, lower in zip(order[:-1], order[1:]):
        c = np.zeros(n)
        c[upper], c[lower] = 1.0, -1.0
        se = float(np.sqrt(max(c @ cov @ c, 1e-300)))
        out.append((int(upper), int(lower), abs(float(c @ result.log_strength)) / se >= z))
    return out


def propose_pairs(result: Fit, units: int, raters: int = 1, z: float = 1.96) -> list[tuple[int, int]]:
    """`units` model pairs (a, b), each to be shown to `raters` people, chosen greedily to shrink the variance
    of the adjacent differences still open (separated ones weigh SEPARATED_WEIGHT)."""
    n = len(result.log_strength)
    cov = _covariance(result, n)
    contrasts, weights = [], []
    for upper, lower, separated in adjacent_separation(result, z):
        c = np.zeros(n)
        c[upper], c[lower] = 1.0, -1.0
        contrasts.append(c)
        weights.append(SEPARATED_WEIGHT if separated else 1.0)
    contrasts, weights = np.asarray(contrasts), np.asarray(weights)
    candidates = list(itertools.combinations(range(n), 2))
    info = {pair: raters * max(vote_information(result, *pair), 1e-6) for pair in candidates}
    chosen = []
    for _ in range(units):
        best, best_gain, best_d = None, -1.0, None
        for pair in candidates:
            d = np.zeros(n)
            d[pair[0]], d[pair[1]] = 1.0, -1.0
            sd = cov @ d
            gain = info[pair] * float(weights @ (contrasts @ sd) ** 2) / (1.0 + info[pair] * float(d @ sd))
            if gain > best_gain:
                best, best_gain, best_d = pair, gain, d
        sd = cov @ best_d   # Sherman-Morrison: the information of this unit is now counted
        cov = cov - info[best] * np.outer(sd, sd) / (1.0 + info[best] * float(best_d @ sd))
        chosen.append(best)
    return chosen


def assign_prompts(pairs: list[tuple[int, int]], prompts: int, used: Counter, rng: np.random.Generator
                   ) -> list[tuple[int, int, int]]:
    """(prompt, a, b) units: each pair goes to the prompt it was asked on least (`used[(prompt, a, b)]` counts
    earlier units, either order), ties broken at random; `used` is updated."""
    units = []
    for a, b in pairs:
        load = np.array([used[(p, min(a, b), max(a, b))] for p in range(prompts)], dtype=np.float64)
        least = np.flatnonzero(load == load.min())
        p = int(least[rng.integers(0, len(least))])
        used[(p, min(a, b), max(a, b))] += 1
        units.append((p, a, b))
    return units


def balanced_pairs(n: int, units: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """`units` pairs spread evenly over all model pairs (the first round, when nothing is known yet)."""
    pairs = list(itertools.combinations(range(n), 2))
    order = rng.permutation(len(pairs))  # which pairs get the remainder is drawn
    return [pairs[order[k % len(pairs)]] for k in range(units)]


def stop_decision(rankings: list[list[str]], probability_above: np.ndarray, models: list[str],
                  level: float = 0.95, patience: int = 3) -> dict:
    """Whether to stop: every adjacent pair of the latest ranking has P(upper above lower) >= `level` over the
    bootstrap, or the ranking is the same in the last `patience` rounds (counting the latest)."""
    ranking = rankings[-1]
    index = {m: k for k, m in enumerate(models)}
    adjacent = [{"upper": u, "lower": lo, "probability_above": float(probability_above[index[u], index[lo]])}
                for u, lo in zip(ranking[:-1], ranking[1:])]
    separated = all(a["probability_above"] >= level for a in adjacent)
    stable = len(rankings) >= patience and all(r == ranking for r in rankings[-patience:])
    reason = ("every adjacent pair separated" if separated else
              f"ranking unchanged over the last {patience} rounds" if stable else "")
    return {"stop": separated or stable, "reason": reason, "adjacent": adjacent, "level": level,
            "patience": patience, "rounds": len(rankings)}


def round_cost(hits: list[dict], reward: str) -> dict:
    """The USD cost of publishing `hits`: rewards plus MTurk's fees (20%, min $0.01 per assignment, 20% more
    for HITs with 10 or more assignments); see `mturk.estimate_cost`."""
    from lumiere_eval.human_study.mturk import HitSettings, estimate_cost

    return estimate_cost(hits, HitSettings(reward=reward).reward_decimal())


def _kendall_tau(estimate: np.ndarray, truth: np.ndarray) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(estimate, truth).statistic)


def simulate_rounds(population, strategy: str, rounds: int, units_per_round: int, raters: int = 3,
                    prior: float = 0.5, seed: int = 0) -> list[dict]:
    """Rounds of a study answered by a `simulate.VotePopulation`; strategy "random" draws each unit's model pair
    and prompt at random, "adaptive" starts balanced and then follows `propose_pairs`. Per round: votes so far
    and Kendall's tau between the fitted and the true strengths (1 = the true order)."""
    if strategy not in ("random", "adaptive"):
        raise ValueError(f"strategy must be 'random' or 'adaptive', got {strategy!r}")
    rng = np.random.default_rng(seed)
    n = len(population.log_strength)
    all_pairs = list(itertools.combinations(range(n), 2))
    used: Counter = Counter()
    collected: list[PairedVotes] = []
    history = []
    result = None
    for number in range(rounds):
        if strategy == "random":
            units = [(int(rng.integers(0, population.num_prompts)),) + all_pairs[int(rng.integers(0, len(all_pairs)))]
                     for _ in range(units_per_round)]
        else:
            pairs = (balanced_pairs(n, units_per_round, rng) if result is None
                     else propose_pairs(result, units_per_round, raters))
            units = assign_prompts(pairs, population.num_prompts, used, rng)
        collected.append(population.answer(units, raters))
        votes = concat_votes(collected)
        wins, ties = votes.counts()
        result = fit(wins, ties, prior, ties_model=population.nu > 0 and ties.sum() > 0)
        history.append({"round": number + 1, "votes": int(len(votes.first)),
                        "kendall_tau": _kendall_tau(result.log_strength, population.log_strength)})
    return history


def votes_to_reach(curves: list[list[dict]], target: float) -> int | None:
    """The fewest votes at which the mean Kendall tau over simulated studies reaches `target` (None: never)."""
    for k in range(len(curves[0])):
        if np.mean([c[k]["kendall_tau"] for c in curves]) >= target:
            return int(curves[0][k]["votes"])
    return None


def cost_of_votes(votes: int, raters: int, reward: str) -> Decimal:
    """USD for `votes` comparison votes in HITs of `raters` assignments (fees included)."""
    return Decimal(round_cost([{"max_assignments": raters}] * (votes // raters), reward)["total"])


def study_units(study: dict, model_pairs: list[tuple[str, str]], rng: np.random.Generator
                ) -> list[tuple[str, int, str, str]]:
    """(prompt, seed, model_a, model_b) for each proposed model pair: the (prompt, seed) with videos of both
    models that this pair has been compared on least so far (ties at random)."""
    have: dict[str, set] = {}
    for video in study["videos"]:
        have.setdefault(video["model"], set()).add((video["prompt"], int(video["seed"])))
    used: Counter = Counter((p["prompt"], int(p["seed"]), *sorted(p["models"])) for p in study["pairs"]
                            if p["kind"] == "comparison")
    units = []
    for a, b in model_pairs:
        shared = sorted(have.get(a, set()) & have.get(b, set()))
        if not shared:
            from lumiere_eval.human_study.sources import StudyInputError

            raise StudyInputError(f"models {a!r} and {b!r} share no (prompt, seed) in the study's videos")
        load = np.array([used[(p, s, *sorted((a, b)))] for p, s in shared])
        least = np.flatnonzero(load == load.min())
        prompt, video_seed = shared[int(least[rng.integers(0, len(least))])]
        used[(prompt, video_seed, *sorted((a, b)))] += 1
        first, second = (a, b) if rng.random() < 0.5 else (b, a)
        units.append((prompt, video_seed, first, second))
    return units
