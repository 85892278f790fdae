"""Per-sample views of a run's set metric (no Streamlit here): each sample's leave-one-out effect on FVD and its
nearest real clip in the FVD feature space, from the feature rows the run left in the feature cache.

Nothing is decoded or extracted (`run_features(..., extract=False)`); a sample whose row is not in the cache
gets no value. The effect is FVD(all samples) - FVD(without the sample): positive when the sample raises the
run's FVD (makes it worse), on the run's own covariance convention.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lumiere_eval import LumiereEvalError
from lumiere_eval.dashboard.drilldown import LOO_EFFECT
from lumiere_eval.dashboard.paths import ResultFileError, resolve_under


@dataclass
class FvdEffects:
    """Per sample index: LOO_EFFECT, nearest_real, nearest_real_distance; the FVD of the cached rows, the run's
    recorded FVD, and how many samples had no cached row."""

    table: pd.DataFrame
    fvd: float
    recorded_fvd: float | None
    missing: int


def fvd_effects(root: Path, run_path: str) -> FvdEffects:
    """Leave-one-out FVD effects and nearest real clips of the run at `run_path` (under `root`); a run without
    cached FVD rows raises `ResultFileError` naming it."""
    from lumiere_eval.metrics import FeatureStats
    from lumiere_eval.metrics.leave_one_out import leave_one_out_frechet, nearest_rows
    from lumiere_eval.runner.run_features import run_features

    folder = resolve_under(root, run_path)
    try:
        run = run_features(folder, extract=False)
    except (LumiereEvalError, OSError, KeyError, TypeError, ValueError) as err:  # TypeError: not a runner config
        raise ResultFileError(f"{run_path}: cannot read the run's cached features "
                              f"({type(err).__name__}: {err})") from err
    fvd = run.results.get("metrics", {}).get("fvd")
    if fvd is None or "fvd" not in run.fake:
        raise ResultFileError(f"{run_path}: the run computed no FVD, so there is no leave-one-out effect")
    present = [k for k, row in enumerate(run.fake["fvd"]) if row is not None]
    real_rows = [k for k, row in enumerate(run.real["fvd"]) if row is not None]
    if len(present) < 3 or len(real_rows) < 2:
        raise ResultFileError(f"{run_path}: the feature cache holds {len(present)} generated and {len(real_rows)} "
                              "real FVD rows; rerun the run (or `lumiere-eval compare`) to fill it")
    fake = np.stack([run.fake["fvd"][k] for k in present]).astype(np.float64)
    real = np.stack([run.real["fvd"][k] for k in real_rows]).astype(np.float64)
    unbiased = fvd.get("covariance", "unbiased") == "unbiased"
    stats = FeatureStats.from_features(real)
    full, without = leave_one_out_frechet(stats.mean, stats.covariance(unbiased), fake, unbiased)
    nearest, distance = nearest_rows(fake, real)
    names = [run.real_names[real_rows[k]] if run.real_names else str(real_rows[k]) for k in nearest]
    table = pd.DataFrame({LOO_EFFECT: full - without, "nearest_real": names, "nearest_real_distance": distance},
                         index=pd.Index([run.records[k]["index"] for k in present], name="index"))
    return FvdEffects(table, full, fvd.get("value"), len(run.records) - len(present))
