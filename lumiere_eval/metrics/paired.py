"""Paired comparison of two models evaluated on the same prompts and seeds.

Sample i of model A and sample i of model B share a prompt and a seed, so their difference is measured on
the same draws: the bootstrap resamples the same sample indices on both sides (for per-sample scores and
for set metrics such as FVD, recomputed per resample from the per-sample features), which removes the
prompt-to-prompt spread that an unpaired interval would include.

- `paired_set_interval`: difference A - B of a set metric (any statistic of the chosen indices), its
  half-sampling interval (`intervals`, the same halves on both sides) and normal p-value.
- `paired_mean_bootstrap`: the mean per-sample difference, percentile interval and the bootstrap p-value
  2 min(P*(d <= 0), P*(d >= 0)) (with R resamples it cannot go below 2 / (R + 1)).
- `sign_test`, `permutation_test`: exact binomial sign test and a seeded sign-flip permutation test of
  the mean per-sample difference, for per-sample scores.
- `holm`: Holm's step-down adjustment of a family of p-values.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Callable

import numpy as np

from lumiere_eval.metrics import intervals
from lumiere_eval.metrics.checks import MetricInputError


def resample_indices(n: int, num_resamples: int, seed: int) -> np.ndarray:
    """`[R, n]` indices drawn with replacement: the same rows are used for both models of a pair."""
    if n < 2:
        raise MetricInputError(f"a paired bootstrap needs at least 2 paired samples, got {n}")
    return np.random.default_rng(seed).integers(0, n, (num_resamples, n))


def paired_set_interval(n: int, statistic_a: Callable[[np.ndarray], float],
                        statistic_b: Callable[[np.ndarray], float], num_resamples: int = 1000,
                        confidence: float = 0.95, seed: int = 0) -> dict:
    """Difference `statistic_a(all) - statistic_b(all)` of a set metric, with the half-sampling interval of
    `lumiere_eval.metrics.intervals` (the same random halves on both sides) and its normal p-value
    2 (1 - Phi(|d| / sd)) (the smallest level at which that interval excludes 0).

    Each statistic takes an index array into its model's samples (index i is the same prompt and seed on
    both sides). The interval is one of E[A - B at N] with the real set fixed.
    """
    everything = np.arange(n)
    difference = float(statistic_a(everything) - statistic_b(everything))
    deltas = np.array([statistic_a(idx) - statistic_b(idx)
                       for idx in intervals.half_sample_indices(n, num_resamples, seed)])
    low, high = intervals.half_sampling_interval(difference, deltas, n, confidence)
    intervals.check_contains(difference, low, high, "paired set-metric interval")
    sd = (high - low) / (2 * NormalDist().inv_cdf(0.5 + confidence / 2))
    if sd > 0:
        p = 2 * (1 - NormalDist().cdf(abs(difference) / sd))
    else:
        p = 1.0 if difference == 0 else 0.0
    return {"difference": difference, "ci_low": low, "ci_high": high, "p_normal": float(p),
            "num_resamples": int(num_resamples), "confidence": confidence, "interval_method": intervals.HALF_SAMPLING}


def paired_mean_bootstrap(a, b, num_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict:
    """Paired percentile bootstrap of the mean per-sample difference (the same indices on both sides), vectorised."""
    d = _differences(a, b)
    deltas = d[resample_indices(len(d), num_resamples, seed)].mean(axis=1)
    return _summary(float(d.mean()), deltas, confidence)


def _summary(difference: float, deltas: np.ndarray, confidence: float) -> dict:
    tail = (1 - confidence) / 2
    low, high = np.quantile(deltas, [tail, 1 - tail])
    r = len(deltas)
    p = min(1.0, 2 * min(np.sum(deltas <= 0) + 1, np.sum(deltas >= 0) + 1) / (r + 1))
    return {"difference": difference, "ci_low": float(low), "ci_high": float(high), "p_bootstrap": float(p),
            "num_resamples": r, "confidence": confidence}


def _differences(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise MetricInputError(f"paired scores need two 1-D arrays of one length, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise MetricInputError("paired scores contain NaN or infinite values")
    return a - b


def sign_test(a, b) -> dict:
    """Exact two-sided binomial test of P(A > B) = 1/2 over the pairs that differ (ties dropped)."""
    d = _differences(a, b)
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    n = wins + losses
    p = min(1.0, 2 * sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2 ** n) if n else 1.0
    return {"a_better_count": wins, "b_better_count": losses, "ties": len(d) - wins - losses, "p_sign": float(p)}


def permutation_test(a, b, num_permutations: int = 10000, seed: int = 0) -> float:
    """Two-sided p-value of the mean difference under random sign flips of each pair's difference."""
    d = _differences(a, b)
    observed = abs(d.mean())
    flips = np.random.default_rng(seed).choice([-1.0, 1.0], size=(num_permutations, len(d)))
    extreme = np.sum(np.abs((flips * d).mean(axis=1)) >= observed - 1e-12)
    return float((extreme + 1) / (num_permutations + 1))


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values (step-down, monotone, capped at 1); reject where adjusted p <= alpha."""
    names = sorted(p_values, key=p_values.get)
    m, running, adjusted = len(names), 0.0, {}
    for rank, name in enumerate(names):
        running = max(running, min(1.0, (m - rank) * p_values[name]))
        adjusted[name] = running
    return adjusted
