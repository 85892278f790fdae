"""Does `plan` deliver its power? Planned N (or votes) against the power realised in fresh simulated studies.

    python benchmarks/bench_plan_power.py [--studies 200]

- per-sample score: pilot of 64 paired differences ~ Normal(0.3, 1); fresh studies analysed with compare's
  sign-flip permutation test (400 permutations);
- set metric: Frechet distance of paired Gaussian features (4-d, A shifted 0.45, B 0.40 against a known N(0, I)
  real distribution; true difference 0.17), pilot of 1024 pairs, sd from compare's half-sampling test at N/4..N;
  fresh studies analysed with `paired.paired_set_interval` (60 halves), as `compare` does;
- votes: Davidson model, preference 0.62, nu 0.3, 3 raters, 60 prompts (votes clustered by prompt); the plan's
  own simulations (seed 0) against 2 x --studies fresh ones (seed 7), sign test as `study analyze`.
Writes benchmarks/results/plan_power.md.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from lumiere_eval.human_study.vote_plan import (
    preference_to_gap,
    simulated_power,
    votes_needed,
)
from lumiere_eval.metrics import paired, power
from lumiere_eval.metrics.frechet import frechet_distance_to_features


def per_sample(target: float, studies: int, rng) -> tuple[int, float]:
    pilot = rng.normal(0.3, 1.0, 64)
    n = power.samples_needed(0.3, float(np.std(pilot, ddof=1)), 0.05, target)
    hits = sum(d.mean() > 0 and paired.permutation_test(d, np.zeros(n), 400, seed=k) <= 0.05
               for k, d in enumerate(rng.normal(0.3, 1.0, (studies, n))))
    return n, hits / studies


def _pair(rng, n: int, dim: int = 4):
    z = rng.normal(size=(n, dim))
    a, b = z + 0.45, 0.8 * z + 0.6 * rng.normal(size=(n, dim)) + 0.40
    fd = lambda x: (lambda idx: frechet_distance_to_features(np.zeros(dim), np.eye(dim), x[idx]))
    return fd(a), fd(b)


def set_metric(target: float, studies: int, seed: int) -> tuple[int, float]:
    rng = np.random.default_rng(seed)
    sa, sb = _pair(rng, 1024)
    sizes, order = [256, 512, 768, 1024], rng.permutation(1024)
    sds = []
    for n in sizes:
        row = paired.paired_set_interval(n, lambda i, f=order[:n]: sa(f[i]), lambda i, f=order[:n]: sb(f[i]), 100,
                                         seed=n)
        sds.append((row["ci_high"] - row["ci_low"]) / (2 * 1.959964))
    n = power.samples_needed(4 * (0.45 ** 2 - 0.40 ** 2), power.sd_per_sample(sizes, sds), 0.05, target, n_min=256)
    hits = 0
    for k in range(studies):
        row = paired.paired_set_interval(n, *_pair(np.random.default_rng(10_000 + k), n), 60, seed=k)
        hits += row["difference"] > 0 and row["p_normal"] <= 0.05
    return n, hits / studies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=200)
    args = parser.parse_args()
    lines = ["# plan: planned size against realised power in fresh simulated studies", "",
             f"`python benchmarks/bench_plan_power.py --studies {args.studies}` (scenarios in its docstring).", "",
             "| scenario | target power | planned | realised power | studies |", "|---|---|---|---|---|"]
    start = time.perf_counter()
    for target in (0.5, 0.8, 0.9):
        n, realised = per_sample(target, args.studies, np.random.default_rng(int(target * 100)))
        lines.append(f"| per-sample mean, permutation test | {target} | N = {n} | {realised:.3f} | {args.studies} |")
        n, realised = set_metric(target, args.studies, 1)
        lines.append(f"| Frechet distance, half-sampling test | {target} | N = {n} | {realised:.3f} | {args.studies} |")
        gap = preference_to_gap(0.62)
        plan = votes_needed(gap, target, nu=0.3, raters=3, simulations=120, prompts=60, seed=0)
        realised = simulated_power(gap, plan["votes"], nu=0.3, raters=3, simulations=2 * args.studies, prompts=60,
                                   seed=7)
        lines.append(f"| 2AFC votes (Davidson, nu 0.3), sign test | {target} | {plan['votes']} votes | {realised:.3f} | "
                     f"{2 * args.studies} |")
        print(lines[-3:], flush=True)
    lines += ["", f"Wall time {time.perf_counter() - start:.0f} s on this project's 2-core machine (shared)."]
    out = Path(__file__).parent / "results" / "plan_power.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
