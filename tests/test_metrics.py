"""Metric maths against independent computations written here (scipy sqrtm, SVD, explicit loops)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings, strategies as st

from lumiere_eval.metrics import (FeatureStats, MetricInputError, bootstrap_ci, clip_similarity, frechet_distance,
                                  frechet_distance_from_stats, inception_score, kernel_distance)


def _textbook_frechet(mu1, s1, mu2, s2):
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real))


def _gaussian_pair(d, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d))
    b = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.5 + rng.normal(size=d)
    return a, b


@pytest.mark.parametrize("d", [8, 64, 400])
def test_frechet_matches_textbook_sqrtm(d):
    a, b = _gaussian_pair(d)
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_textbook_frechet(mu1, s1, mu2, s2), rel=1e-9)


def test_frechet_matches_pytorch_fid_function():
    from pytorch_fid.fid_score import calculate_frechet_distance

    a, b = _gaussian_pair(32, seed=3)
    args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    try:
        reference = calculate_frechet_distance(*args)
    except TypeError as err:  # pytorch-fid 0.3.0 passes sqrtm(disp=False), which SciPy 1.18 removed
        pytest.skip(f"pytorch-fid cannot run on this SciPy: {err}")
    assert frechet_distance(*args) == pytest.approx(reference, rel=1e-9)


def test_distance_to_itself_is_zero_and_grows_with_shift():
    a, _ = _gaussian_pair(64)
    stats = FeatureStats.from_features(a)
    assert frechet_distance_from_stats(stats, stats) == pytest.approx(0.0, abs=1e-9)
    distances = [frechet_distance_from_stats(stats, FeatureStats.from_features(a + shift)) for shift in (0.1, 0.5, 1.0)]
    assert distances == sorted(distances) and distances[0] > 0
    assert distances[2] == pytest.approx(64 * 1.0, rel=1e-9)  # a pure mean shift adds |delta|^2 exactly


def test_singular_covariances_use_exact_psd_root():
    """Fewer samples than dimensions: compare with the nuclear norm of A B^T (S1 = A^T A, S2 = B^T B)."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 100)), rng.normal(size=(40, 100)) * 2 + 1
    sx, sy = FeatureStats.from_features(x), FeatureStats.from_features(y)
    a = (x - x.mean(0)) / np.sqrt(len(x) - 1)
    b = (y - y.mean(0)) / np.sqrt(len(y) - 1)
    trace_sqrt = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    expected = ((x.mean(0) - y.mean(0)) ** 2).sum() + (a ** 2).sum() + (b ** 2).sum() - 2 * trace_sqrt
    assert frechet_distance_from_stats(sx, sy) == pytest.approx(expected, rel=1e-9)


def test_bad_inputs_raise_clear_errors():
    a, b = _gaussian_pair(4, n=10)
    with pytest.raises(MetricInputError, match="dimensions differ"):
        frechet_distance(np.zeros(4), np.eye(4), np.zeros(5), np.eye(5))
    bad = a.copy()
    bad[3, 2] = np.nan
    with pytest.raises(MetricInputError, match=r"1 NaN or infinite value\(s\), first at index \(3, 2\)"):
        FeatureStats(4).update(bad)
    with pytest.raises(MetricInputError, match="expected dimension 4"):
        FeatureStats(4).update(np.zeros((2, 5)))
    with pytest.raises(MetricInputError, match="at least 2"):
        FeatureStats(4).covariance()
    with pytest.raises(MetricInputError, match="at least 1 rows"):
        FeatureStats(4).update(np.zeros((0, 4)))


def test_streaming_merge_save_load(tmp_path):
    a, _ = _gaussian_pair(16, n=1000)
    whole = FeatureStats.from_features(a)
    shards = [FeatureStats(16).update(a[i::3]) for i in range(3)]
    merged = shards[0].merge(shards[1]).merge(shards[2])
    np.testing.assert_allclose(merged.mean, a.mean(0), rtol=1e-12)
    np.testing.assert_allclose(merged.covariance(), np.cov(a, rowvar=False), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(merged.covariance(unbiased=False), np.cov(a, rowvar=False, bias=True), rtol=1e-9, atol=1e-12)
    path = merged.save(tmp_path / "s.npz")
    loaded = FeatureStats.load(path)
    assert loaded.count == whole.count == 1000
    np.testing.assert_array_equal(loaded.sum_outer, merged.sum_outer)
    (tmp_path / "junk.npz").write_bytes(b"not a file")
    with pytest.raises(MetricInputError, match="junk.npz"):
        FeatureStats.load(tmp_path / "junk.npz")


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 20), per_class=st.integers(1, 10), splits=st.integers(1, 3))
def test_inception_score_of_balanced_one_hot_is_k(k, per_class, splits):
    probs = np.eye(k)[np.tile(np.arange(k), per_class * splits)]
    mean, std = inception_score(probs, splits=splits)
    assert mean == pytest.approx(k, rel=1e-9) and std == pytest.approx(0, abs=1e-9)


def test_inception_score_matches_explicit_formula():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(100, 7)) * 2
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = []
    for part in np.split(p, 4):
        py = part.mean(0)
        expected.append(np.exp(np.mean([sum(q[c] * np.log(q[c] / py[c]) for c in range(7)) for q in part])))
    mean, std = inception_score(p, splits=4)
    assert mean == pytest.approx(np.mean(expected), rel=1e-12) and std == pytest.approx(np.std(expected), rel=1e-9)
    assert inception_score(np.full((10, 5), 0.2), splits=1) == pytest.approx((1.0, 0.0))
    with pytest.raises(MetricInputError, match="logits"):
        inception_score(logits, splits=1)


def test_clip_similarity_is_torchmetrics_convention():
    text = np.array([1.0, 0.0, 0.0])
    frames = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    # per frame: 100, 100/sqrt(2), clamped 0
    assert clip_similarity(frames, text) == pytest.approx((100 + 100 / np.sqrt(2) + 0) / 3)
    assert clip_similarity(frames, text, scale=1, clamp=False) == pytest.approx((1 + 1 / np.sqrt(2) - 1) / 3)
    with pytest.raises(MetricInputError, match="dimension"):
        clip_similarity(frames, np.ones(4))


def test_kernel_distance_against_explicit_loop_and_properties():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 3)) + 0.5
    k = lambda u, v: (u @ v / 3 + 1) ** 3  # noqa: E731
    m = 12
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    mean, std = kernel_distance(x, y, num_subsets=3, subset_size=12)  # whole sets: every subset is the same
    assert mean == pytest.approx(xx + yy - 2 * xy, rel=1e-10) and std == pytest.approx(0, abs=1e-12)
    big = rng.normal(size=(400, 8))
    near, _ = kernel_distance(big[:200], big[200:], num_subsets=20, subset_size=100)
    far, _ = kernel_distance(big[:200], big[200:] + 1.0, num_subsets=20, subset_size=100)
    assert abs(near) < far


def test_bootstrap_ci_is_seeded_and_covers_the_mean():
    data = np.random.default_rng(2).normal(5.0, 1.0, size=400)
    low, high = bootstrap_ci(data, seed=3)
    assert (low, high) == bootstrap_ci(data, seed=3)
    assert low < data.mean() < high and high - low == pytest.approx(2 * 1.96 / 20, rel=0.25)


@pytest.mark.parametrize("n", [5, 30, 80])
@pytest.mark.parametrize("unbiased", [True, False])
def test_distance_to_features_equals_distance_of_fitted_gaussian(n, unbiased):
    """The N x N Gram route (N < D) and the covariance route (N >= D) agree with fitting the Gaussian first."""
    from lumiere_eval.metrics import frechet_distance_to_features

    rng = np.random.default_rng(n)
    reference = rng.normal(size=(200, 40))
    mu, sigma = reference.mean(0), np.cov(reference, rowvar=False)
    x = rng.normal(size=(n, 40)) * 1.5 + 0.3
    fitted = FeatureStats.from_features(x)
    expected = frechet_distance(mu, sigma, fitted.mean, fitted.covariance(unbiased))
    assert frechet_distance_to_features(mu, sigma, x, unbiased) == pytest.approx(expected, rel=1e-9)
