"""Seeded percentile bootstrap confidence intervals."""
from __future__ import annotations

from typing import Callable

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError


def bootstrap_ci(data, statistic: Callable[[np.ndarray], float] = np.mean, num_resamples: int = 1000,
                 confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of `statistic` over resamples (with replacement) of `data` along its first axis."""
    data = np.asarray(data)
    if len(data) < 2:
        raise MetricInputError(f"bootstrap needs at least 2 samples, got {len(data)}")
    if not 0 < confidence < 1:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    values = np.array([statistic(data[rng.integers(0, len(data), len(data))]) for _ in range(num_resamples)])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)
