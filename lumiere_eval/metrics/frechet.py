"""The Frechet distance between two Gaussians, in float64, without scipy's sqrtm.

d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr( (S1 S2)^(1/2) )

tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1 S2, which are those of the
symmetric positive semi-definite matrix L^T S2 L where S1 = L L^T. One Cholesky factorisation and one
symmetric eigenvalue solve replace the Schur-based `scipy.linalg.sqrtm` used by pytorch-fid and StyleGAN-V.

Rank: a covariance has full rank here when its Cholesky factor exists and no pivot is below the round-off
level of a rank decision (numpy's matrix_rank tolerance, D * eps * the largest diagonal entry; a pivot
squared is never below the smallest eigenvalue, so every numerically full-rank matrix passes). When both
sides have full rank every eigenvalue of L^T S2 L is genuine and enters the sum as computed (negatives
from round-off become 0): no cut, so ill-conditioned spectra lose nothing. When a side is rank-deficient
(fewer samples than dimensions), L^T S2 L has as many round-off eigenvalues as the missing rank, and only
then are eigenvalues below that tolerance set to 0 (their square roots, about 3e-7 each, would otherwise
add up to a visible error); if neither side has full rank, the PSD square root of S1 comes from its
eigendecomposition with the same cut.
The trace identity tr((S1 S2)^(1/2)) = tr((S1^(1/2) S2 S1^(1/2))^(1/2)) holds for any PSD S1, so the
result is the exact distance of the singular Gaussians; no eps*I is added (pytorch-fid adds 1e-6*I to both
covariances when S1 S2 is singular, which moves its number by about 2e-6 * D relative to ours).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

from lumiere_eval.metrics.checks import MetricInputError, check_finite


def _as_gaussian(mu, sigma, name: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
        raise MetricInputError(f"{name}: mean of shape {list(mu.shape)} and covariance of shape "
                               f"{list(sigma.shape)} do not describe one Gaussian")
    check_finite(mu, f"{name} mean")
    check_finite(sigma, f"{name} covariance")
    return mu, sigma


def _rank_tolerance(values: np.ndarray, size: int) -> float:
    """Round-off level of a rank decision (numpy's matrix_rank tolerance): size * eps * the largest value."""
    return size * np.finfo(np.float64).eps * max(float(np.abs(values).max()), 0.0)


def _nonnegative_part(eigenvalues: np.ndarray) -> np.ndarray:
    """Eigenvalues at or below the round-off level of a rank decision become 0 (rank-deficient sides only)."""
    return np.where(eigenvalues > _rank_tolerance(eigenvalues, eigenvalues.size), eigenvalues, 0.0)


def _full_rank_cholesky(sigma: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of `sigma` if it has full rank (every pivot above the rank tolerance), else None."""
    try:
        factor = scipy.linalg.cholesky(sigma, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    pivots = np.diag(factor) ** 2
    return factor if pivots.min() > _rank_tolerance(np.diag(sigma), len(sigma)) else None


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    values, vectors = scipy.linalg.eigh(sigma)
    return (vectors * np.sqrt(_nonnegative_part(values))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((S1 S2)^(1/2)) for symmetric PSD S1, S2 (round-off cut only where a side is rank-deficient)."""
    factor1, factor2 = _full_rank_cholesky(sigma1), _full_rank_cholesky(sigma2)
    if factor1 is not None:
        factor, other = factor1, sigma2
    elif factor2 is not None:
        factor, other = factor2, sigma1
    else:
        factor, other = _psd_sqrt(sigma1), sigma2
    inner = factor.T @ other @ factor
    inner = (inner + inner.T) / 2  # symmetric up to round-off; symmetrise before the symmetric solver
    eigenvalues = scipy.linalg.eigvalsh(inner, check_finite=False)
    if factor1 is not None and factor2 is not None:
        return float(np.sqrt(np.maximum(eigenvalues, 0.0)).sum())
    return float(np.sqrt(_nonnegative_part(eigenvalues)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64 (FID/FVD)."""
    mu1, sigma1 = _as_gaussian(mu1, sigma1, "first Gaussian")
    mu2, sigma2 = _as_gaussian(mu2, sigma2, "second Gaussian")
    if mu1.size != mu2.size:
        raise MetricInputError(f"feature dimensions differ: {mu1.size} and {mu2.size}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))  # mathematically >= 0; round-off can give -1e-12 for identical inputs


def frechet_distance_to_features(mu, sigma, features, unbiased: bool = True) -> float:
    """Frechet distance from N(mu, sigma) to the Gaussian fitted to `features` `[N, D]`.

    With fewer samples than dimensions the fitted covariance is B^T B (B = centred rows / sqrt(N - 1), or
    / sqrt(N) when biased), and the non-zero eigenvalues of sigma B^T B are those of the small N x N matrix
    B sigma B^T: the distance costs O(N^2 D) instead of O(D^3). Bootstraps over a small generated set use this.
    """
    from lumiere_eval.metrics.checks import as_float64_matrix

    x = as_float64_matrix(features, "features", min_rows=2 if unbiased else 1)
    mu, sigma = _as_gaussian(mu, sigma, "reference Gaussian")
    if x.shape[1] != mu.size:
        raise MetricInputError(f"feature dimensions differ: {mu.size} and {x.shape[1]}")
    mean = x.mean(axis=0)
    b = (x - mean) / np.sqrt(len(x) - 1 if unbiased else len(x))
    if len(x) >= mu.size:
        return frechet_distance(mu, sigma, mean, b.T @ b)
    gram = b @ sigma @ b.T
    eigenvalues = scipy.linalg.eigvalsh((gram + gram.T) / 2, check_finite=False)
    diff = mu - mean
    value = diff @ diff + np.trace(sigma) + (b * b).sum() - 2.0 * np.sqrt(_nonnegative_part(eigenvalues)).sum()
    return float(max(value, 0.0))
