"""Conformance of the named Inception Score protocols: each against a direct numpy transcription of the
reference's formula (StyleGAN-V src/metrics/video_inception_score.py, TGAN evaluation/calc_inception.py), on
one 10,000 x 101 probability matrix. Measured differences are recorded in docs/conformance.md."""
from __future__ import annotations

import numpy as np
import pytest

from lumiere_eval.metrics.protocols import DEFAULT_IS_PROTOCOL, get_is_protocol, protocol_inception_score


def stylegan_v_isv(gen_probs: np.ndarray, num_gen: int, num_splits: int) -> tuple[float, float]:
    """StyleGAN-V compute_isv after the detector: in-place RandomState(42) shuffle, num_gen-based splits."""
    gen_probs = gen_probs[:num_gen].copy()
    scores = []
    np.random.RandomState(42).shuffle(gen_probs)
    for i in range(num_splits):
        part = gen_probs[i * num_gen // num_splits:(i + 1) * num_gen // num_splits]
        kl = part * (np.log(part) - np.log(np.mean(part, axis=0, keepdims=True)))
        kl = np.mean(np.sum(kl, axis=1))
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def tgan_calc_inception(ys: np.ndarray) -> float:
    """TGAN calc_inception: one split over every sample, 1e-7 inside both logs."""
    n, _ = ys.shape
    p_all = np.mean(ys, axis=0, keepdims=True)
    kl = np.sum(ys * np.log(ys + 1e-7) - ys * np.log(p_all + 1e-7)) / n
    return float(np.exp(kl))


@pytest.fixture(scope="module")
def probs() -> np.ndarray:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(10_000, 101)) * 2.5 + rng.normal(size=(1, 101))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def test_isv2048_ucf_is_stylegan_v(probs):
    ours = protocol_inception_score(get_is_protocol("isv2048_ucf"), probs)
    np.testing.assert_allclose(ours, stylegan_v_isv(probs, 2048, 10), rtol=1e-12)


def test_is10k_tgan_ucf_is_tgan(probs):
    ours, std = protocol_inception_score(get_is_protocol("is10k_tgan_ucf"), probs)
    assert std == 0.0
    assert ours == pytest.approx(tgan_calc_inception(probs), rel=1e-12, abs=0)
    exact = protocol_inception_score(get_is_protocol("is10k_10splits_ucf").derive(splits=1, shuffle_seed=None), probs)
    assert abs(ours - exact[0]) / ours > 1e-9  # the 1e-7 inside the logs is visible on this matrix


def test_is10k_10splits_ucf_is_ten_stylegan_v_splits_of_the_whole_set(probs):
    ours = protocol_inception_score(get_is_protocol("is10k_10splits_ucf"), probs)
    np.testing.assert_allclose(ours, stylegan_v_isv(probs, 10_000, 10), rtol=1e-12)


def test_the_conventions_give_different_numbers_and_the_default_is_tgan(probs):
    values = {name: protocol_inception_score(get_is_protocol(name), probs)[0]
              for name in ("isv2048_ucf", "is10k_tgan_ucf", "is10k_10splits_ucf")}
    print("\n" + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
    assert len({round(v, 6) for v in values.values()}) == 3
    assert DEFAULT_IS_PROTOCOL == "is10k_tgan_ucf"
    assert "logeps1e-07" in get_is_protocol(DEFAULT_IS_PROTOCOL).id
