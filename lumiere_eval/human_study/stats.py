"""Statistics for paired-comparison studies: Wilson interval, sign test, Holm, Bradley-Terry, Krippendorff's alpha.

Pure functions of counts and arrays; the analysis module decides what to count.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def wilson_interval(wins: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a win rate (scipy's `binomtest(...).proportion_ci(method='wilson')`)."""
    from scipy.stats import binomtest

    if total == 0:
        return (float("nan"), float("nan"))
    ci = binomtest(int(wins), int(total)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def sign_test(wins: int, total: int) -> float:
    """Two-sided sign test p-value of `wins` out of `total` against a fair coin."""
    from scipy.stats import binomtest

    if total == 0:
        return float("nan")
    return float(binomtest(int(wins), int(total), 0.5, alternative="two-sided").pvalue)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaNs stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    running = 0.0
    for rank, idx in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def bradley_terry(wins: np.ndarray, prior: float = 0.0, max_iter: int = 10_000, tol: float = 1e-10) -> np.ndarray:
    """Bradley-Terry log-strengths (mean zero) by Hunter's (2004) MM algorithm.

    `wins[i, j]` counts how often item i beat item j. `prior` adds that many virtual wins each way to every
    pair that was compared, which keeps the estimate finite when one item won every comparison. With
    `prior=0` this is the maximum-likelihood estimate; it exists only if the comparison graph is strongly
    connected, otherwise a `ValueError` says so.
    """
    w = np.asarray(wins, dtype=np.float64).copy()
    n = w.shape[0]
    if w.shape != (n, n):
        raise ValueError(f"wins must be square, got {list(w.shape)}")
    np.fill_diagonal(w, 0.0)
    compared = (w + w.T) > 0
    w += prior * compared
    games = w + w.T
    total_wins = w.sum(axis=1)
    if prior == 0.0 and not _strongly_connected(w > 0):
        raise ValueError("Bradley-Terry maximum likelihood does not exist: some item never lost or never won "
                         "against the rest (use prior > 0)")
    strength = np.ones(n)
    for _ in range(max_iter):
        denom = (games / (strength[:, None] + strength[None, :])).sum(axis=1)
        updated = np.where(denom > 0, total_wins / np.where(denom > 0, denom, 1.0), strength)
        updated /= np.exp(np.mean(np.log(updated)))
        if np.max(np.abs(np.log(updated) - np.log(strength))) < tol:
            strength = updated
            break
        strength = updated
    log_strength = np.log(strength)
    return log_strength - log_strength.mean()


def _strongly_connected(edges: np.ndarray) -> bool:
    """Whether every node reaches every other along directed edges `edges[i, j]` (i beat j)."""
    n = edges.shape[0]

    def reach(adjacency: np.ndarray) -> int:
        seen, stack = {0}, [0]
        while stack:
            node = stack.pop()
            for nxt in np.flatnonzero(adjacency[node]):
                if int(nxt) not in seen:
                    seen.add(int(nxt))
                    stack.append(int(nxt))
        return len(seen)

    return n <= 1 or (reach(edges) == n and reach(edges.T) == n)


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable]]) -> float:
    """Krippendorff's alpha for nominal data; `units[u]` holds the values the raters gave unit u.

    Built from the coincidence matrix (Krippendorff 2011): units with fewer than two values are not
    pairable and are skipped. Returns NaN when there is no disagreement possible (one category only).
    """
    categories = sorted({v for unit in units for v in unit}, key=str)
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    coincidence = np.zeros((k, k))
    for unit in units:
        m = len(unit)
        if m < 2:
            continue
        counts = np.zeros(k)
        for v in unit:
            counts[index[v]] += 1
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n <= 1 or k < 2:
        return float("nan")
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (n * n - np.sum(n_c ** 2)) / (n - 1)
    if expected == 0:
        return float("nan")
    return float(1.0 - observed / expected)
