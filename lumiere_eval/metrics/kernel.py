"""Kernel distances between feature sets.

- KID / KVD: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over subsets
  (Binkowski et al.; StyleGAN's and clean-fid's KID).
- JEDi (Luo et al., ICLR 2025; the videojedi package's `mmd_poly`): 100 x the biased MMD^2 with the polynomial
  kernel k(x, y) = (gamma x.y + coef0)^degree, degree 2, coef0 0, gamma 1/d: all kernel means, diagonal included
  (mean K_XX + mean K_YY - 2 mean K_XY). With degree 2 and coef0 0 the mean of (gamma x.y)^2 over pairs is
  gamma^2 <S_X, S_Y>_F with S the second-moment matrix E[x x^T], so JEDi = 100 gamma^2 |S_X - S_Y|_F^2: it
  needs only the streaming FeatureStats (count, sum of outer products), never the features themselves.
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError, as_float64_matrix


def _cubic(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1) ** 3


def _within_mean(k: np.ndarray) -> float:
    """Mean of a square kernel matrix off its diagonal (the unbiased within-set term)."""
    return float((k.sum() - np.trace(k)) / (len(k) * (len(k) - 1)))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    m = len(x)
    kxx, kyy, kxy = _cubic(x, x), _cubic(y, y), _cubic(x, y)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.mean())


def mmd2_unbiased_statistic(real, fake, max_real: int = 1000, seed: int = 0):
    """`positions -> unbiased MMD^2 (cubic kernel)` of the generated rows at those positions against a fixed
    seeded subset of up to `max_real` real rows; the kernel matrices are computed once, so an interval's
    resamples cost index sums."""
    real = as_float64_matrix(real, "real feature set", min_rows=2)
    fake = as_float64_matrix(fake, "generated feature set", min_rows=2)
    if real.shape[1] != fake.shape[1]:
        raise MetricInputError(f"feature dimensions differ: {real.shape[1]} and {fake.shape[1]}")
    rows = np.random.default_rng(seed).choice(len(real), min(len(real), max_real), replace=False)
    reference = real[np.sort(rows)]
    k_ff, k_fr, k_rr = _cubic(fake, fake), _cubic(fake, reference).mean(axis=1), _within_mean(_cubic(reference, reference))

    def statistic(positions: np.ndarray) -> float:
        return _within_mean(k_ff[np.ix_(positions, positions)]) - 2 * float(k_fr[positions].mean()) + k_rr

    return statistic


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


def mmd_polynomial(x, y, degree: int = 2, gamma: float | None = None, coef0: float = 0.0) -> float:
    """Biased MMD^2 with k(x, y) = (gamma x.y + coef0)^degree, gamma 1/d by default: mean K_XX + mean K_YY
    - 2 mean K_XY, diagonals included (videojedi's `mmd_poly`, sklearn's `polynomial_kernel`), in float64."""
    x = as_float64_matrix(x, "first feature set")
    y = as_float64_matrix(y, "second feature set")
    if x.shape[1] != y.shape[1]:
        raise MetricInputError(f"feature dimensions differ: {x.shape[1]} and {y.shape[1]}")
    gamma = 1.0 / x.shape[1] if gamma is None else float(gamma)

    def kernel_mean(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean((gamma * (a @ b.T) + coef0) ** degree))

    return kernel_mean(x, x) + kernel_mean(y, y) - 2 * kernel_mean(x, y)


def jedi(x, y) -> float:
    """JEDi of two feature sets `[N, D]`, `[M, D]`: 100 x mmd_polynomial(degree 2, gamma 1/D, coef0 0)."""
    return 100.0 * mmd_polynomial(x, y, degree=2, gamma=None, coef0=0.0)


def jedi_from_stats(a, b) -> float:
    """JEDi from two FeatureStats (streaming, mergeable): 100 |S_a - S_b|_F^2 / D^2 with S = sum_outer / count.
    Equals `jedi` on the features the statistics were built from, up to float64 round-off."""
    if a.dim != b.dim:
        raise MetricInputError(f"feature dimensions differ: {a.dim} and {b.dim}")
    for stats, name in ((a, "first"), (b, "second")):
        if stats.count < 1:
            raise MetricInputError(f"{name} feature statistics hold no sample")
    diff = a.sum_outer / a.count - b.sum_outer / b.count
    return float(100.0 * np.sum(diff * diff) / a.dim ** 2)
