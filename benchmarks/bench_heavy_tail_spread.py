"""Whether a set metric's spread over runs exists on the coverage grid's heavy-tailed cell: the sd over M runs of
N = 64 generated rows (d = 16, a fixed real set of 2,048 rows, the generated rows 0.3 + 1.2 z), as M grows.

Where the metric's variance is finite the sd settles as M grows; where it is infinite the sd keeps growing with M
(each larger batch of runs meets a rarer, larger value), so no interval built on a spread (half-sampling, pooled-t,
the oracle's true sd) has a 95% to aim at, and the Monte Carlo target of `bench_interval_coverage.py` is itself
uncertain beyond its printed standard error. Under a multivariate t(5), x = z / sqrt(w / 5) with w ~ chi^2_5,
E[w^-k] is finite only for k < 5/2: JEDi's diagonal |x|^4 needs k = 4 for its variance, FVD's covariance k = 2.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_heavy_tail_spread.py [--runs 100000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_interval_coverage import base_rows  # noqa: E402
from common import record  # noqa: E402

from lumiere_eval.metrics import FeatureStats, frechet_distance_to_features  # noqa: E402
from lumiere_eval.metrics.kernel import jedi_from_stats  # noqa: E402

DIM, N, REAL_ROWS = 16, 64, 2048


def rows(kind: str, m: int, rng: np.random.Generator) -> np.ndarray:
    """m rows of the coverage grid's Gaussian or heavy-tailed (multivariate t(5)) cell."""
    return base_rows(kind, m, DIM, rng, pattern=None)  # the pattern only shifts the mixture's rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    args = parser.parse_args()
    checkpoints = [m for m in (1_000, 10_000, 100_000) if m <= args.runs] or [args.runs]
    out = []
    for kind in ("gaussian", "heavy-tailed"):
        rng = np.random.default_rng(1)
        real = FeatureStats.from_features(rows(kind, REAL_ROWS, rng))
        mu, sigma = real.mean, real.covariance(True)
        start = time.process_time()
        values = {"jedi": [], "fvd": []}
        for _ in range(checkpoints[-1]):
            x = 0.3 + 1.2 * rows(kind, N, rng)
            values["jedi"].append(jedi_from_stats(real, FeatureStats.from_features(x)))
            values["fvd"].append(frechet_distance_to_features(mu, sigma, x))
        seconds = time.process_time() - start
        for metric, got in values.items():
            got = np.asarray(got)
            row = {"distribution": kind, "metric": metric, "mean": float(got.mean()), "median": float(np.median(got)),
                   "share_below_mean": float(np.mean(got < got.mean())), "cpu_seconds": round(seconds, 1)}
            row |= {f"sd_{m}_runs": float(np.std(got[:m], ddof=1)) for m in checkpoints}
            row |= {f"max_{m}_runs": float(got[:m].max()) for m in checkpoints}
            out.append(row)
    record("heavy_tail_spread", out, notes=f"d = {DIM}, N = {N}, {REAL_ROWS} real rows; the sd over the first M "
                                           "runs for each M; cpu_seconds covers both metrics of a distribution")


if __name__ == "__main__":
    main()
