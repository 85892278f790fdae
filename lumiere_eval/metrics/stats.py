"""Streaming feature statistics: float64 count, sum and sum of outer products. Never holds the features.

Shards merge exactly (sums add), so a distributed run and a single-process run describe the same Gaussian.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError, as_float64_matrix
from lumiere_eval.metrics.frechet import frechet_distance


class FeatureStats:
    """Sufficient statistics of a feature set for its mean and covariance; `meta` records where they came from."""

    def __init__(self, dim: int, meta: dict[str, Any] | None = None):
        self.dim = int(dim)
        self.count = 0
        self.sum = np.zeros(self.dim, dtype=np.float64)
        self.sum_outer = np.zeros((self.dim, self.dim), dtype=np.float64)
        self.meta: dict[str, Any] = dict(meta or {})

    def update(self, features) -> FeatureStats:
        """Add a batch of features `[N, D]` (NaN or infinite values are an error)."""
        x = as_float64_matrix(features, "features")
        if x.shape[1] != self.dim:
            raise MetricInputError(f"features: expected dimension {self.dim}, got {x.shape[1]}")
        self.count += x.shape[0]
        self.sum += x.sum(axis=0)
        self.sum_outer += x.T @ x
        return self

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Add another shard's statistics into these (same dimension required)."""
        if other.dim != self.dim:
            raise MetricInputError(f"cannot merge statistics of dimension {other.dim} into {self.dim}")
        self.count += other.count
        self.sum += other.sum
        self.sum_outer += other.sum_outer
        return self

    @property
    def mean(self) -> np.ndarray:
        """The mean feature."""
        self._need(1)
        return self.sum / self.count

    def covariance(self, unbiased: bool = True) -> np.ndarray:
        """Covariance: unbiased (1/(N-1): TF-GAN, pytorch-fid) or biased (1/N: StyleGAN-V)."""
        self._need(2 if unbiased else 1)
        mean = self.mean
        scatter = self.sum_outer - self.count * np.outer(mean, mean)
        return scatter / (self.count - 1 if unbiased else self.count)

    def _need(self, n: int) -> None:
        if self.count < n:
            raise MetricInputError(f"feature statistics hold {self.count} sample(s); need at least {n}")

    def save(self, path: str | os.PathLike) -> Path:
        """Write to a .npz file atomically (temporary name, then rename)."""
        from lumiere_eval.files import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            np.savez(tmp, dim=self.dim, count=self.count, sum=self.sum, sum_outer=self.sum_outer,
                     meta=np.array(json.dumps(self.meta, sort_keys=True)))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> FeatureStats:
        """Read statistics written by `save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                stats = cls(int(data["dim"]), json.loads(str(data["meta"])))
                stats.count = int(data["count"])
                stats.sum = data["sum"].astype(np.float64)
                stats.sum_outer = data["sum_outer"].astype(np.float64)
        except (OSError, KeyError, ValueError) as err:
            raise MetricInputError(f"{path}: not a feature statistics file ({err})") from err
        return stats

    @classmethod
    def from_features(cls, features, meta: dict[str, Any] | None = None) -> FeatureStats:
        """Statistics of an in-memory feature array `[N, D]`."""
        x = as_float64_matrix(features, "features")
        return cls(x.shape[1], meta).update(x)


def frechet_distance_from_stats(a: FeatureStats, b: FeatureStats, unbiased: bool = True) -> float:
    """Frechet distance between the Gaussians fitted to two feature sets."""
    return frechet_distance(a.mean, a.covariance(unbiased), b.mean, b.covariance(unbiased))
