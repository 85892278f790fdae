"""Bradley-Terry with ties (Davidson): against choix, a closed form and a direct optimisation; recovery of
known strengths from simulated people with ties and spammers; interval coverage; robustness to removed votes."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from lumiere_eval.human_study.leaderboard import (
    bootstrap, fit, leaderboard, paired_votes, votes_to_change_top,
)
from lumiere_eval.human_study.results import Vote
from lumiere_eval.human_study.simulate import VotePopulation, davidson_probabilities


def two_model_closed_form(wins: int, losses: int, ties: int) -> tuple[float, float]:
    """Davidson MLE for two models: theta_0 - theta_1 = log(wins / losses), nu = ties / sqrt(wins losses)."""
    return float(np.log(wins / losses)), float(ties / np.sqrt(wins * losses))


def _bt_comparisons(rng, n, count, strengths):
    data, wins = [], np.zeros((n, n))
    for _ in range(count):
        i, j = rng.choice(n, size=2, replace=False)
        winner, loser = (i, j) if rng.random() < 1 / (1 + np.exp(strengths[j] - strengths[i])) else (j, i)
        data.append((int(winner), int(loser)))
        wins[winner, loser] += 1
    return data, wins


def test_without_ties_it_is_bradley_terry_as_choix_computes_it():
    choix = pytest.importorskip("choix", reason="choix is in the dev extra")
    rng = np.random.default_rng(5)
    data, wins = _bt_comparisons(rng, 6, 600, np.array([1.2, 0.5, 0.4, 0.0, -0.7, -1.4]))
    ours = fit(wins).log_strength
    assert fit(wins).log_nu is None
    # choix.ilsr_pairwise with alpha=0 is the plain MLE (choix centres nothing: we compare centred values)
    ilsr = choix.ilsr_pairwise(6, data, alpha=0.0, tol=1e-12)
    np.testing.assert_allclose(ours, ilsr - ilsr.mean(), atol=1e-8)
    # choix.opt_pairwise adds a ridge alpha * ||theta||^2 / 2; with alpha 1e-6 it moves the MLE by ~1e-6
    opt = choix.opt_pairwise(6, data, alpha=1e-6, method="BFGS")
    np.testing.assert_allclose(ours, opt - opt.mean(), atol=1e-4)


def test_two_models_with_ties_match_davidsons_closed_form():
    for w, l, t in ((30, 20, 10), (7, 12, 1), (50, 5, 40)):
        result = fit(np.array([[0, w], [l, 0]]), np.array([[0, t], [t, 0]]))
        difference, nu = two_model_closed_form(w, l, t)
        assert result.log_strength[0] - result.log_strength[1] == pytest.approx(difference, abs=1e-9)
        assert np.exp(result.log_nu) == pytest.approx(nu, rel=1e-8)
        # the fitted probabilities are the observed shares (the two-model model is saturated)
        assert result.win_probability()[0, 1] == pytest.approx(w / (w + l + t), abs=1e-9)
        assert result.tie_probability()[0, 1] == pytest.approx(t / (w + l + t), abs=1e-9)


def test_ties_model_matches_a_direct_optimisation_of_the_likelihood():
    from scipy.optimize import minimize

    rng = np.random.default_rng(2)
    n = 4
    wins = rng.integers(3, 25, size=(n, n)).astype(float)
    np.fill_diagonal(wins, 0)
    upper = np.triu(rng.integers(0, 10, size=(n, n)), 1).astype(float)
    ties = upper + upper.T

    def nll(params):  # written out per pair, independent of the module's vectorised form
        theta, nu = np.append(0.0, params[:n - 1]), np.exp(params[-1])
        total = 0.0
        for i, j in itertools.combinations(range(n), 2):
            d = np.exp(theta[i]) + np.exp(theta[j]) + nu * np.exp((theta[i] + theta[j]) / 2)
            total -= (wins[i, j] * (theta[i] - np.log(d)) + wins[j, i] * (theta[j] - np.log(d))
                      + ties[i, j] * (np.log(nu) + (theta[i] + theta[j]) / 2 - np.log(d)))
        return total

    reference = minimize(nll, np.zeros(n), method="BFGS", options={"gtol": 1e-9})
    theta = np.append(0.0, reference.x[:n - 1])
    ours = fit(wins, ties)
    np.testing.assert_allclose(ours.log_strength, theta - theta.mean(), atol=1e-5)
    assert ours.log_nu == pytest.approx(reference.x[-1], abs=1e-5)
    assert ours.nll == pytest.approx(reference.fun, abs=1e-7)


def test_no_finite_mle_is_an_error_and_a_prior_fixes_it():
    wins = np.array([[0, 5, 3], [0, 0, 4], [0, 2, 0]])  # model 0 never lost
    with pytest.raises(ValueError, match="does not exist"):
        fit(wins)
    assert np.argmax(fit(wins, prior=0.5).log_strength) == 0


@pytest.mark.parametrize("nu, spammers", [(0.0, 0), (0.4, 0), (0.4, 5)])
def test_leaderboard_recovers_the_true_order_from_simulated_people(nu, spammers):
    truth = np.array([0.9, 0.45, 0.0, -0.45, -0.9])
    population = VotePopulation(truth, nu=nu, num_prompts=30, num_workers=25, num_spammers=spammers, seed=3)
    units = [(p, a, b) for p in range(30) for a, b in itertools.combinations(range(5), 2)]
    votes = population.answer(units, raters=3)
    board = leaderboard(votes, num_resamples=30, seed=0)
    assert board["ranking"] == ["m0", "m1", "m2", "m3", "m4"]
    assert np.all(np.diff(board["log_strength"]) < 0)
    if nu > 0 and spammers == 0:
        assert board["tie_parameter"] == pytest.approx(nu, abs=0.1)
        assert board["ties"] > 0
    if nu == 0:
        assert board["tie_parameter"] is None and board["ties"] == 0
    # spammers never say "same" and choose at random: fewer ties, strengths pulled towards 0, order kept
    if spammers:
        assert board["tie_parameter"] < nu
    above = np.asarray(board["probability_above"])
    np.testing.assert_allclose(above + above.T, 1 - np.eye(5), atol=1e-9)
    assert above[0, 4] > 0.99


def test_two_way_interval_coverage_is_near_95_percent():
    """25 simulated studies x 3 models, 20 resamples each (a coarse check; the variance from 20 resamples is
    itself noisy); benchmarks/bench_study_adaptive.py measures it on 100 studies with 100 resamples."""
    truth = np.array([0.6, 0.0, -0.6])
    hits = []
    for seed in range(25):
        population = VotePopulation(truth, nu=0.3, num_prompts=30, num_workers=15, seed=seed)
        votes = population.answer([(p, a, b) for p in range(30) for a, b in itertools.combinations(range(3), 2)], 3)
        point = fit(*votes.counts())
        interval = bootstrap(votes, 0.0, 20, seed, start=point.log_strength).interval()
        hits.extend((interval[:, 0] <= truth) & (truth <= interval[:, 1]))
    assert 0.8 <= np.mean(hits) <= 1.0, np.mean(hits)


def test_fewest_votes_to_change_the_top():
    # two models, 30 to 20: removing 11 of the leader's wins makes it 19 to 20
    assert votes_to_change_top(np.array([[0, 30], [20, 0]]))["votes"] == 11
    # ties between the two change nothing about their order: still 11
    assert votes_to_change_top(np.array([[0, 30], [20, 0]]), np.array([[0, 8], [8, 0]]))["votes"] == 11
    # three models: the greedy count equals the exact minimum found by trying every removal up to that size
    wins = np.array([[0, 9, 7], [6, 0, 6], [4, 5, 0]], dtype=float)
    greedy = votes_to_change_top(wins)
    kinds = [(a, b) for a in range(3) for b in range(3) if a != b]
    exact = None
    for size in range(1, greedy["votes"] + 1):
        for combo in itertools.combinations_with_replacement(kinds, size):
            w = wins.copy()
            for a, b in combo:
                w[a, b] -= 1
            if w.min() < 0:
                continue
            theta = fit(w, prior=0.0).log_strength
            if theta.max() > theta[0] + 1e-9:
                exact = size
                break
        if exact is not None:
            break
    assert greedy["votes"] == exact
    removed = wins.copy()
    for r in greedy["removed"]:
        removed[r["first"], r["second"]] -= r["count"]
    assert np.argmax(fit(removed).log_strength) == greedy["challenger"]


def test_leaderboard_from_study_votes_counts_same_as_a_tie():
    def vote(k, chosen, other, side, prompt, worker):
        return Vote(row=k, assignment_id=f"a{k}", worker_id=worker, item_id="h", pair_id="p", kind="comparison",
                    question="quality", side=side, chosen=chosen, other=other, prompt=prompt, correct=None)

    votes = [vote(0, "a", "b", "left", "p1", "w1"), vote(1, "b", "a", "right", "p1", "w2"),
             vote(2, "a", "b", "same", "p2", "w1"), vote(3, "a", "b", "left", "p2", "w2")]
    paired = paired_votes(votes, ["a", "b"])
    wins, ties = paired.counts()
    assert wins.tolist() == [[0, 2], [1, 0]] and ties.tolist() == [[0, 1], [1, 0]]
    assert paired.prompt.tolist() == [0, 0, 1, 1] and paired.worker.tolist() == [0, 1, 0, 1]


def test_davidson_probabilities_sum_to_one():
    p = davidson_probabilities(np.array([0.3, -0.2]), 0.5, 0, 1)
    assert p.sum() == pytest.approx(1.0) and p[0] > p[1]
