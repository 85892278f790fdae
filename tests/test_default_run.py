"""The embedded default of `lumiere-eval ucf101` at a very small size: synthetic domain, shipped evaluators."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lumiere_eval.cli import main
from lumiere_eval.demo.default_run import MOTION_COLUMNS
from lumiere_eval.metrics.registry import get_metric
from lumiere_eval.models.base import REGISTRY
from lumiere_eval.video import read_video


def _run(tmp_path, monkeypatch, *extra):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
    out = tmp_path / "demo"
    code = main(["ucf101", "--synthetic-size", "tiny", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
                 "--no-progress", *extra])
    return code, out


def test_tiny_default_pipeline_with_dummy_generator(tmp_path, monkeypatch, capsys):
    code, out = _run(tmp_path, monkeypatch, "--model", "dummy")
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.lstrip().startswith("#####") and "SYNTHETIC DOMAIN -- NOT UCF101" in printed.splitlines()[1]
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["domain"] == "synthetic"
    dummy, real = comparison["models"]["dummy"]["metrics"], comparison["real_test"]
    # The evaluators must tell real clips of the domain from random moving squares.
    assert dummy["fvd"]["value"] > 2 * real["fvd"]["value"]
    assert real["class_accuracy"] > 0.8 and real["clipsim"]["value"] > dummy["clipsim"]["value"]
    results = json.loads((out / "dummy" / "results.json").read_text())
    assert results["domain"] == "synthetic" and "SYNTHETIC DOMAIN" in (out / "dummy" / "summary.md").read_text()
    assert results["metrics"]["fvd"]["extractor"]["id"] == "synthetic-i3d"
    report = (out / "comparison.md").read_text()
    assert "SYNTHETIC DOMAIN" in report
    # The first table's motion columns are the motion tier's registered scores (one computation, one direction).
    tier = json.loads((out / "statistics.json").read_text())
    header = next(line for line in report.splitlines() if line.startswith("| model | samples |"))
    table = report.split(header, 1)[1].split("\n\n", 1)[0]
    for name in MOTION_COLUMNS:
        assert comparison["models"]["dummy"]["motion"][name] == tier["motion"]["dummy"][name]
        assert comparison["real_test"]["motion"][name] == tier["real_test_motion"][name]
        assert f" {get_metric(name).title} |" in header
        assert f"{tier['motion']['dummy'][name]['value']:.4f}" in table
        assert f"{tier['real_test_motion'][name]['value']:.4f}" in table
    assert "flicker |" not in header and "temporal_flickering" not in comparison["models"]["dummy"]["metrics"]
    grid, _ = read_video(out / "samples_grid.gif")
    assert grid.shape[1:3] == (32 * 3, 32 * 3 * 6) and grid.std() > 5
    assert (out / "plots.png").stat().st_size > 10_000
    # A rerun is served from the caches and gives the same numbers.
    code, _ = _run(tmp_path, monkeypatch, "--model", "dummy")
    again = json.loads((out / "comparison.json").read_text())
    assert code == 0 and again["models"]["dummy"]["metrics"]["fvd"]["value"] == dummy["fvd"]["value"]
    # Two shard processes merged and one process give the same numbers.
    for workers in ("1", "2"):
        monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
        single = tmp_path / f"workers{workers}"
        assert main(["ucf101", "--synthetic-size", "tiny", "--out", str(single), "--cache-dir", str(tmp_path / "cache"),
                     "--no-progress", "--model", "dummy", "--workers", workers]) == 0
        numbers = json.loads((single / "comparison.json").read_text())["models"]["dummy"]["metrics"]
        assert {k: v["value"] for k, v in numbers.items()} == {k: v["value"] for k, v in dummy.items()}


@pytest.mark.skipif("lumiere" not in REGISTRY, reason="the lumiere generator is not registered")
def test_tiny_default_pipeline_with_shipped_lumiere(tmp_path, monkeypatch):
    code, out = _run(tmp_path, monkeypatch, "--model", "lumiere", "--num-samples", "4")
    assert code == 0
    records = [json.loads(x) for x in (out / "lumiere" / "samples.jsonl").read_text().splitlines()]
    frames, _ = read_video(out / "lumiere" / records[0]["path"])
    assert frames.shape == (16, 32, 32, 3) and np.isfinite(frames).all() and frames.std() > 3
