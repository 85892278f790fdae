"""Improved precision/recall (Kynkaanniemi et al. 2019, k = 3): the pure maths against the `prdc` package (Naeem
et al.'s reference code) on the same feature rows, its properties, and the metric through `lumiere-eval metrics`."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_metrics_cli import run_metrics, setup  # noqa: F401 - the module fixture

from lumiere_eval.metrics import values
from lumiere_eval.metrics.precision_recall import knn_radii, precision_recall
from lumiere_eval.metrics.protocols import get_fvd_protocol
from lumiere_eval.metrics.registry import get_metric


@pytest.mark.parametrize("n_real, n_fake, dim, shift", [(200, 150, 8, 0.5), (64, 300, 16, 0.1), (1500, 1200, 4, 0.2)])
def test_precision_recall_equal_prdc_on_the_same_rows(n_real, n_fake, dim, shift, capsys):
    prdc = pytest.importorskip("prdc")
    rng = np.random.default_rng(n_real + dim)
    real = rng.normal(size=(n_real, dim))
    fake = shift + 1.3 * rng.normal(size=(n_fake, dim))
    reference = prdc.compute_prdc(real, fake, nearest_k=3)
    capsys.readouterr()  # prdc prints the set sizes
    precision, recall = precision_recall(real, fake, k=3)
    # exact: both count indicators over the same float64 distances (ties have probability 0 here)
    assert precision == float(reference["precision"]) and recall == float(reference["recall"])
    assert 0.0 < precision < 1.0 and 0.0 < recall < 1.0


def test_precision_recall_properties():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(100, 6))
    assert precision_recall(real, real.copy()) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    # a generated set collapsed onto a part of the real set: precise, little recall
    part = real[real[:, 0] > 1.0]
    precision, recall = precision_recall(real, part + 1e-6)
    assert precision == 1.0 and recall < 0.5
    radii = knn_radii(real, 3)
    brute = np.sort(np.linalg.norm(real[:, None] - real[None], axis=-1), axis=1)[:, 3]
    np.testing.assert_allclose(radii, brute, rtol=1e-9, atol=1e-12)


def test_registry_entries_share_the_fvd_pass_and_precision_has_its_interval():
    assert get_metric("precision").features == get_metric("fvd").features == get_metric("recall").features
    assert get_metric("precision").higher_is_better and get_metric("recall").higher_is_better
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(80, 5)), 0.3 + rng.normal(size=(40, 5))
    entry = values.compute("precision", real, fake, get_fvd_protocol("fvd2048_16f"), 50, seed=0)
    assert entry["value"] == precision_recall(real, fake)[0] and entry["ci_low"] <= entry["value"] <= entry["ci_high"]
    assert values.compute("recall", real, fake, get_fvd_protocol("fvd2048_16f"), 50, seed=0)["ci_low"] is None


def test_metrics_command_computes_precision_and_recall_from_the_fvd_rows(setup, tmp_path):  # noqa: F811
    out = tmp_path / "record.json"
    assert run_metrics(setup, "--metrics", "fvd,precision,recall", "--out", str(out)) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert set(metrics) == {"fvd", "precision", "recall"}
    for name in ("precision", "recall"):
        assert 0.0 <= metrics[name]["value"] <= 1.0 and metrics[name]["higher_is_better"] is True
        assert metrics[name]["protocol"] == metrics["fvd"]["protocol"]
