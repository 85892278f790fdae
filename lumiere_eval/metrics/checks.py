"""Input checks shared by the metric functions: finite values, matching shapes, enough samples."""
from __future__ import annotations

import numpy as np

from lumiere_eval import LumiereEvalError


class MetricInputError(LumiereEvalError):
    """Features or probabilities a metric cannot use (NaN, wrong shape, too few samples)."""


def as_float64_matrix(x, name: str, min_rows: int = 1) -> np.ndarray:
    """`x` as a float64 `[N, D]` array, or an error naming `name` and what is wrong with it."""
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise MetricInputError(f"{name}: expected a 2-D array [N, D], got shape {list(arr.shape)}")
    if arr.shape[0] < min_rows:
        raise MetricInputError(f"{name}: needs at least {min_rows} rows, got {arr.shape[0]}")
    check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise if `arr` has NaN or infinite entries, saying how many and where the first one is."""
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise MetricInputError(f"{name}: {int(bad.sum())} NaN or infinite value(s), first at index {first}")
