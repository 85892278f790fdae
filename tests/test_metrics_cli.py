"""`lumiere-eval metrics` on two small self-encoded folders with tiny extractors built in the test."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from conftest import moving_pattern
from test_extractors import quiet_resolve, save_tiny_clip, save_tiny_detector

from lumiere_eval.cli import main
from lumiere_eval.video import ClipSampling, read_clip, write_video


def textbook_fvd(real: np.ndarray, fake: np.ndarray) -> float:
    """StyleGAN-V's computation written out: biased covariance, scipy sqrtm of the product, real part."""
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False, bias=True), np.cov(fake, rowvar=False, bias=True)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("metrics")
    (root / "real").mkdir()
    (root / "fake").mkdir()
    for i in range(5):
        write_video(root / "real" / f"r{i}.mp4", moving_pattern(t=20, h=32, w=40, seed=i), fps=8)
        noisy = moving_pattern(t=18, h=32, w=40, seed=10 + i).astype(np.int16)
        noisy += np.random.default_rng(i).integers(-40, 40, noisy.shape, dtype=np.int16)
        write_video(root / "fake" / f"f{i}.mp4", noisy.clip(0, 255).astype(np.uint8), fps=8)
        (root / "fake" / f"f{i}.txt").write_text(f"a bright square moving, take {i}")
    save_tiny_detector(root / "i3d.pt", 400, seed=1)
    save_tiny_detector(root / "c3d.pt", 101, seed=2)
    save_tiny_clip(root / "clip.pt")
    from lumiere_eval.extractors.inception import build_fid_inception

    torch.manual_seed(0)
    torch.save(build_fid_inception().state_dict(), root / "inception.pth")
    return root


def run_metrics(setup, *extra):
    argv = ["metrics", "--real", str(setup / "real"), "--fake", str(setup / "fake"), "--i3d", str(setup / "i3d.pt"),
            "--c3d", str(setup / "c3d.pt"), "--clip", str(setup / "clip.pt"), "--inception",
            str(setup / "inception.pth"), "--bootstrap", "5", "--quiet", "--no-download", "--cache-dir",
            str(setup / "cache"), *extra]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(argv)


def test_metrics_command_all_metrics_against_direct_computation(setup, capsys):
    out = setup / "record.json"
    assert run_metrics(setup, "--metrics", "fvd,kvd,is,clipsim", "--out", str(out)) == 0
    table = capsys.readouterr().out
    assert "fvd" in table and "95% CI" in table and "UNVERIFIED" in table
    record = json.loads(out.read_text())
    metrics = record["metrics"]
    assert set(metrics) == {"fvd", "kvd", "is", "clipsim"}
    assert record["unverified_weights"] and not record["satisfied"] and record["kind"] == "metrics"
    assert record["real"]["videos"] == 5 and record["fake"]["videos"] == 5
    # each metric against its own protocol's count (IS: 10,000 generated videos; FVD and KVD: 2,048 per side)
    assert record["short_of_protocol"] == {"fvd": {"wanted": 2048, "given": 5}, "kvd": {"wanted": 2048, "given": 5},
                                           "is": {"wanted": 10000, "given": 5}}
    assert "is 5/10000" in table

    # FVD recomputed directly: same clips (real random 16-frame offset keyed by file name, fake first 16)
    from lumiere_eval.extractors import create_extractor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        i3d = create_extractor("i3d-torchscript", setup / "i3d.pt", device="cpu")
    real_paths = sorted((setup / "real").glob("*.mp4"))
    real = np.stack([read_clip(p, ClipSampling("random", 16), key=p.name) for p in real_paths])
    fake = np.stack([read_clip(p, ClipSampling("first", 16)) for p in sorted((setup / "fake").glob("*.mp4"))])
    expected = textbook_fvd(i3d.extract(real).astype(np.float64), i3d.extract(fake).astype(np.float64))
    assert metrics["fvd"]["value"] == pytest.approx(expected, rel=1e-4)
    # 5 videos: too few for FVD's pooled-t interval (8: each half's halves hold 2 videos), and the table says so
    assert metrics["fvd"]["ci_low"] is None and metrics["fvd"]["ci_high"] is None
    assert "(no interval: too few videos)" in table
    assert metrics["fvd"]["higher_is_better"] is False and metrics["is"]["higher_is_better"] is True
    assert metrics["fvd"]["n"] == 5 and metrics["fvd"]["protocol"].startswith("fvd2048_16f:i3d-torchscript:")
    assert metrics["fvd"]["protocol"].endswith(":cov-biased:n2048")
    for name in ("kvd", "is", "clipsim"):
        assert np.isfinite(metrics[name]["value"])
    assert 1.0 <= metrics["is"]["value"] <= 101
    described = record["provenance"]["extractors"]["i3d-torchscript"]
    assert described["weights"]["sha256"] == quiet_resolve("i3d_torchscript", setup / "i3d.pt").sha256


@pytest.mark.slow
def test_frame_fid_through_the_command(setup, tmp_path, capsys):
    # Nearly all of this test's time is lumiere_eval.metrics' Frechet distance between two singular 2048-d
    # covariances (two 2048x2048 eigendecompositions: ~10 s idle, a minute on a loaded machine); hence one
    # frame per clip and no FID bootstrap.
    out = tmp_path / "fid.json"
    assert run_metrics(setup, "--metrics", "fid", "--fid-frames", "1", "--out", str(out)) == 0
    assert "no interval" in capsys.readouterr().out
    fid = json.loads(out.read_text())["metrics"]["fid"]
    assert fid["frames_per_video"] == 1 and fid["ci_low"] is None
    assert np.isfinite(fid["value"]) and fid["value"] > 0


def test_videos_too_short_for_the_protocol_name_the_file(setup, capsys):
    assert run_metrics(setup, "--metrics", "fvd", "--protocol", "fvd2048_128f") == 1
    err = capsys.readouterr().err
    assert "r0.mp4" in err and "needs at least 128" in err


def test_manifest_input_and_user_errors(setup, tmp_path, capsys):
    manifest = tmp_path / "fake.csv"
    manifest.write_text("path,prompt\n" + "".join(f"{setup}/fake/f{i}.mp4,prompt {i}\n" for i in range(3)))
    out = tmp_path / "m.json"
    assert run_metrics(setup, "--fake", str(manifest), "--metrics", "clipsim", "--out", str(out)) == 0
    assert json.loads(out.read_text())["fake"]["videos"] == 3
    capsys.readouterr()
    assert run_metrics(setup, "--metrics", "fvd,psnr") == 1
    assert "--metrics: unknown psnr; choose from" in capsys.readouterr().err
    assert run_metrics(setup, "--metrics", "clipsim", "--fake", str(setup / "real")) == 1
    assert "needs a prompt" in capsys.readouterr().err
    assert run_metrics(setup, "--real", str(tmp_path / "nowhere")) == 1
    assert "not a folder of videos" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"path": "a.mp4"}\nnot json\n')
    assert run_metrics(setup, "--fake", str(bad), "--metrics", "is") == 1
    assert "line 2 is not JSON" in capsys.readouterr().err
