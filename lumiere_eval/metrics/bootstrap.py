"""Seeded percentile bootstrap confidence intervals, over rows or over groups of rows."""
from __future__ import annotations

from typing import Callable

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError


def bootstrap_ci(data, statistic: Callable[[np.ndarray], float] = np.mean, num_resamples: int = 1000,
                 confidence: float = 0.95, seed: int = 0, groups=None) -> tuple[float, float]:
    """Percentile interval of `statistic` over resamples (with replacement) of `data` along its first axis; with
    `groups` (one label per row, e.g. each video's prompt) whole groups are resampled (a cluster bootstrap: rows
    of one group, such as several seeds of one prompt, are not independent)."""
    data = np.asarray(data)
    if len(data) < 2:
        raise MetricInputError(f"bootstrap needs at least 2 samples, got {len(data)}")
    if not 0 < confidence < 1:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    if groups is None:
        values = np.array([statistic(data[rng.integers(0, len(data), len(data))]) for _ in range(num_resamples)])
    else:
        members = _group_members(groups, len(data))
        if len(members) < 2:
            raise MetricInputError(f"a bootstrap over groups needs at least 2 groups, got {len(members)}")
        values = np.array([statistic(data[np.concatenate([members[g] for g in
                                                          rng.integers(0, len(members), len(members))])])
                           for _ in range(num_resamples)])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def _group_members(groups, num_rows: int) -> list[np.ndarray]:
    """The row indices of each distinct label of `groups`, in order of first appearance."""
    labels = list(groups)
    if len(labels) != num_rows:
        raise MetricInputError(f"{len(labels)} group labels for {num_rows} rows")
    index: dict = {}
    for i, label in enumerate(labels):
        index.setdefault(label, []).append(i)
    return [np.asarray(rows) for rows in index.values()]
