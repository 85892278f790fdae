"""Metric results remembered by content, so a rerun on the same rows does not recompute their intervals.

A set metric's pooled-t interval recomputes the metric R (1 + 20) times (`benchmarks/results/interval_cost.md`:
63 s for FVD at 400 dimensions and 2,048 videos, 270 s for cd-FVD, one thread). `values.compute` is a pure
function of the metric's name, its rows, its protocol, the resample count and the seed; the memo keeps its result
under the SHA-256 of those and of the package's code, in `<cache root>/metric_results/<key>.json` beside the
feature cache. A hit returns the numbers the computation would: JSON writes a float's shortest repr, which reads
back as the same float.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from lumiere_eval.files import atomic_write_json
from lumiere_eval.metrics import values
from lumiere_eval.runner.section_memo import package_fingerprint


def _rows_digest(digest, rows) -> None:
    if rows is None:
        digest.update(b"none\0")
        return
    array = np.ascontiguousarray(np.asarray(rows))
    digest.update(f"{array.dtype.str}{list(array.shape)}\0".encode())
    digest.update(array.tobytes())


class MetricMemo:
    """`values.compute` with its results kept under a content key in `root/metric_results`."""

    def __init__(self, root: Path):
        self.folder = Path(root) / "metric_results"
        self._code = package_fingerprint()

    def key(self, name: str, real, fake, protocol, num_resamples: int, seed: int) -> str:
        """SHA-256 of the metric's name, rows, protocol (its dataclass repr), resample count, seed and code."""
        digest = hashlib.sha256(f"{name}\0{protocol!r}\0{num_resamples}\0{seed}\0{self._code}\0".encode())
        _rows_digest(digest, real)
        _rows_digest(digest, fake)
        return digest.hexdigest()

    def compute(self, name: str, real, fake, protocol, num_resamples: int, seed: int) -> dict:
        """`values.compute(name, real, fake, protocol, num_resamples, seed)`, read from the memo when kept there
        (an unreadable memo file is recomputed and rewritten)."""
        path = self.folder / f"{self.key(name, real, fake, protocol, num_resamples, seed)}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass  # not kept yet, or damaged: compute it
        result = values.compute(name, real, fake, protocol, num_resamples, seed)
        atomic_write_json(path, result)
        return result
