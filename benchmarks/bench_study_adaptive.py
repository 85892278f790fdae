"""Human-study leaderboard on simulated people: interval coverage over seeds, and adaptive against random pairing.

Coverage: 3 models (log-strengths 0.6, 0, -0.6), Davidson tie parameter 0.3, 30 prompts x 3 model pairs x
3 raters from 15 workers, per-prompt outcome noise (Dirichlet, concentration 20); share of 95% intervals that
contain the true centred log-strength, for the two-way bootstrap (the default) and prompts only.
Adaptive: 8 models with close and distant neighbours, tie parameter 0.3; rounds of 20 pairs x 3 raters; mean
Kendall tau of fitted against true strengths over seeds, and the votes each strategy needs to reach it.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_study_adaptive.py [--seeds-coverage 100] [--seeds-adaptive 30]
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record  # noqa: E402

from lumiere_eval.human_study.adaptive import cost_of_votes, simulate_rounds, votes_to_reach  # noqa: E402
from lumiere_eval.human_study.leaderboard import bootstrap, fit  # noqa: E402
from lumiere_eval.human_study.simulate import VotePopulation  # noqa: E402

COVERAGE_TRUTH = np.array([0.6, 0.0, -0.6])
ADAPTIVE_TRUTH = np.array([1.5, 1.2, 0.6, 0.5, 0.0, -0.8, -0.9, -1.6])


def coverage(seeds: int, resamples: int, clusters: str) -> float:
    """Share of 95% intervals (all models, all seeds) containing the true centred log-strength."""
    truth = COVERAGE_TRUTH - COVERAGE_TRUTH.mean()
    hits = []
    for seed in range(seeds):
        population = VotePopulation(truth, nu=0.3, num_prompts=30, num_workers=15, seed=seed)
        units = [(p, a, b) for p in range(30) for a, b in itertools.combinations(range(3), 2)]
        votes = population.answer(units, raters=3)
        point = fit(*votes.counts())
        interval = bootstrap(votes, 0.0, resamples, seed, start=point.log_strength, clusters=clusters).interval()
        hits.extend((interval[:, 0] <= truth) & (truth <= interval[:, 1]))
    return float(np.mean(hits))


def adaptive_against_random(seeds: int, rounds: int, units: int) -> dict:
    curves = {"random": [], "adaptive": []}
    for seed in range(seeds):
        for strategy in curves:
            population = VotePopulation(ADAPTIVE_TRUTH, nu=0.3, num_prompts=40, num_workers=30, seed=seed)
            curves[strategy].append(simulate_rounds(population, strategy, rounds, units, raters=3, seed=seed + 1000))
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds-coverage", type=int, default=100, help="Simulated studies for coverage.")
    parser.add_argument("--resamples", type=int, default=100, help="Bootstrap resamples per study.")
    parser.add_argument("--seeds-adaptive", type=int, default=30, help="Simulated studies per pairing strategy.")
    parser.add_argument("--rounds", type=int, default=20, help="Rounds per simulated study.")
    args = parser.parse_args()
    rows = []
    for clusters in ("two-way", "prompts"):
        rows.append({"figure": f"coverage of 95% intervals ({clusters})", "seeds": args.seeds_coverage,
                     "value": round(coverage(args.seeds_coverage, args.resamples, clusters), 4)})
        print(rows[-1], flush=True)
    curves = adaptive_against_random(args.seeds_adaptive, args.rounds, 20)
    for target in (0.85, 0.9, 0.95):
        needed = {s: votes_to_reach(c, target) for s, c in curves.items()}
        text = ", ".join(f"{s} {'not within ' + str(args.rounds * 60) if v is None else v} votes"
                         + ("" if v is None else f" (${cost_of_votes(v, 3, '0.10')} at $0.10 a vote)")
                         for s, v in needed.items())
        if None not in needed.values():
            text += f"; adaptive saves {1 - needed['adaptive'] / needed['random']:.0%}"
        rows.append({"figure": f"votes to mean Kendall tau {target}", "seeds": args.seeds_adaptive, "value": text})
        print(rows[-1], flush=True)
    for strategy, c in curves.items():
        taus = [round(float(np.mean([x[k]["kendall_tau"] for x in c])), 3) for k in range(args.rounds)]
        rows.append({"figure": f"mean Kendall tau after each round of 60 votes ({strategy})",
                     "seeds": args.seeds_adaptive, "value": " ".join(map(str, taus))})
    record("study_adaptive", rows, notes=__doc__.split("Run:")[0].strip())


if __name__ == "__main__":
    main()
