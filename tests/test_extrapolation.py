"""FVD-infinity: the 1/N fit (against scikit-learn's least squares, as Chong and Forsyth's score_infinity.py fits it)
and its extrapolation on Gaussian features whose true Frechet distance is known."""
from __future__ import annotations

import numpy as np
import pytest

from lumiere_eval.metrics.checks import MetricInputError
from lumiere_eval.metrics.extrapolation import extrapolate, fit_inverse_n
from lumiere_eval.metrics.frechet import frechet_distance_to_features


def test_fit_matches_sklearn_linear_regression_on_one_over_n():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    sizes = np.linspace(500, 5000, 15).astype(int)
    values = 12.0 + 3000.0 / sizes + rng.normal(0, 0.3, len(sizes))
    reg = sklearn.LinearRegression().fit(1 / sizes.reshape(-1, 1), values)
    intercept, slope = fit_inverse_n(sizes, values)
    assert intercept == pytest.approx(reg.predict(np.array([[0.0]]))[0], rel=1e-9)
    assert slope == pytest.approx(reg.coef_[0], rel=1e-9)
    with pytest.raises(MetricInputError, match="two distinct sample sizes"):
        fit_inverse_n([64, 64], [1.0, 2.0])


def _gaussian_study(seed: int, total: int = 512, dim: int = 6):
    rng = np.random.default_rng(seed)
    shift = np.full(dim, 0.5)
    fake = rng.normal(size=(total, dim)) + shift
    truth = float(shift @ shift)  # real distribution N(0, I) known exactly: FD = |shift|^2
    statistic = lambda idx: frechet_distance_to_features(np.zeros(dim), np.eye(dim), fake[idx])
    return total, statistic, truth


def test_extrapolation_removes_most_of_the_small_n_bias():
    """16 studies of 512 samples in 16 dimensions, sizes N/4..N (where the 1/N law holds; at N below a few times
    the feature dimension it does not, docs/statistics.md): FD at 512 is biased upward, FD-infinity is not."""
    errors_at_n, errors_inf, covered = [], [], 0
    for seed in range(16):
        total, statistic, truth = _gaussian_study(seed, total=512, dim=16)
        result = extrapolate(total, statistic, [128, 256, 384, 512], draws=4, num_resamples=20, seed=seed)
        assert result["slope"] > 0  # biased upward at small N, as FVD is
        assert result["ci_low"] <= result["value"] <= result["ci_high"]
        errors_at_n.append(statistic(np.arange(total)) - truth)
        errors_inf.append(result["value"] - truth)
        covered += result["ci_low"] <= truth <= result["ci_high"]
    assert np.mean(errors_at_n) > 0.15  # measured 0.239, standard error 0.05
    assert abs(np.mean(errors_inf)) < 0.4 * np.mean(errors_at_n)  # measured 0.046, standard error 0.047
    assert covered >= 13  # 95% intervals: 15 of 16 measured


def test_points_average_fresh_subsets_and_the_full_set_once():
    total, statistic, _ = _gaussian_study(1, total=64)
    result = extrapolate(total, statistic, [16, 32, 64], draws=3, num_resamples=0, seed=0)
    assert [p["n"] for p in result["points"]] == [16, 32, 64]
    assert result["points"][-1]["mean_value"] == pytest.approx(statistic(np.arange(64)))
    assert result["ci_low"] is None and "not the protocol's number" in result["label"]
