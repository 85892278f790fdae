"""Kernel distance (KID / KVD): unbiased MMD^2 with the cubic polynomial kernel, averaged over subsets.

k(x, y) = (x.y / d + 1)^3, as in Binkowski et al. and StyleGAN's and clean-fid's KID.
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError, as_float64_matrix


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    m, d = len(x), x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.mean())


def kernel_distance(x, y, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation over random subsets of the unbiased MMD^2 between two feature sets."""
    x = as_float64_matrix(x, "first feature set", min_rows=2)
    y = as_float64_matrix(y, "second feature set", min_rows=2)
    if x.shape[1] != y.shape[1]:
        raise MetricInputError(f"feature dimensions differ: {x.shape[1]} and {y.shape[1]}")
    m = min(len(x), len(y), subset_size)
    rng = np.random.default_rng(seed)
    values = [_mmd2_unbiased(x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)])
              for _ in range(num_subsets)]
    return float(np.mean(values)), float(np.std(values))
