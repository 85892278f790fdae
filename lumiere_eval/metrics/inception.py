"""Inception Score: exp(E_x KL(p(y|x) || p(y))), averaged over splits (StyleGAN-V: 10, TGAN: 1).

The KL term is exact by default (0 log 0 = 0, as StyleGAN-V's `p * (log p - log p_bar)` on strictly positive
softmax outputs); TGAN's calc_inception.py adds 1e-7 inside both logarithms (`log_eps=1e-7`).
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError, as_float64_matrix


def inception_score(probs, splits: int = 10, shuffle_seed: int | None = None,
                    log_eps: float = 0.0) -> tuple[float, float]:
    """Mean and standard deviation over `splits` equal parts of the IS of class probabilities `[N, C]`.

    Parts are contiguous, as in StyleGAN-V (`i*N//splits : (i+1)*N//splits`); `shuffle_seed` first permutes
    the rows as StyleGAN-V does (`np.random.RandomState(seed)`), so its splits are reproduced exactly.
    `log_eps` is added inside both logarithms (TGAN: 1e-7). Rows must be probabilities (softmax already
    applied): non-negative and summing to 1.
    """
    p = as_float64_matrix(probs, "class probabilities")
    if splits < 1 or splits > len(p):
        raise MetricInputError(f"inception score: splits must be in 1..{len(p)} (one sample per split at least), "
                               f"got {splits}")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise MetricInputError("class probabilities: rows must be non-negative and sum to 1 "
                               "(these look like logits: apply a softmax first)")
    if shuffle_seed is not None:
        p = p[np.random.RandomState(shuffle_seed).permutation(len(p))]
    n = len(p)
    scores = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        if log_eps:
            kl = (part * (np.log(part + log_eps) - np.log(marginal + log_eps))).sum(axis=1)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                kl = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
