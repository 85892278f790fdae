"""`lumiere-eval metrics --metrics cdfvd,jedi` end to end: real files through the command, with the VideoMAE-v2 and
V-JEPA extractor classes at reduced size (registered, with weight entries of their own, under the protocols'
extractor names for this test only: the registered ViT-g/ViT-H entries accept only full-size checkpoints),
against the same extractors and maths called directly."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from conftest import moving_pattern

from lumiere_eval import extractors
from lumiere_eval.cli import main
from lumiere_eval.extractors.videomae import VideoMAEConfig, VideoMAEv2, VideoMAEv2Extractor
from lumiere_eval.extractors.vjepa import AttentiveProbe, VJEPAConfig, VJEPAEncoder, VJEPAExtractor
from lumiere_eval.metrics import FeatureStats, frechet_distance_from_stats
from lumiere_eval.metrics.kernel import jedi
from lumiere_eval.video import ClipSampling, read_clip, write_video

VIDEOMAE_TINY = VideoMAEConfig(embed_dim=16, depth=1, heads=2, mlp_hidden=32, patch_size=56)
VJEPA_TINY = VJEPAConfig(embed_dim=16, depth=1, heads=2, mlp_hidden=32, img_size=32, frames=16)


class TinyVideoMAE(VideoMAEv2Extractor):
    """The cd-FVD extractor class with a reduced network (same code, smaller config)."""

    weights_name = "test_videomae_tiny"

    def __init__(self, weights, **options):
        super().__init__(weights, config=VIDEOMAE_TINY, **options)


class TinyVJEPA(VJEPAExtractor):
    """The JEDi extractor class with a reduced network (same code, smaller config)."""

    weights_name, probe_weights_name = "test_vjepa_tiny", "test_vjepa_probe_tiny"
    companion_weights = {"probe": probe_weights_name}

    def __init__(self, weights, **options):
        super().__init__(weights, config=VJEPA_TINY, **options)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cdfvd_jedi")
    (root / "real").mkdir()
    (root / "fake").mkdir()
    for i in range(6):
        write_video(root / "real" / f"r{i}.mp4", moving_pattern(t=18, h=24, w=32, seed=i), fps=8)
        write_video(root / "fake" / f"f{i}.mp4", moving_pattern(t=16, h=24, w=32, seed=20 + i) // 2, fps=8)
    torch.manual_seed(0)
    torch.save({"module": VideoMAEv2(VIDEOMAE_TINY).state_dict()}, root / "videomae.pth")
    encoder, probe = VJEPAEncoder(VJEPA_TINY), AttentiveProbe(VJEPA_TINY)
    torch.nn.init.normal_(probe.pooler.query_tokens)
    torch.save({"target_encoder": {f"module.{k}": v for k, v in encoder.state_dict().items()}},
               root / "vith16.pth.tar")
    torch.save({"classifier": {f"module.{k}": v for k, v in probe.state_dict().items()}}, root / "probe.pth.tar")
    return root


def _register_tiny(monkeypatch) -> None:
    from dataclasses import replace

    from lumiere_eval.extractors.weights import WEIGHTS

    monkeypatch.setitem(extractors.EXTRACTORS, "videomae-v2-g-ssv2", f"{__name__}:TinyVideoMAE")
    monkeypatch.setitem(extractors.EXTRACTORS, "vjepa-h16-ssv2", f"{__name__}:TinyVJEPA")
    for name, registered in (("test_videomae_tiny", "videomae_v2_g_ssv2"), ("test_vjepa_tiny", "vjepa_vith16"),
                             ("test_vjepa_probe_tiny", "vjepa_vith16_ssv2_probe")):
        monkeypatch.setitem(WEIGHTS, name, replace(WEIGHTS[registered], name=name, file_format="state_dict"))


def _run_command(setup, out, bootstrap: int) -> None:
    argv = ["metrics", "--real", str(setup / "real"), "--fake", str(setup / "fake"), "--metrics", "cdfvd,jedi",
            "--videomae", str(setup / "videomae.pth"), "--vjepa", str(setup / "vith16.pth.tar"),
            "--vjepa-probe", str(setup / "probe.pth.tar"), "--bootstrap", str(bootstrap), "--quiet",
            "--no-download", "--cache-dir", str(setup / "cache"), "--out", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0


def test_metrics_command_computes_cdfvd_and_jedi(setup, monkeypatch, capsys):
    from lumiere_eval.extractors.weights import resolve

    _register_tiny(monkeypatch)
    out = setup / "record.json"
    _run_command(setup, out, bootstrap=5)
    table = capsys.readouterr().out
    assert "cdfvd" in table and "jedi" in table and "UNVERIFIED" in table
    record = json.loads(out.read_text())
    cdfvd, jedi_entry = record["metrics"]["cdfvd"], record["metrics"]["jedi"]
    assert cdfvd["protocol"] == record["protocols"]["cdfvd"]["id"] and ":cov-biased:n2048" in cdfvd["protocol"]
    assert jedi_entry["protocol"].startswith("jedi5000_16f:vjepa-h16-ssv2:stretch224-bilinear_unit_imagenet-norm_fp32")
    assert cdfvd["higher_is_better"] is False and jedi_entry["higher_is_better"] is False
    assert cdfvd["n"] == jedi_entry["n"] == 6 and cdfvd["ci_low"] is None  # pooled-t: 8 videos at least
    assert {p.rsplit("/", 1)[-1] for p in record["unverified_weights"]} == {"videomae.pth", "vith16.pth.tar",
                                                                            "probe.pth.tar"}

    # the same numbers directly: same clips (real: 16 frames at a random offset keyed by file name; fake: first 16)
    real_paths, fake_paths = sorted((setup / "real").glob("*.mp4")), sorted((setup / "fake").glob("*.mp4"))
    real = np.stack([read_clip(p, ClipSampling("random", 16), key=p.name) for p in real_paths])
    fake = np.stack([read_clip(p, ClipSampling("first", 16)) for p in fake_paths])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        videomae = extractors.create_extractor("videomae-v2-g-ssv2", setup / "videomae.pth", device="cpu")
        vjepa = extractors.create_extractor("vjepa-h16-ssv2", setup / "vith16.pth.tar", device="cpu",
                                            probe=resolve("test_vjepa_probe_tiny", setup / "probe.pth.tar"))
    expected_cdfvd = frechet_distance_from_stats(FeatureStats.from_features(videomae.extract(real)),
                                                 FeatureStats.from_features(videomae.extract(fake)), unbiased=False)
    expected_jedi = jedi(vjepa.extract(real), vjepa.extract(fake))
    assert expected_cdfvd > 0 and expected_jedi > 0
    assert cdfvd["value"] == pytest.approx(expected_cdfvd, rel=1e-6)
    assert jedi_entry["value"] == pytest.approx(expected_jedi, rel=1e-6)


def test_each_metric_uses_its_own_protocols_sample_count(setup, monkeypatch, tmp_path):
    # the set is cut to the largest count a requested protocol asks for and each metric uses its protocol's
    # first videos (JEDi wants 5000: all 6 here; cd-FVD patched to 4), not the FVD protocol's count for all
    from dataclasses import replace

    from lumiere_eval.metrics.protocols import FVD_PROTOCOLS

    _register_tiny(monkeypatch)
    monkeypatch.setitem(FVD_PROTOCOLS, "fvd2048_16f", replace(FVD_PROTOCOLS["fvd2048_16f"], num_samples=3))
    monkeypatch.setitem(FVD_PROTOCOLS, "cdfvd2048_16f", replace(FVD_PROTOCOLS["cdfvd2048_16f"], num_samples=4))
    out = tmp_path / "record.json"
    _run_command(setup, out, bootstrap=0)
    record = json.loads(out.read_text())
    metrics = record["metrics"]
    assert metrics["cdfvd"]["n"] == metrics["cdfvd"]["n_real"] == 4
    assert metrics["jedi"]["n"] == metrics["jedi"]["n_real"] == 6
    assert record["real"]["videos"] == record["fake"]["videos"] == 6
