"""Confidence intervals of set metrics (FVD, FID, KVD, IS, JEDi) and of their paired differences.

What an interval is an interval OF: the expectation of the metric at the run's own sample count N over the
draw of the N generated samples, with the real set held fixed (the quantity that a run of N samples
estimates; FVD's upward small-N bias is part of that quantity, not an error of the interval). The real
statistics are not resampled: every model of a comparison is measured against the same real set.

The chosen methods (per metric, from the coverage measured in `benchmarks/bench_interval_coverage.py`; table in
docs/statistics.md; the registry names each metric's):
- `pooled-t` (FVD, KVD, IS, frame FID, cd-FVD, JEDi), a studentised half-sampling: the metric on R random halves, and on
  INNER_HALVES halves of each half; each half's own spread gives a t per half, the t's scaled to unit mean square;
  the interval is the estimate minus the t's 97.5% and 2.5% quantiles times the half-sampling deviation, so the
  skew of the t's and the tie between a run's value and its spread enter the interval (`pooled_t_interval`;
  R (1 + 20) evaluations of the metric; at least 8 samples).
- `half-sampling` (compare's paired set differences), the delete-N/2 jackknife: the metric is
  recomputed on R random halves of the N samples, drawn without replacement, so no resample holds a duplicated
  row (the with-replacement bootstrap's duplicates shrink a resample's covariance, inflate its FVD, deflate its IS
  and bias the unbiased MMD of KVD, which put the old percentile interval off its own estimate). With h = N // 2
  rows per half, the spread of the half-sample values times sqrt(h / (N - h)) estimates the standard deviation of
  the metric at N (exact for a mean: the variance of a size-h subsample mean without replacement is
  s^2 / h * (1 - h / N)), and the interval is the estimate plus or minus z times that deviation.

Candidates kept for that benchmark: `percentile_interval` (the old method), `centred_bootstrap_interval`,
`jackknife_interval` (delete-1), `bca_interval`, `half_sampling_basic_interval` (quantiles of the half-sample
values instead of the normal approximation), `subsampling_interval` at m = 3N/4, `half_sampling_sqrt_interval`
(JEDi's method before pooled-t), `half_sampling_log_interval`, the other forms of
`studentised_subsampling_interval`, `two_size_interval`, `complementary_variance`, `nested_variance` and
`nested_t_interval`. Each chosen interval's lower end stops at the metric's floor (`set_metric_interval`).
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Callable

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError

HALF_SAMPLING = "half-sampling"
HALF_SAMPLING_SQRT = "half-sampling-sqrt"
POOLED_T = "pooled-t"
PERCENTILE = "percentile"
MIN_SAMPLES = 4  # two rows per half at least (a covariance, an unbiased MMD)
INNER_HALVES = 20  # pooled-t: halves drawn inside each half for that half's own spread
METHOD_DESCRIPTIONS = {
    HALF_SAMPLING: "estimate +- z * sd, sd from the metric on random halves drawn without replacement "
                   "(delete-N/2 jackknife, spread x sqrt(h/(N-h))); an interval of E[metric at N] given the "
                   "fixed real set",
    HALF_SAMPLING_SQRT: "half-sampling on the square-root scale: (sqrt(e) +- z * sd / (2 sqrt(e)))^2, lower end "
                        "at least 0, sd as in half-sampling (a squared distance near its minimum is skewed); an "
                        "interval of E[metric at N] given the fixed real set",
    POOLED_T: "studentised half-sampling: the estimate minus the 97.5% and 2.5% quantiles of t_b = (theta_b - "
              "mean) / s_b over the halves b (s_b the spread of 20 halves of half b, the t's scaled to unit mean "
              "square) times the half-sampling sd; an interval of E[metric at N] given the fixed real set",
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


def min_samples(method: str) -> int:
    """The fewest samples `method` takes: MIN_SAMPLES, twice that for pooled-t (each half's halves hold 2 rows)."""
    return 2 * MIN_SAMPLES if method == POOLED_T else MIN_SAMPLES


def half_sample_indices(n: int, num_resamples: int, seed: int) -> np.ndarray:
    """`[R, N // 2]` sample positions, each row a half drawn without replacement (seeded)."""
    h = half_size(n)
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((num_resamples, n)), axis=1)[:, :h]


def complementary_half_indices(n: int, num_resamples: int, seed: int) -> np.ndarray:
    """`[R, N // 2]` sample positions in disjoint pairs (R even): rows 2k and 2k + 1 are the two halves of one
    random split (for odd N the split's larger side loses its last drawn row)."""
    h = half_size(n)
    if num_resamples % 2:
        raise MetricInputError(f"complementary halves come in pairs: an even number of resamples, got {num_resamples}")
    order = np.argsort(np.random.default_rng(seed).random((num_resamples // 2, n)), axis=1)
    return np.stack([order[:, :h], order[:, h:2 * h]], axis=1).reshape(num_resamples, h)


def nested_half_indices(halves: np.ndarray, inner: int, seed: int) -> np.ndarray:
    """`[R, inner, h // 2]` sample positions: for each half (a row of the `[R, h]` `halves`), `inner` random
    halves of it drawn without replacement (seeded)."""
    r, h = halves.shape
    pick = np.argsort(np.random.default_rng(seed).random((r, inner, h)), axis=2)[:, :, :h // 2]
    return np.take_along_axis(np.broadcast_to(halves[:, None, :], (r, inner, h)), pick, axis=2)


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


def half_sampling_log_interval(estimate: float, draws, n: int, floor: float = 0.0,
                               confidence: float = 0.95) -> tuple[float, float]:
    """Candidate: half-sampling on the log scale of (metric - floor) by the delta method, floor + (e - floor)
    exp(-+ z sd / (e - floor)), sd as in `half_sampling_interval` (a right-skewed metric's longer upper side)."""
    excess = estimate - floor
    if excess < 0:
        raise MetricInputError(f"the log-scale interval needs an estimate at least its floor {floor}, got {estimate}")
    _, high = half_sampling_interval(estimate, draws, n, confidence)
    if excess == 0:
        return float(floor), float(high)
    w = (high - estimate) / excess
    return float(floor + excess * math.exp(-w)), float(floor + excess * math.exp(w))


def nested_half_sd(inner_draws, h: int) -> np.ndarray:
    """The sd of the metric at size h estimated inside each half: `inner_draws[b]` the metric on random halves
    (h // 2 rows) of half b, their spread x sqrt(q / (h - q)), one value per half."""
    q = h // 2
    return np.std(np.asarray(inner_draws, dtype=np.float64), axis=1, ddof=1) * math.sqrt(q / (h - q))


SCALES = {"plain": (lambda x: x, lambda y: y), "sqrt": (np.sqrt, np.square), "log": (np.log, np.exp)}


def complementary_variance(draws) -> float:
    """The variance at N from halves in disjoint pairs (`complementary_half_indices`): minus the mean product of
    the two halves' deviations from the mean over all halves, at least a third of the halves' variance.

    Its expectation is exactly Var(mean over all halves of the metric at N/2): disjoint halves are independent
    samples, so E[(theta_b - theta_b')^2 / 2] = Var(theta at N/2), and the law of total variance takes off the
    halves' own spread. Half-sampling's variance instead carries a pairwise (second-order) part of the metric three
    times; with a linear part A and a pairwise part B it is A + 3B against the truth A + B, hence the floor."""
    draws = np.asarray(draws, dtype=np.float64)
    deviation = draws - draws.mean()
    covariance = -float(np.mean(deviation[0::2] * deviation[1::2]))
    return max(covariance, float(np.var(draws, ddof=1)) / 3)


def _pair(k: int) -> float:
    """1 / (k (k - 1)): how the pairwise (second-order) part of a metric's variance shrinks with k rows."""
    return 1 / (k * (k - 1))


def _nested_fit(draws, inner_draws, n: int) -> tuple[float, float, np.ndarray, float]:
    """`nested_variance`'s fit before its bounds: (a, c, the 2 x 2 design matrix, the halves' spread)."""
    if n < min_samples(POOLED_T):  # the halves of halves that pooled-t draws hold 2 rows at least
        raise MetricInputError(f"the nested variance needs halves of halves of 2 rows at least: "
                               f"N >= {min_samples(POOLED_T)}, got {n}")
    h = half_size(n)
    q = h // 2
    spread_h = float(np.var(np.asarray(draws, dtype=np.float64), ddof=1))
    spread_q = float(np.mean(np.var(np.asarray(inner_draws, dtype=np.float64), axis=1, ddof=1)))
    rows = np.array([[1 / h - 1 / n, _pair(h) - _pair(n)], [1 / q - 1 / h, _pair(q) - _pair(h)]])
    a, c = np.linalg.solve(rows, [spread_h, spread_q])
    return float(a), float(c), rows, spread_h


def nested_variance(draws, inner_draws, n: int) -> float:
    """The variance of the metric at N from the halves and each half's halves, its pairwise part counted once.

    The metric's variance at k rows is modelled as a / k + c / (k (k - 1)), exact for a degree-2 U-statistic
    (the unbiased MMD^2 of KVD: a = 4 zeta_1, c twice the variance of its degenerate part, both >= 0). The
    halves' spread about their mean estimates V(h) - V(N), each half's halves' spread V(h // 2) - V(h)
    (`inner_draws[b]` on halves of half b, averaged over b); the two fix a and c, and the result is
    V(N) = a / N + c / (N (N - 1)). Half-sampling's variance is the same fit with c = 0, so it counts the
    pairwise part about three times; a fit with a or c below 0 is moved to the nearer of those two bounds."""
    a, c, rows, spread_h = _nested_fit(draws, inner_draws, n)
    linear_only = spread_h / rows[0, 0] / n  # c = 0: half-sampling's variance
    pairwise_only = spread_h / rows[0, 1] * _pair(n)  # a = 0
    return float(np.clip(a / n + c * _pair(n), pairwise_only, linear_only))


def nested_t_interval(estimate: float, draws, inner_draws, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Candidate: a bootstrap-t studentised by the nested variance at both levels, its t's not rescaled.

    `nested_variance`'s fit gives the shape of the variance in the sample count, g(k) = a / k + c / (k (k - 1))
    (a or c at 0 where the fit leaves its bounds); half b's own scale s_b is the spread of its halves (`inner_draws[b]`)
    over g(h // 2) - g(h), whose mean over b the fit makes 1. Then t_b = (theta_b - mean) / sqrt(s_b (g(h) - g(N))),
    and the interval is [e - q_hi(t) sd, e - q_lo(t) sd] with sd = sqrt(g(N)). Unlike pooled-t the t's keep their
    scale: where a half's own spread understates how far its value falls (heavy tails), the t's are wider."""
    _check_confidence(confidence)
    a, c, rows, spread_h = _nested_fit(draws, inner_draws, n)
    h = half_size(n)
    q = h // 2
    draws = np.asarray(draws, dtype=np.float64)
    inner_spread = np.var(np.asarray(inner_draws, dtype=np.float64), axis=1, ddof=1)
    if spread_h == 0 or float(np.mean(inner_spread)) == 0:  # no spread: half-sampling's zero width
        return float(estimate), float(estimate)
    if a < 0:
        a, c = 0.0, spread_h / rows[0, 1]
    elif c < 0:
        a, c = spread_h / rows[0, 0], 0.0
    g = lambda k: a / k + c * _pair(k)  # noqa: E731
    ok = inner_spread > 0
    scale = inner_spread[ok] / (g(q) - g(h))
    t = (draws[ok] - draws.mean()) / np.sqrt(scale * (g(h) - g(n)))
    tail = (1 - confidence) / 2
    q_lo, q_hi = np.quantile(t, [tail, 1 - tail])
    sd = math.sqrt(g(n))
    return float(estimate - q_hi * sd), float(estimate - q_lo * sd)


def studentised_subsampling_interval(estimate: float, draws, inner_draws, n: int, confidence: float = 0.95,
                                     scale: str = "plain", floor: float = 0.0, pooled: bool = False,
                                     sd: float | None = None, size: int | None = None) -> tuple[float, float]:
    """Candidate (subsampling bootstrap-t): t_b = (theta_b - mean theta) / (s_b sqrt((N - h) / N)) over the
    halves b (theta_b the metric on half b, s_b its sd at size h from `nested_half_sd` on `inner_draws[b]`;
    sqrt((N - h) / N) turns an sd at size h into the sd of a half's value about the mean over halves), then
    [e - q_hi(t) s_N, e - q_lo(t) s_N] with s_N the half-sampling sd at N. The t's quantiles carry the skew and
    the estimate-spread dependence that the symmetric interval drops. `scale` "sqrt" or "log" does all of it on
    g(metric - floor) (every value first raised to the floor) and maps the ends back. `pooled` replaces the
    factor sqrt((N - h) / N), right for a mean, by sqrt(var theta_b / mean s_b^2), measured: a pairwise
    (second-order) part of the metric shrinks as 1 / size^2, not 1 / size, and the theory factor then makes the
    t's too small; pooled, the t's have unit mean square and carry only the shape. `sd` (plain scale) replaces
    the half-sampling sd at N; `size` (default N // 2) is the subsets' size h when they are not halves (the
    inner draws still on halves of each subset)."""
    _check_confidence(confidence)
    h = size or half_size(n)
    g, g_inv = SCALES[scale]
    shift = 0.0 if scale == "plain" else floor
    lift = (lambda x: np.maximum(np.asarray(x, dtype=np.float64) - shift, 1e-300)) if scale != "plain" else (
        lambda x: np.asarray(x, dtype=np.float64))
    draws, inner = g(lift(draws)), g(lift(inner_draws))
    inner_sd = nested_half_sd(inner, h)
    ok = inner_sd > 0
    if not ok.any() or float(np.var(draws, ddof=1)) == 0:  # no spread: half-sampling's zero width
        return float(estimate), float(estimate)
    factor = (math.sqrt(float(np.var(draws, ddof=1)) / float(np.mean(inner_sd[ok] ** 2))) if pooled
              else math.sqrt((n - h) / n))
    t = (draws[ok] - draws.mean()) / (inner_sd[ok] * factor)
    sd = float(np.std(draws, ddof=1)) * math.sqrt(h / (n - h)) if sd is None else sd
    tail = (1 - confidence) / 2
    q_lo, q_hi = np.quantile(t, [tail, 1 - tail])
    centre = float(g(lift(estimate)))
    low, high = g_inv(centre - q_hi * sd) + shift, g_inv(centre - q_lo * sd) + shift
    if scale == "sqrt":  # the square-root scale's lower end: 0 (the floor) when it crosses below
        low = g_inv(max(centre - q_hi * sd, 0.0)) + shift
    return float(low), float(high)


def pooled_t_interval(estimate: float, draws, inner_draws, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The chosen studentised form (every registered set metric): `studentised_subsampling_interval` on the
    plain scale with the pooled factor; `draws[b]` the metric on half b, `inner_draws[b]` on the INNER_HALVES
    halves of half b."""
    return studentised_subsampling_interval(estimate, draws, inner_draws, n, confidence, pooled=True)


def two_size_interval(estimate: float, half_draws, larger_draws, n: int, m: int,
                      confidence: float = 0.95) -> tuple[float, float]:
    """Candidate: estimate +- z sd with the variance at N extrapolated from two subsample sizes: the spread at
    size k of values on size-k subsets without replacement modelled as A (1/k - 1/N) + B (1/k^2 - 1/N^2) (a
    linear part and a pairwise part), fitted at k = N // 2 (`half_draws`) and k = m (`larger_draws`), then
    var_N = A / N + B / N^2 (floored at the linear part alone when the fit goes negative)."""
    _check_confidence(confidence)
    h = half_size(n)
    v = [float(np.var(np.asarray(d, dtype=np.float64), ddof=1)) for d in (half_draws, larger_draws)]
    rows = np.array([[1 / k - 1 / n, 1 / k ** 2 - 1 / n ** 2] for k in (h, m)])
    a, b = np.linalg.solve(rows, v)
    var_n = a / n + b / n ** 2
    if var_n <= 0:
        var_n = v[0] * h / (n - h)  # the half-sampling variance
    half_width = _z(confidence) * math.sqrt(var_n)
    return float(estimate - half_width), float(estimate + half_width)


METHODS = {HALF_SAMPLING: half_sampling_interval, HALF_SAMPLING_SQRT: half_sampling_sqrt_interval}
SET_METHODS = (HALF_SAMPLING, HALF_SAMPLING_SQRT, POOLED_T)  # the methods `set_metric_interval` takes


def set_metric_interval(n: int, statistic: Callable[[np.ndarray], float], estimate: float,
                        num_resamples: int, confidence: float = 0.95, seed: int = 0,
                        method: str = HALF_SAMPLING, floor: float | None = None) -> tuple[float, float]:
    """A set metric's interval at N samples: `statistic(positions)` recomputed on `num_resamples` random halves
    (and for pooled-t on INNER_HALVES halves of each: R (1 + 20) evaluations), then `method` (one of
    SET_METHODS, the metric's registered choice) about `estimate` (the metric on all N; checked inside), its
    lower end raised to `floor` (the least value the metric can take, so the least its expectation can take:
    FVD 0, IS 1) where it falls below."""
    if method not in SET_METHODS:
        raise MetricInputError(f"unknown set-metric interval method {method!r}; known: {', '.join(SET_METHODS)}")
    if n < min_samples(method):
        raise MetricInputError(f"a {method} interval needs at least {min_samples(method)} samples, got {n}")
    halves = half_sample_indices(n, num_resamples, seed)
    draws = [statistic(idx) for idx in halves]
    if method == POOLED_T:
        inner = [[statistic(idx) for idx in own] for own in nested_half_indices(halves, INNER_HALVES, seed + 1)]
        low, high = pooled_t_interval(estimate, draws, inner, n, confidence)
    else:
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
