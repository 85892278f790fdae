"""Seeded percentile bootstrap confidence intervals, over rows or over groups of rows."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError


def bootstrap_ci(data, statistic: Callable[[np.ndarray], float] = np.mean, num_resamples: int = 1000,
                 confidence: float = 0.95, seed: int = 0, groups=None) -> tuple[float, float]:
    """Percentile interval of `statistic` over resamples (with replacement) of `data` along its first axis; with
    `groups` (one label per row, e.g. each video's prompt) whole groups are resampled (`cluster_bootstrap`: rows
    of one group, such as several seeds of one prompt, are not independent)."""
    data = np.asarray(data)
    if len(data) < 2:
        raise MetricInputError(f"bootstrap needs at least 2 samples, got {len(data)}")
    if not 0 < confidence < 1:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence}")
    if groups is not None:
        clusters = [data[rows] for rows in _group_members(groups, len(data))]
        if len(clusters) < 2:
            raise MetricInputError(f"a bootstrap over groups needs at least 2 groups, got {len(clusters)}")
        return cluster_bootstrap(clusters, statistic, num_resamples, confidence, seed)
    rng = np.random.default_rng(seed)
    values = np.array([statistic(data[rng.integers(0, len(data), len(data))]) for _ in range(num_resamples)])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def cluster_bootstrap(clusters: Sequence[np.ndarray], statistic: Callable[[np.ndarray], float],
                      num_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of `statistic` over resamples of whole clusters (e.g. all votes, or all videos, of one
    prompt): rows of one cluster are correlated, so the clusters are resampled with replacement, not the rows."""
    if not clusters:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_resamples):
        picked = rng.integers(0, len(clusters), size=len(clusters))
        sample = np.concatenate([clusters[i] for i in picked])
        if len(sample):
            values.append(statistic(sample))
    alpha = (1.0 - confidence) / 2.0
    return (float(np.quantile(values, alpha)), float(np.quantile(values, 1.0 - alpha)))


def _group_members(groups, num_rows: int) -> list[np.ndarray]:
    """The row indices of each distinct label of `groups`, in order of first appearance."""
    labels = list(groups)
    if len(labels) != num_rows:
        raise MetricInputError(f"{len(labels)} group labels for {num_rows} rows")
    index: dict = {}
    for i, label in enumerate(labels):
        index.setdefault(label, []).append(i)
    return [np.asarray(rows) for rows in index.values()]
