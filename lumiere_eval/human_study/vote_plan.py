"""Votes for a 2AFC study: how many a difference between two models needs, by simulation with Davidson's model.

Two models a log-strength gap apart (Bradley-Terry; a preference rate p among decided votes is the gap
log(p / (1 - p))), ties at the tie parameter nu (Davidson), votes clustered by prompt as `simulate.VotePopulation`
makes them. A simulated study of V votes (V / raters units on random prompts, `raters` workers each) is analysed as
`study analyze` analyses a pair: the two-sided sign test on the decided votes. The realised power at V is the share
of simulated studies that reject at `alpha` in the right direction; the plan is the fewest V (a multiple of
`raters`) whose power reaches the target, searched by doubling and then bisection. The MTurk cost is that of
`study create` (`adaptive.cost_of_votes`: rewards plus MTurk's fees).
"""
from __future__ import annotations

import math

import numpy as np

from lumiere_eval.human_study.adaptive import cost_of_votes
from lumiere_eval.human_study.leaderboard import fit, paired_votes, question_votes
from lumiere_eval.human_study.simulate import VotePopulation
from lumiere_eval.human_study.stats import sign_test


def preference_to_gap(rate: float) -> float:
    """The Bradley-Terry log-strength gap whose preference rate among decided votes is `rate`."""
    if not 0 < rate < 1:
        raise ValueError(f"a preference rate must be in (0, 1), got {rate}")
    return math.log(rate / (1 - rate))


def simulated_power(gap: float, votes: int, nu: float = 0.0, raters: int = 3, alpha: float = 0.05,
                    simulations: int = 200, prompts: int = 100, concentration: float = 20.0, seed: int = 0) -> float:
    """Share of `simulations` simulated studies of `votes` votes whose sign test rejects for the stronger model."""
    units = max(1, votes // raters)
    rejected = 0
    for k in range(simulations):
        population = VotePopulation([gap / 2, -gap / 2], nu=nu, num_prompts=prompts, num_workers=max(30, raters),
                                    concentration=concentration, seed=seed * 100_003 + k)
        rng = np.random.default_rng(seed * 100_003 + k + 1)
        answered = population.answer([(int(p), 0, 1) for p in rng.integers(0, prompts, units)], raters)
        wins, _ = answered.counts()
        stronger, weaker = (0, 1) if gap >= 0 else (1, 0)
        decided = int(wins[0, 1] + wins[1, 0])
        rejected += decided > 0 and wins[stronger, weaker] > decided / 2 and \
            sign_test(int(wins[0, 1]), decided) <= alpha
    return rejected / simulations


def votes_needed(gap: float, target: float = 0.8, nu: float = 0.0, raters: int = 3, alpha: float = 0.05,
                 simulations: int = 200, prompts: int = 100, seed: int = 0, max_votes: int = 1_000_000) -> dict:
    """The fewest votes (a multiple of `raters`) whose simulated power reaches `target`, with that power."""
    if gap == 0:
        raise ValueError("the gap to detect must not be 0")
    measure = lambda v: simulated_power(gap, v, nu, raters, alpha, simulations, prompts, seed=seed)
    low, high = 0, raters
    while measure(high) < target:
        low, high = high, high * 2
        if high > max_votes:
            return {"votes": None, "power": None, "reason": f"more than {max_votes} votes"}
    while high - low > raters:
        mid = (low + high) // 2 // raters * raters
        if mid <= low:
            break
        low, high = (low, mid) if measure(mid) >= target else (mid, high)
    return {"votes": int(high), "power": measure(high)}


def pilot_fit(study: dict, results_paths, question: str, model_a: str, model_b: str) -> dict:
    """The Davidson fit of a pilot study's votes on `question`: the gap of model_a over model_b and nu."""
    by_question, _ = question_votes(study, results_paths)
    if question not in by_question:
        raise ValueError(f"the study has no question {question!r}; it has {', '.join(by_question)}")
    votes = paired_votes(by_question[question], study["models"])
    result = fit(*votes.counts(), prior=0.5)
    index = {m: i for i, m in enumerate(votes.models)}
    for name in (model_a, model_b):
        if name not in index:
            raise ValueError(f"model {name!r} has no votes on {question!r}; models: {', '.join(votes.models)}")
    nu = 0.0 if result.log_nu is None else math.exp(result.log_nu)
    return {"gap": float(result.log_strength[index[model_a]] - result.log_strength[index[model_b]]), "nu": nu,
            "votes": len(votes.first)}


def vote_plan(gap: float, target: float, nu: float, raters: int, alpha: float, reward: str, simulations: int,
              prompts: int, seed: int) -> dict:
    """`votes_needed` with the study's cost in USD (rewards plus MTurk fees) and the preference rate of `gap`."""
    found = votes_needed(gap, target, nu, raters, alpha, simulations, prompts, seed)
    cost = None if found["votes"] is None else str(cost_of_votes(found["votes"], raters, reward))
    return {"gap": gap, "preference_rate": 1 / (1 + math.exp(-gap)), "nu": nu, "raters": raters, "alpha": alpha,
            "target_power": target, "simulations": simulations, "prompts": prompts, "reward": reward,
            **found, "cost_usd": cost}
