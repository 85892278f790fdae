"""Temporal consistency of a video from its pixels: how much frames change, and how much they flicker.

- `motion`: mean |x_{t+1} - x_t| (0..255 scale): 0 for a frozen video.
- `flicker`: mean |x_{t+1} - 2 x_t + x_{t-1}|: the second temporal difference, small for smooth motion and
  large for frame-to-frame jitter; compare it with the same measure on real clips of the domain.
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError


def temporal_consistency(frames) -> dict[str, float]:
    """Motion and flicker of uint8 or float frames `[T, H, W, C]` (T >= 3)."""
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 4 or x.shape[0] < 3:
        raise MetricInputError(f"temporal consistency needs frames [T >= 3, H, W, C], got shape {list(x.shape)}")
    first = np.diff(x, axis=0)
    second = np.diff(x, n=2, axis=0)
    return {"motion": float(np.abs(first).mean()), "flicker": float(np.abs(second).mean())}
