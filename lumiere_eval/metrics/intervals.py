"""Confidence intervals of set metrics (FVD, FID, KVD, IS, JEDi) and of their paired differences.

What an interval is an interval OF: the expectation of the metric at the run's own sample count N over the
draw of the N generated samples, with the real set held fixed (the quantity that a run of N samples
estimates; FVD's upward small-N bias is part of that quantity, not an error of the interval). The real
statistics are not resampled: every model of a comparison is measured against the same real set.

The chosen methods (per metric, from the coverage measured in `benchmarks/bench_interval_coverage.py`; table in
docs/statistics.md; the registry names each metric's):
- `half-sampling` (FVD, KVD, IS, FID, cd-FVD, and compare's paired set differences), the delete-N/2 jackknife:
  the metric is recomputed on R random halves of the N samples, drawn without replacement, so no resample holds a
  duplicated row (the with-replacement bootstrap's duplicates shrink a resample's covariance, inflate its FVD,
  deflate its IS and bias the unbiased MMD of KVD, which put the old percentile interval off its own estimate).
  With h = N // 2 rows per half, the spread of the half-sample values times sqrt(h / (N - h)) estimates the
  standard deviation of the metric at N (exact for a mean: the variance of a size-h subsample mean without
  replacement is s^2 / h * (1 - h / N)), and the interval is the estimate plus or minus z times that deviation.
- `half-sampling-sqrt` (JEDi): the same deviation carried to the square-root scale by the delta method, the
  interval (sqrt(e) -+ z sd / (2 sqrt(e)))^2. JEDi is a squared norm (100 |S_fake - S_real|^2 / d^2) whose
  sampling distribution is right-skewed when its value is near its minimum, where the symmetric interval
  under-covers (mixture features; docs/statistics.md has both coverages).

Candidates kept for that benchmark: `percentile_interval` (the old method), `centred_bootstrap_interval`,
`jackknife_interval` (delete-1), `bca_interval`, `half_sampling_basic_interval` (quantiles of the
half-sample values instead of the normal approximation) and `subsampling_interval` at m = 3N/4; the half-sampling
forms are `METHODS`. Each chosen interval's lower end stops at the metric's floor (`set_metric_interval`).
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Callable

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError

HALF_SAMPLING = "half-sampling"
HALF_SAMPLING_SQRT = "half-sampling-sqrt"
PERCENTILE = "percentile"
MIN_SAMPLES = 4  # two rows per half at least (a covariance, an unbiased MMD)
METHOD_DESCRIPTIONS = {
    HALF_SAMPLING: "estimate +- z * sd, sd from the metric on random halves drawn without replacement "
                   "(delete-N/2 jackknife, spread x sqrt(h/(N-h))); an interval of E[metric at N] given the "
                   "fixed real set",
    HALF_SAMPLING_SQRT: "half-sampling on the square-root scale: (sqrt(e) +- z * sd / (2 sqrt(e)))^2, lower end "
                        "at least 0, sd as in half-sampling (a squared distance near its minimum is skewed); an "
                        "interval of E[metric at N] given the fixed real set",
    PERCENTILE: "2.5-97.5 percentiles of the statistic over resamples with replacement (right for a mean: "
                "CLIPSIM, precision, per-sample scores; it under-covers FVD, KVD, IS, JEDi and FID, whose records "
                "before interval_method existed used it)",
}


class IntervalError(MetricInputError):
    """An interval that does not contain its own estimate: a bug, never a result to print."""


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence}")


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def half_size(n: int) -> int:
    """Rows per half sample: N // 2 (N >= MIN_SAMPLES, so a half holds at least 2 rows)."""
    if n < MIN_SAMPLES:
        raise MetricInputError(f"a set-metric interval needs at least {MIN_SAMPLES} samples, got {n}")
    return n // 2


def half_sample_indices(n: int, num_resamples: int, seed: int) -> np.ndarray:
    """`[R, N // 2]` sample positions, each row a half drawn without replacement (seeded)."""
    h = half_size(n)
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((num_resamples, n)), axis=1)[:, :h]


def subsampling_interval(estimate: float, draws, n: int, m: int, confidence: float = 0.95) -> tuple[float, float]:
    """estimate +- z sd, sd = std of the metric's values `draws` on random size-m subsets (without replacement) x
    sqrt(m / (N - m)); m = N // 2 is half-sampling, m = 3N // 4 the benchmark's three-quarter candidate."""
    _check_confidence(confidence)
    if not 2 <= m < n:
        raise MetricInputError(f"a subsample of {m} rows out of {n}: needs 2 <= m < N")
    sd = float(np.std(np.asarray(draws, dtype=np.float64), ddof=1)) * math.sqrt(m / (n - m))
    half_width = _z(confidence) * sd
    return float(estimate - half_width), float(estimate + half_width)


def half_sampling_interval(estimate: float, draws, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """estimate +- z sd, sd = std of the half-sample values `draws` x sqrt(h / (N - h)), h = N // 2."""
    return subsampling_interval(estimate, draws, n, half_size(n), confidence)


def half_sampling_sqrt_interval(estimate: float, draws, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The half-sampling interval of a non-negative metric made on the square-root scale by the delta method:
    (sqrt(e) -+ w)^2 with w = z sd / (2 sqrt(e)), the lower end 0 when w > sqrt(e) (and [0, e + z sd] at e = 0);
    sd as in `half_sampling_interval`. The interval is e +- z sd moved up by w^2: the right-skewed spread of a
    squared distance (JEDi, an MMD^2 with the diagonal) whose value sits near its minimum."""
    if estimate < 0:
        raise MetricInputError(f"the square-root-scale interval needs a non-negative estimate, got {estimate}")
    low, high = half_sampling_interval(estimate, draws, n, confidence)
    if estimate == 0:
        return 0.0, float(high)
    root, w = math.sqrt(estimate), (high - estimate) / (2 * math.sqrt(estimate))
    return float(max(root - w, 0.0) ** 2), float((root + w) ** 2)


def half_sampling_basic_interval(estimate: float, draws, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Candidate: the estimate minus the reflected quantiles of the centred, rescaled half-sample values."""
    _check_confidence(confidence)
    h = half_size(n)
    draws = np.asarray(draws, dtype=np.float64)
    centred = (draws - draws.mean()) * math.sqrt(h / (n - h))
    tail = (1 - confidence) / 2
    low, high = np.quantile(centred, [tail, 1 - tail])
    return float(estimate - high), float(estimate - low)


def percentile_interval(draws, confidence: float = 0.95) -> tuple[float, float]:
    """The old method: percentiles of the with-replacement bootstrap values."""
    _check_confidence(confidence)
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.asarray(draws, dtype=np.float64), [tail, 1 - tail])
    return float(low), float(high)


def centred_bootstrap_interval(estimate: float, draws, confidence: float = 0.95) -> tuple[float, float]:
    """Candidate: the with-replacement bootstrap values centred on the estimate (their mean moved to it)."""
    draws = np.asarray(draws, dtype=np.float64)
    low, high = percentile_interval(draws - draws.mean(), confidence)
    return float(estimate + low), float(estimate + high)


def jackknife_interval(estimate: float, leave_one_out, confidence: float = 0.95) -> tuple[float, float]:
    """Candidate: estimate +- z sd with the delete-1 jackknife variance (N - 1) / N sum (T_(i) - mean)^2."""
    _check_confidence(confidence)
    values = np.asarray(leave_one_out, dtype=np.float64)
    n = len(values)
    sd = math.sqrt((n - 1) / n * float(np.sum((values - values.mean()) ** 2)))
    return float(estimate - _z(confidence) * sd), float(estimate + _z(confidence) * sd)


def bca_interval(estimate: float, draws, leave_one_out, confidence: float = 0.95) -> tuple[float, float]:
    """Candidate: Efron's BCa percentiles (bias correction from the share of draws below the estimate,
    acceleration from the jackknife); degenerate (an end-point quantile) when nearly every draw is on one side."""
    _check_confidence(confidence)
    draws = np.asarray(draws, dtype=np.float64)
    values = np.asarray(leave_one_out, dtype=np.float64)
    normal = NormalDist()
    share = np.clip((np.sum(draws < estimate) + 0.5 * np.sum(draws == estimate)) / len(draws),
                    0.5 / len(draws), 1 - 0.5 / len(draws))
    z0 = normal.inv_cdf(float(share))
    spread = values.mean() - values
    denominator = 6 * float(np.sum(spread ** 2)) ** 1.5
    accel = float(np.sum(spread ** 3)) / denominator if denominator > 0 else 0.0
    levels = []
    for z in (-_z(confidence), _z(confidence)):
        levels.append(normal.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z))))
    low, high = np.quantile(draws, levels)
    return float(low), float(high)


METHODS = {HALF_SAMPLING: half_sampling_interval, HALF_SAMPLING_SQRT: half_sampling_sqrt_interval}


def set_metric_interval(n: int, statistic: Callable[[np.ndarray], float], estimate: float,
                        num_resamples: int, confidence: float = 0.95, seed: int = 0,
                        method: str = HALF_SAMPLING, floor: float | None = None) -> tuple[float, float]:
    """A set metric's interval at N samples: `statistic(positions)` recomputed on `num_resamples` random halves,
    then `method` (a key of METHODS, the metric's registered choice) about `estimate` (the metric on all N;
    checked inside), its lower end raised to `floor` (the least value the metric can take, so the least its
    expectation can take: FVD 0, IS 1) where it falls below."""
    draws = [statistic(idx) for idx in half_sample_indices(n, num_resamples, seed)]
    low, high = METHODS[method](estimate, draws, n, confidence)
    if floor is not None:  # round-off can put an estimate a hair below the floor: the interval still holds it
        low = max(low, min(float(floor), estimate))
    check_contains(estimate, low, high, "set-metric interval")
    return low, high


def contains(estimate: float, low: float | None, high: float | None) -> bool:
    """Whether [low, high] holds the estimate (True when there is no interval), with round-off slack."""
    if low is None or high is None:
        return True
    slack = 1e-9 * max(1.0, abs(estimate), abs(low), abs(high))
    return bool(low - slack <= estimate <= high + slack)


def check_contains(estimate: float, low: float | None, high: float | None, name: str) -> None:
    """Raise IntervalError naming `name` when the interval does not contain its own estimate."""
    if not contains(estimate, low, high):
        raise IntervalError(f"{name}: the interval [{low:.6g}, {high:.6g}] does not contain its own estimate "
                            f"{estimate:.6g} (a bug in the interval method, not a result)")


def interval_text(estimate: float, low: float | None, high: float | None, fmt: str = ".2f") -> str:
    """` [low, high]` for a report, `""` without an interval, and a visible flag (never a plain interval) when
    the interval does not contain its own estimate (records written by the old percentile method)."""
    if low is None or high is None:
        return ""
    text = f" [{low:{fmt}}, {high:{fmt}}]"
    return text if contains(estimate, low, high) else text + " (INTERVAL EXCLUDES ITS ESTIMATE: invalid)"
