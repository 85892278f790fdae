"""Sample sizes for a paired difference of two models: the normal approximation with an explicit bias in N.

A paired difference measured on N samples per model is modelled as D_N ~ Normal(delta + bias / N, s^2 / N):
`s` (the standard deviation per sample) comes from a pilot's intervals at several N (fitted to the 1/N variance
scaling), `bias` is the difference of the two models' 1/N slopes (zero for per-sample means; for set metrics such
as FVD the slopes of the fit in 1/N, `extrapolation`), `delta` the difference at infinite N to be detected. A
two-sided test at level `alpha` rejects when |D_N| / (s / sqrt N) > z_(1 - alpha/2).
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError

_NORMAL = NormalDist()


def sd_per_sample(sizes, sds) -> float:
    """s of sd(N) = s / sqrt(N) from a pilot's standard deviations at several N: the mean of sd(N) sqrt(N). Use sizes
    of at least a quarter of the pilot: below that set metrics' spread does not follow 1/N (measured in
    tests/test_plan.py: half-sampling sd x sqrt(N) of an FD difference 1.96 at N=32, 1.02 at N=256, true 1.04)."""
    sizes, sds = np.asarray(sizes, dtype=np.float64), np.asarray(sds, dtype=np.float64)
    if len(sizes) == 0 or not np.isfinite(sds).all():
        raise MetricInputError("the variance scaling needs finite standard deviations at one sample size at least")
    return float(np.mean(sds * np.sqrt(sizes)))


def power(n, delta: float, s: float, alpha: float = 0.05, bias: float = 0.0):
    """Probability that the two-sided level-`alpha` test rejects at N samples with the sign of `delta` (a
    rejection of the wrong sign, which a bias of the other sign can cause at small N, does not count)."""
    n = np.asarray(n, dtype=np.float64)
    z = _NORMAL.inv_cdf(1 - alpha / 2)
    shift = (delta + bias / n) * math.copysign(1.0, delta) * np.sqrt(n) / max(s, 1e-300)
    return np.vectorize(_NORMAL.cdf)(shift - z)


def samples_needed(delta: float, s: float, alpha: float = 0.05, target: float = 0.8, bias: float = 0.0,
                   n_min: int = 2, n_max: int = 10_000_000) -> int | None:
    """The fewest N in n_min..n_max with power(N) >= target (None: none reaches it; `n_min` keeps a bias fitted
    over N >= n_min from being used below it)."""
    if not 0 < target < 1 or not 0 < alpha < 1:
        raise MetricInputError(f"power and alpha must be in (0, 1), got {target} and {alpha}")
    if delta == 0:
        raise MetricInputError("the difference to detect must not be 0")
    grid = np.unique(np.round(np.geomspace(n_min, n_max, 4000)).astype(np.int64))
    ok = np.flatnonzero(power(grid, delta, s, alpha, bias) >= target)
    if not len(ok):
        return None
    if ok[0] == 0:
        return int(grid[0])
    fine = np.arange(grid[ok[0] - 1] + 1, grid[ok[0]] + 1)
    return int(fine[np.flatnonzero(power(fine, delta, s, alpha, bias) >= target)[0]])
