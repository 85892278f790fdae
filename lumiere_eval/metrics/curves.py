"""Sample-size curves: a set metric (FVD, KVD, IS, JEDi...) at increasing numbers of generated samples.

At each N the value is the metric on the first N samples of a seeded permutation (what a run with N
samples would report), and the interval is the metric's registered interval of those N samples (pooled-t for
the set metrics, `lumiere_eval.metrics.intervals`: an interval of E[metric at N] with the real set fixed, i.e.
how much a run of N samples moves with the choice of videos).

Settled: a metric has settled at the largest N when its value moved from N/2 to N by no more than the
half-width of its interval at N. Otherwise the results carry a warning: more samples would still change
the number by more than its stated uncertainty (FVD at 64 samples typically has not settled: it is
biased upward at small N).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError
from lumiere_eval.metrics.intervals import HALF_SAMPLING, min_samples, set_metric_interval


def curve_sizes(total: int, start: int = 64) -> list[int]:
    """start, 2 start, 4 start, ... below `total`, then `total`; for small sets total/4, total/2, total."""
    if total < 4:
        raise MetricInputError(f"a sample-size curve needs at least 4 samples, got {total}")
    n = min(start, max(2, total // 4))
    sizes = []
    while n < total:
        sizes.append(n)
        n *= 2
    return sizes + [total]


def sample_size_curve(total: int, statistic: Callable[[np.ndarray], float], sizes: list[int] | None = None,
                      num_resamples: int = 50, confidence: float = 0.95, seed: int = 0,
                      method: str = HALF_SAMPLING, floor: float | None = None) -> list[dict]:
    """`[{"n", "value", "ci_low", "ci_high"}]` of `statistic(indices)` at each size (intervals by `method`, a key
    of `intervals.SET_METHODS`, lower ends at least `floor`; none, null, below `intervals.min_samples`)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(total)
    points = []
    for n in sizes or curve_sizes(total):
        first = order[:n]
        value = float(statistic(first))
        low, high = (set_metric_interval(n, lambda idx: statistic(first[idx]), value, num_resamples, confidence,
                                         seed=int(rng.integers(2 ** 31)), method=method, floor=floor)
                     if n >= min_samples(method) else (None, None))
        points.append({"n": int(n), "value": value, "ci_low": low, "ci_high": high})
    return points


def settled(points: list[dict]) -> dict:
    """Whether the last point moved from the one at about N/2 by at most its interval's half-width."""
    if len(points) < 2:
        return {"settled": None, "reason": "a single sample size: nothing to compare"}
    last, previous = points[-1], points[-2]
    if last["ci_low"] is None or last["ci_high"] is None:
        return {"settled": None, "reason": f"no interval at N={last['n']}: nothing to compare the change with"}
    change = abs(last["value"] - previous["value"])
    half_width = (last["ci_high"] - last["ci_low"]) / 2
    ok = change <= half_width
    reason = (f"changed by {change:.4g} from N={previous['n']} to N={last['n']}, "
              f"{'within' if ok else 'more than'} the interval half-width {half_width:.4g} at N={last['n']}")
    return {"settled": bool(ok), "change": float(change), "half_width": float(half_width), "reason": reason}
