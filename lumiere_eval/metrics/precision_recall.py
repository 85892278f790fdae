"""Improved precision and recall of generated samples (Kynkaanniemi et al., NeurIPS 2019), on feature rows.

Each set's manifold is the union of balls around its samples, each ball's radius the distance to the sample's
k-th nearest neighbour in its own set (k = 3 in the paper). Precision: the fraction of generated samples inside
the real manifold (how many generated videos look real). Recall: the fraction of real samples inside the generated
manifold (how much of the real variety the model covers). Euclidean distances in float64, computed in blocks of
rows so that 10k x 10k sets never hold the whole distance matrix.
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError

DEFAULT_K = 3
_BLOCK = 1024


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of `a` and of `b` (float64, clipped at 0 against round-off)."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def knn_radii(rows: np.ndarray, k: int = DEFAULT_K) -> np.ndarray:
    """Each row's distance to its k-th nearest other row of the same set."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or len(rows) <= k:
        raise MetricInputError(f"k-NN radii need more than k={k} rows of shape [N, D], got shape {rows.shape}")
    out = np.empty(len(rows))
    for start in range(0, len(rows), _BLOCK):
        block = _distances(rows[start:start + _BLOCK], rows)
        out[start:start + _BLOCK] = np.partition(block, k, axis=1)[:, k]  # index 0 is the row itself (0)
    return out


def inside_manifold(points: np.ndarray, support: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Whether each of `points` lies within some ball of `support` (distance <= that row's radius)."""
    points, support = np.asarray(points, dtype=np.float64), np.asarray(support, dtype=np.float64)
    out = np.empty(len(points), dtype=bool)
    for start in range(0, len(points), _BLOCK):
        out[start:start + _BLOCK] = (_distances(points[start:start + _BLOCK], support) <= radii[None, :]).any(1)
    return out


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = DEFAULT_K) -> tuple[float, float]:
    """Improved precision and recall of `fake` against `real` feature rows ([N, D] each)."""
    precision = inside_manifold(fake, real, knn_radii(real, k)).mean()
    recall = inside_manifold(real, fake, knn_radii(fake, k)).mean()
    return float(precision), float(recall)
