"""A set metric extrapolated to infinitely many generated samples (FVD-infinity), as Chong and Forsyth's FID-infinity.

Frechet distances are biased upward at small N, roughly in proportion to 1/N (Chong and Forsyth, "Effectively
Unbiased FID and Inception Score and where to find them", CVPR 2020; their `score_infinity.py` evaluates FID on a
fresh random subset at each of 15 sizes and fits FID_N = FID_inf + c / N by ordinary least squares). Here the value
at each size is the mean over `draws` random subsets (fresh draws at each size, without replacement), the line is
fitted by least squares in 1/N, and its intercept is the extrapolation. Its interval is the half-sampling interval
of the whole procedure (`intervals`): the extrapolation redone on random halves of the samples (sizes scaled to the
half), spread x sqrt(h / (N - h)), about the estimate: an interval over the draw of the generated samples, the real
set held fixed.

An extrapolation is a model-based estimate, not a measurement: it is reported beside the value at the protocol's N
under its own label, never in its place.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError
from lumiere_eval.metrics.intervals import half_sample_indices, half_sampling_interval

# Set metrics whose estimator is biased in N (Frechet distances) or that users extrapolate alike (KVD, whose
# unbiased MMD should give a flat line: a check of the fit).
EXTRAPOLATED = ("fvd", "kvd", "cdfvd", "fid")
LABEL = "extrapolated to infinite N (least-squares fit of value against 1/N, Chong & Forsyth 2020); not the protocol's number"


def fit_inverse_n(sizes, values) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line value = intercept + slope / N."""
    sizes, values = np.asarray(sizes, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if len(np.unique(sizes)) < 2:
        raise MetricInputError(f"an extrapolation in 1/N needs at least two distinct sample sizes, got {list(sizes)}")
    slope, intercept = np.polyfit(1.0 / sizes, values, 1)
    return float(intercept), float(slope)


def subset_means(total: int, statistic: Callable[[np.ndarray], float], sizes: list[int], draws: int,
                 rng: np.random.Generator) -> list[float]:
    """Per size, the mean of `statistic` over `draws` random subsets of that size (one when the size is `total`)."""
    means = []
    for n in sizes:
        if not 2 <= n <= total:
            raise MetricInputError(f"subset size {n} is outside 2..{total}")
        k = 1 if n == total else draws
        means.append(float(np.mean([statistic(np.sort(rng.permutation(total)[:n])) for _ in range(k)])))
    return means


def extrapolate(total: int, statistic: Callable[[np.ndarray], float], sizes: list[int], draws: int = 5,
                num_resamples: int = 50, confidence: float = 0.95, seed: int = 0) -> dict:
    """The value at infinite N with its half-sampling interval, the fitted slope, and the fitted points.

    `statistic` takes an index array into the `total` samples. The halves use the sizes scaled by h / total
    (at least 2)."""
    rng = np.random.default_rng(seed)
    sizes = sorted(int(n) for n in sizes)
    means = subset_means(total, statistic, sizes, draws, rng)
    value, slope = fit_inverse_n(sizes, means)
    low = high = None
    if num_resamples:
        halves = half_sample_indices(total, num_resamples, int(rng.integers(2 ** 31)))
        h = halves.shape[1]
        half_sizes = sorted({max(2, round(n * h / total)) for n in sizes})
        if len(half_sizes) >= 2:
            estimates = [fit_inverse_n(half_sizes, subset_means(
                h, lambda idx, rows=rows: statistic(rows[idx]), half_sizes, draws, rng))[0] for rows in halves]
            low, high = half_sampling_interval(value, estimates, total, confidence)
    return {"value": value, "ci_low": low, "ci_high": high, "slope": slope, "label": LABEL, "draws": int(draws),
            "num_resamples": int(num_resamples),
            "points": [{"n": n, "mean_value": m} for n, m in zip(sizes, means)]}
