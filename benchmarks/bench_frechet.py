"""Frechet distance: ours (Cholesky + symmetric eigenvalues) against pytorch-fid's function and scipy's sqrtm.

Run: python benchmarks/bench_frechet.py
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, record  # noqa: E402

from lumiere_eval.metrics import frechet_distance  # noqa: E402


def scipy_sqrtm_distance(mu1, s1, mu2, s2) -> float:
    """The textbook computation with scipy.linalg.sqrtm (what StyleGAN-V does)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def main() -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    warnings.simplefilter("ignore", DeprecationWarning)
    rows = []
    for dim in (400, 2048):
        rng = np.random.default_rng(0)
        a = rng.normal(size=(2 * dim, dim))
        b = a @ (np.eye(dim) + 0.05 * rng.normal(size=(dim, dim))) + 0.1
        args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
        ours_value = frechet_distance(*args)
        fid_value = calculate_frechet_distance(*args)
        repeats = 3 if dim == 400 else 1
        t_ours = best_time(lambda: frechet_distance(*args), repeats)
        t_fid = best_time(lambda: calculate_frechet_distance(*args), repeats)
        t_scipy = best_time(lambda: scipy_sqrtm_distance(*args), repeats)
        rows.append({"dim": dim, "ours_s": t_ours, "pytorch_fid_s": t_fid, "scipy_sqrtm_s": t_scipy,
                     "speedup_vs_pytorch_fid": t_fid / t_ours, "speedup_vs_scipy": t_scipy / t_ours,
                     "rel_diff_vs_pytorch_fid": abs(ours_value - fid_value) / abs(fid_value)})
    record("frechet", rows, "Best wall time of one distance computation, float64, same inputs for all three.")


if __name__ == "__main__":
    main()
