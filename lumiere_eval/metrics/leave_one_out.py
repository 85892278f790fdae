"""Each generated sample's leave-one-out effect on the Frechet distance, and its nearest reference row.

Removing row i of N generated rows is a rank-one downdate: with m the mean, S the scatter sum (x - m)(x - m)^T
and d_i = x_i - m, the mean becomes m - d_i / (N - 1) and the scatter S - N / (N - 1) d_i d_i^T. With the
reference covariance Sigma = L L^T, the trace term tr((C_i Sigma)^(1/2)) is tr(M_i^(1/2)) for
M_i = Lambda - c z_i z_i^T, where Q Lambda Q^T = L^T S L / denom (one eigendecomposition for all rows),
z_i = Q^T L^T d_i and c = N / ((N - 1) denom). Its change from tr(Lambda^(1/2)) follows from

    tr(M^(1/2)) = (2 / pi) int_0^inf [D - w^2 tr((M + w^2)^-1)] dw

and Sherman-Morrison: tr((M_i + w^2)^-1) - tr((Lambda + w^2)^-1) = c g2 / (1 - c g1), with
g1 = sum_k z_ik^2 / (lambda_k + w^2) and g2 = sum_k z_ik^2 / (lambda_k + w^2)^2. The integral is taken by the
trapezoid rule in u = log w (the integrand decays exponentially both ways and is analytic in a strip of width
pi / 2, so the rule converges geometrically); 1 - c g1 is written as (1 - c g1(0)) + c w^2 sum_k z_ik^2 /
(lambda_k (lambda_k + w^2)), free of cancellation at small w (the first part is 0 when the removal lowers the
rank, as it always does with fewer rows than dimensions). Every row at once costs three matrix products
[N, D] x [D, nodes]: O(D^3 + N D nodes) instead of N eigendecompositions.
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError, as_float64_matrix
from lumiere_eval.metrics.frechet import _as_gaussian, _full_rank_cholesky, _psd_sqrt, _rank_tolerance

STEP = 0.2  # trapezoid step in log w; the error falls like exp(-pi^2 / STEP)
MARGIN = 40.0  # log w beyond the spectrum's scales, both sides (the integrand falls like exp(-|u|) there)


def leave_one_out_frechet(mu, sigma, features, unbiased: bool = True) -> tuple[float, np.ndarray]:
    """(distance of all rows, distance with each row left out `[N]`) from N(mu, sigma) to the Gaussian fitted to
    `features` `[N, D]` (covariance over N - 1, or N when biased), as `frechet_distance_to_features` computes it."""
    x = as_float64_matrix(features, "features", min_rows=3 if unbiased else 2)
    mu, sigma = _as_gaussian(mu, sigma, "reference Gaussian")
    if x.shape[1] != mu.size:
        raise MetricInputError(f"feature dimensions differ: {mu.size} and {x.shape[1]}")
    n = len(x)
    mean = x.mean(axis=0)
    d = x - mean
    denom_all, denom_loo = (n - 1, n - 2) if unbiased else (n, n - 1)
    factor = _full_rank_cholesky(sigma)
    factor = _psd_sqrt(sigma) if factor is None else factor
    projected = d @ factor  # rows L^T d_i
    eigenvalues, vectors = np.linalg.eigh(projected.T @ projected / denom_loo)
    keep = eigenvalues > _rank_tolerance(eigenvalues, eigenvalues.size)
    lam, z = eigenvalues[keep], projected @ vectors[:, keep]
    shift = mean - mu
    scatter_trace = float((d * d).sum())
    norms = (d * d).sum(axis=1)
    trace_sigma = float(np.trace(sigma))
    root_all = float(np.sqrt(lam * denom_loo / denom_all).sum())
    full = shift @ shift + scatter_trace / denom_all + trace_sigma - 2.0 * root_all
    c = n / ((n - 1) * denom_loo)
    mean_term = shift @ shift - 2.0 * (d @ shift) / (n - 1) + norms / (n - 1) ** 2
    trace_term = (scatter_trace - n / (n - 1) * norms) / denom_loo
    # n rows span at most n - 1 dimensions: at that rank every removal lowers it, and 1 - c z^T Lambda^-1 z = 0
    roots = np.sqrt(lam).sum() + _downdated_root_change(lam, z * z, c, rank_drops=lam.size >= n - 1)
    loo = mean_term + trace_term + trace_sigma - 2.0 * roots
    return float(max(full, 0.0)), np.maximum(loo, 0.0)


def _downdated_root_change(lam: np.ndarray, z2: np.ndarray, c: float, rank_drops: bool) -> np.ndarray:
    """tr((Lambda - c z_i z_i^T)^(1/2)) - tr(Lambda^(1/2)) for each row of `z2` (= z_i^2), by the integral above."""
    if lam.size == 0:
        return np.zeros(len(z2))
    scales = np.log(lam) / 2
    u = np.arange(scales.min() - MARGIN, scales.max() + MARGIN + STEP, STEP)
    w2 = np.exp(2 * u)
    resolvent = 1.0 / (lam[:, None] + w2[None, :])  # [K, nodes]
    g2 = z2 @ (resolvent * resolvent)
    # 1 - c g1(w) written as gap0 + c w^2 sum z^2 / (lambda (lambda + w^2)) with gap0 = 1 - c g1(0): no
    # cancellation at small w, where gap0 is 0 when the row's removal lowers the rank (fewer rows than dimensions)
    gap0 = 0.0 if rank_drops else np.maximum(1.0 - c * (z2 / lam).sum(axis=1), 0.0)[:, None]
    gap = gap0 + c * w2 * ((z2 / lam) @ resolvent)
    integrand = w2 * np.sqrt(w2) * (c * g2 / gap)  # w^3 * change of the resolvent's trace (dw = w du)
    return -(2.0 / np.pi) * STEP * integrand.sum(axis=1)


def nearest_rows(queries, reference, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `queries` `[N, D]`, the index of its nearest row of `reference` `[R, D]` (Euclidean) and
    the distance, in chunks of `chunk` queries (memory O(chunk R))."""
    q = as_float64_matrix(queries, "queries", min_rows=1)
    r = as_float64_matrix(reference, "reference", min_rows=1)
    if q.shape[1] != r.shape[1]:
        raise MetricInputError(f"feature dimensions differ: {q.shape[1]} and {r.shape[1]}")
    ref_norms = (r * r).sum(axis=1)
    index, distance = np.empty(len(q), dtype=np.int64), np.empty(len(q))
    for start in range(0, len(q), chunk):
        part = q[start:start + chunk]
        squared = (part * part).sum(axis=1)[:, None] + ref_norms[None, :] - 2.0 * part @ r.T
        best = squared.argmin(axis=1)
        index[start:start + chunk] = best
        distance[start:start + chunk] = np.sqrt(np.maximum(squared[np.arange(len(part)), best], 0.0))
    return index, distance
