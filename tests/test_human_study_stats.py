"""The study statistics against independent computations: the published formulas, choix, krippendorff."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lumiere_eval.human_study.stats import (
    bradley_terry, holm_adjust, krippendorff_alpha_nominal, sign_test, wilson_interval,
)
from lumiere_eval.metrics.bootstrap import cluster_bootstrap


@pytest.mark.parametrize("wins,total", [(0, 10), (7, 10), (70, 100), (100, 100), (1, 3)])
def test_wilson_interval_matches_the_closed_form(wins, total):
    z = 1.959963984540054
    p = wins / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    low, high = wilson_interval(wins, total)
    assert low == pytest.approx(centre - half, abs=1e-9)
    assert high == pytest.approx(centre + half, abs=1e-9)


def test_sign_test_matches_the_binomial_sum():
    # two-sided: twice the smaller tail of Binomial(20, 1/2), capped at 1
    tail = sum(math.comb(20, k) for k in range(0, 6)) / 2 ** 20
    assert sign_test(15, 20) == pytest.approx(2 * tail, rel=1e-9)
    assert sign_test(10, 20) == pytest.approx(1.0)
    assert math.isnan(sign_test(0, 0))


def test_holm_adjust_by_hand():
    # sorted p: 0.01, 0.02, 0.03, 0.04 -> 4*0.01, 3*0.02, max(prev, 2*0.03), max(prev, 1*0.04)
    assert holm_adjust([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    adjusted = holm_adjust([0.01, float("nan"), 0.02])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def _random_comparisons(rng, n_items, n_games, strengths):
    data, wins = [], np.zeros((n_items, n_items))
    for _ in range(n_games):
        i, j = rng.choice(n_items, size=2, replace=False)
        p_i = 1 / (1 + np.exp(strengths[j] - strengths[i]))
        winner, loser = (i, j) if rng.random() < p_i else (j, i)
        data.append((int(winner), int(loser)))
        wins[winner, loser] += 1
    return data, wins


def test_bradley_terry_mm_matches_choix():
    choix = pytest.importorskip("choix", reason="choix is in the dev extra")
    rng = np.random.default_rng(3)
    strengths = np.array([1.0, 0.3, 0.0, -0.6, -1.2])
    data, wins = _random_comparisons(rng, 5, 400, strengths)
    ours = bradley_terry(wins)
    reference = choix.mm_pairwise(5, data, tol=1e-12, max_iter=100_000)
    reference = reference - reference.mean()
    np.testing.assert_allclose(ours, reference, atol=1e-6)
    ilsr = choix.ilsr_pairwise(5, data, tol=1e-12)
    np.testing.assert_allclose(ours, ilsr - ilsr.mean(), atol=1e-6)
    assert np.argsort(-ours).tolist() == [0, 1, 2, 3, 4]


def test_bradley_terry_without_a_finite_mle():
    wins = np.array([[0, 5], [0, 0]])  # item 0 won every game
    with pytest.raises(ValueError, match="does not exist"):
        bradley_terry(wins)
    scores = bradley_terry(wins, prior=0.5)
    # with 0.5 virtual wins each way the MLE is log(5.5 / 0.5) apart
    assert scores[0] - scores[1] == pytest.approx(math.log(11.0), abs=1e-6)


def test_krippendorff_alpha_matches_the_package():
    krippendorff = pytest.importorskip("krippendorff", reason="krippendorff is in the dev extra")
    rng = np.random.default_rng(0)
    raters, units = 6, 40
    truth = rng.integers(0, 2, size=units)
    data = np.where(rng.random((raters, units)) < 0.8, truth, 1 - truth).astype(float)
    data[rng.random((raters, units)) < 0.4] = np.nan  # each unit seen by a subset of raters
    reference = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    ours = krippendorff_alpha_nominal([[int(v) for v in data[:, u] if not np.isnan(v)] for u in range(units)])
    assert ours == pytest.approx(reference, abs=1e-9)
    # three categories, given as strings (model names)
    data3 = rng.integers(0, 3, size=(4, 25)).astype(float)
    reference3 = krippendorff.alpha(reliability_data=data3, level_of_measurement="nominal")
    names = np.array(["alpha", "beta", "gamma"])
    assert krippendorff_alpha_nominal([list(names[data3[:, u].astype(int)]) for u in range(25)]) == pytest.approx(
        reference3, abs=1e-9)


def test_krippendorff_alpha_edge_cases():
    assert krippendorff_alpha_nominal([["a", "a"], ["b", "b"], ["a", "a"]]) == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha_nominal([["a", "a"], ["a"]]))  # one category: undefined


def test_cluster_bootstrap_is_wider_for_clustered_votes():
    rng = np.random.default_rng(1)
    # 20 prompts with strongly prompt-dependent rates vs the same votes pooled as one cluster each
    clustered = [np.full(10, float(rng.random() < 0.5)) for _ in range(20)]
    low, high = cluster_bootstrap(clustered, np.mean, num_resamples=500, seed=0)
    votes = np.concatenate(clustered)
    w_low, w_high = wilson_interval(int(votes.sum()), len(votes))
    assert low <= votes.mean() <= high
    assert high - low > 1.5 * (w_high - w_low)
    assert cluster_bootstrap(clustered, np.mean, num_resamples=50, seed=0) == cluster_bootstrap(
        clustered, np.mean, num_resamples=50, seed=0)
