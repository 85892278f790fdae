"""The evaluation engine behind every command: `ucf101` with every metric at once (tiny random-weight extractors,
cd-FVD and JEDi on reduced VideoMAE-v2 / V-JEPA built from their own classes), then `compare` and `curves` of two
such runs showing cd-FVD, JEDi, precision and motion rows; labels that say what was computed."""
from __future__ import annotations

import json
import warnings

import pytest
import torch

from lumiere_eval import extractors
from lumiere_eval.cli import main
from lumiere_eval.extractors.videomae import VideoMAEv2
from lumiere_eval.extractors.vjepa import AttentiveProbe, VJEPAEncoder
from lumiere_eval.metrics.registry import METRICS
from lumiere_eval.runner.evaluation import ENGINE_METRICS, MetricSelectionError, parse_metrics
from test_metrics_cdfvd_jedi import VIDEOMAE_TINY, VJEPA_TINY, _register_tiny
from test_runner_ucf101 import args_for, build_tree, weights  # noqa: F401 - the fixture

ALL = "fvd,kvd,is,clipsim,cdfvd,jedi,precision,recall,motion"


@pytest.fixture
def big_weights(tmp_path_factory, weights):
    folder = tmp_path_factory.mktemp("newer")
    torch.manual_seed(0)
    torch.save({"module": VideoMAEv2(VIDEOMAE_TINY).state_dict()}, folder / "videomae.pth")
    encoder, probe = VJEPAEncoder(VJEPA_TINY), AttentiveProbe(VJEPA_TINY)
    torch.nn.init.normal_(probe.pooler.query_tokens)
    torch.save({"target_encoder": {f"module.{k}": v for k, v in encoder.state_dict().items()}},
               folder / "vith16.pth.tar")
    torch.save({"classifier": {f"module.{k}": v for k, v in probe.state_dict().items()}}, folder / "probe.pth.tar")
    return ["--videomae", str(folder / "videomae.pth"), "--vjepa", str(folder / "vith16.pth.tar"),
            "--vjepa-probe", str(folder / "probe.pth.tar")]


def _run(root, out, weights, big_weights, *extra) -> dict:
    argv = args_for(root, out, weights, *big_weights, *extra)
    argv[argv.index("--metrics") + 1] = ALL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0
    return json.loads((out / "results.json").read_text())


def test_every_metric_in_one_run_then_compare_and_curves(tmp_path, weights, big_weights, monkeypatch, capsys):
    _register_tiny(monkeypatch)
    root = build_tree(tmp_path / "data")
    runs = {noise: tmp_path / f"run{noise}" for noise in ("5", "40")}
    for noise, out in runs.items():
        results = _run(root, out, weights, big_weights, "--model-arg", f"noise={noise}")
    motion = {n for n, m in METRICS.items() if m.tier == "motion"}
    assert {"fvd", "kvd", "is", "clipsim", "cdfvd", "jedi", "precision", "recall"} <= set(results["metrics"])
    assert set(results["metrics"]) & motion  # the motion tier's scores are metrics of the run
    for name, entry in results["metrics"].items():
        assert entry["higher_is_better"] == METRICS[name].higher_is_better and entry["n"] > 0
    assert results["protocols"]["cdfvd"]["name"] == "cdfvd2048_16f" and results["protocols"]["jedi"]["name"]
    assert "fvd" not in results["short_of_protocol"]  # FVD's protocol is labelled with the 9 samples it used
    assert results["short_of_protocol"]["is"] == {"wanted": 10000, "given": 9}  # the IS protocol's count
    assert results["short_of_protocol"]["jedi"]["wanted"] == 5000
    assert "is used 9 of 10000" in (runs["40"] / "summary.md").read_text()
    capsys.readouterr()

    assert main(["compare", str(runs["5"]), str(runs["40"]), "--bootstrap", "100", "--out", str(tmp_path)]) == 0
    compared = json.loads((tmp_path / "compare.json").read_text())["metrics"]
    assert {"fvd", "kvd", "is", "cdfvd", "jedi", "precision", "clipsim"} <= set(compared)
    assert "recall" not in compared  # its registered interval is none: no resampled difference either
    assert set(compared) & motion
    assert compared["cdfvd"]["kind"] == "set" and compared["jedi"]["higher_is_better"] is False

    assert main(["curves", str(runs["5"]), "--start", "4", "--bootstrap", "8"]) == 0
    curves = json.loads((runs["5"] / "sample_size.json").read_text())["metrics"]
    assert {"fvd", "kvd", "is", "cdfvd", "jedi", "precision"} <= set(curves)


def test_dry_run_names_protocols_by_their_counts(tmp_path, weights, capsys):
    root = build_tree(tmp_path / "data")
    assert main(args_for(root, tmp_path / "run", weights, "--num-samples", "10k", "--num-real", "12",
                         "--is-splits", "1", "--dry-run")) == 0
    text = capsys.readouterr().out
    assert "fvd10k_16f" in text and "+custom" not in text
    assert main(args_for(root, tmp_path / "run2", weights, "--num-samples", "2048", "--is-splits", "1",
                         "--dry-run")) == 0
    text = capsys.readouterr().out
    assert "fvd2048_16f" in text and "+custom" not in text
    assert "IS is10k_tgan_ucf uses 2048 of its 10000 samples" in text  # the shortfall is named before the run


def test_metric_lists(capsys):
    assert parse_metrics("motion,FVD, jedi") == ("fvd", "jedi", "motion")
    with pytest.raises(MetricSelectionError, match="unknown psnr"):
        parse_metrics("fvd,psnr")
    assert main(["metrics", "--list"]) == 0
    listed = capsys.readouterr().out
    for name in ENGINE_METRICS:
        assert listed.count(f"\n{name} ") + listed.startswith(f"{name} ") == 1
    assert "vjepa_vith16" in listed and "fvd2048_16f (default)" in listed
    assert main(["ucf101", "--list-metrics"]) == 0
    assert capsys.readouterr().out == listed


def test_a_registered_extractor_class_is_what_the_engine_builds(tmp_path, weights, monkeypatch):
    """The engine builds each extractor once and shares it between jobs reading it (one I3D for real and fake)."""
    from lumiere_eval.runner.cli import add_arguments, config_from_args
    from lumiere_eval.runner.ucf101_run import build_jobs
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    root = build_tree(tmp_path / "data")
    args = parser.parse_args(args_for(root, tmp_path / "run", weights, "--metrics", "fvd,kvd,precision")[1:])
    fake, real = build_jobs(config_from_args(args))
    assert [j.name for j in fake] == ["fvd"] and [j.name for j in real] == ["fvd"]
    assert fake[0].extractor is real[0].extractor
    assert isinstance(fake[0].extractor, extractors.extractor_class("i3d-torchscript"))


def test_a_run_labelled_before_its_protocol_was_registered_resumes_under_the_new_name(tmp_path, weights,
                                                                                     monkeypatch):
    """A folder whose identity says `fvd2048_16f+custom` (recorded before `fvd10k_16f` existed) resumes when the
    same settings now resolve to a registered protocol: the identity is upgraded, nothing is refused."""
    import dataclasses

    from lumiere_eval.metrics import protocols

    root = build_tree(tmp_path / "data")
    out = tmp_path / "run"
    assert main(args_for(root, out, weights)) == 0
    old = json.loads((out / "identity.json").read_text())
    assert old["fvd_protocol"].startswith("fvd2048_16f+custom:")
    nine = dataclasses.replace(protocols.FVD_PROTOCOLS["fvd2048_16f"], name="fvd9_16f", num_samples=9)
    monkeypatch.setitem(protocols.FVD_PROTOCOLS, "fvd9_16f", nine)
    assert main(args_for(root, out, weights)) == 0  # not refused as another identity
    identity = json.loads((out / "identity.json").read_text())
    assert identity["fvd_protocol"] == nine.id and "_fvd9_16f_" in identity["protocol"]
    assert json.loads((out / "results.json").read_text())["metrics"]["fvd"]["protocol"] == nine.id
