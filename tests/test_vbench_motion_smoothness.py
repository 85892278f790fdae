"""VBench's motion smoothness in the VBench tier: through `score_videos` with a random AMT-S checkpoint in
amt-s.pth's layout written here (checked through the weight registry), a missing checkpoint stopping only this
dimension, and the checkpoint checks (never the real weights)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from test_vbench_weights import _original_layout

from lumiere_eval.extractors import weights
from lumiere_eval.extractors.base import ExtractorInputError
from lumiere_eval.extractors.vbench.amt import NUM_KEYS, AmtS, load_amt
from lumiere_eval.extractors.vbench.features import amt_interpolated
from lumiere_eval.extractors.vbench.raft import build_raft
from lumiere_eval.metrics.checks import MetricInputError
from lumiere_eval.metrics.vbench import interpolation_score
from lumiere_eval.runner.vbench_tier import score_videos


def _amt_checkpoint(path, seed: int = 0) -> None:
    """A random AMT-S saved as the released files are: {'epoch', 'state_dict'}; biases and PReLU slopes
    perturbed so that a missing one would show."""
    torch.manual_seed(seed)
    model = AmtS()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.02)
            elif p.ndim == 1:
                p.normal_(0.25, 0.05)
    torch.save({"epoch": 299, "state_dict": model.state_dict()}, path)


def _videos(seed: int = 0) -> list[np.ndarray]:
    """Three uint8 videos (5, 6 and 4 frames, 128 x 136 px): a pan, a pan with jitter, a still with noise."""
    rng = np.random.default_rng(seed)
    out = []
    for frames, shift, jitter in ((5, 3, 0), (6, 3, 7), (4, 0, 0)):
        base = rng.integers(0, 256, (150, 136 + shift * frames, 3)).astype(np.float64)
        base = (base + np.roll(base, 1, 0) + np.roll(base, 1, 1) + np.roll(base, 1, (0, 1))) / 4
        clip = np.stack([base[jitter * (t % 2):jitter * (t % 2) + 128, shift * t:shift * t + 136]
                         for t in range(frames)])
        out.append(np.clip(clip + rng.normal(0, 2, clip.shape), 0, 255).astype(np.uint8))
    return out


def test_motion_smoothness_through_score_videos(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
    torch.set_num_threads(1)
    _amt_checkpoint(tmp_path / "amt-s.pth")
    videos = _videos()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", weights.UnverifiedWeightsWarning)
        result = score_videos(videos, ["motion_smoothness", "dynamic_degree"], {"amt_s": tmp_path / "amt-s.pth"},
                              num_resamples=50, video_names=["a.mp4", "b.mp4", "c.mp4"], fps=[8.0] * 3)

    model = load_amt(tmp_path / "amt-s.pth")
    expected = [interpolation_score(v, amt_interpolated(model, v).numpy()) for v in videos]
    assert [s["motion_smoothness"] for s in result["per_video"]] == expected
    assert len(set(expected)) == 3 and all(0 < e < 1 for e in expected)
    summary = result["dimensions"]["motion_smoothness"]
    assert summary["value"] == pytest.approx(np.mean(expected), abs=1e-15) and summary["n"] == 3
    assert summary["higher_is_better"] and summary["ci_low"] <= summary["value"] <= summary["ci_high"]
    used = result["weights"]["amt_s"]
    assert not used["verified"] and used["status"] == "format checked, no published checksum"
    value, per_video = result["eval_results"]["motion_smoothness"]
    assert value == summary["value"]
    assert [(v["video_path"], v["video_results"]) for v in per_video] == list(zip(["a.mp4", "b.mp4", "c.mp4"],
                                                                                   expected))
    # the other dimension asked for has no weights: one line for it, nothing else stops
    assert set(result["dimensions"]) == {"motion_smoothness"}
    assert result["unavailable"]["dynamic_degree"].startswith("dynamic_degree: not computed")
    assert "--raft PATH" in result["unavailable"]["dynamic_degree"]


def test_missing_amt_stops_only_motion_smoothness(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
    torch.set_num_threads(1)
    torch.manual_seed(1)
    torch.save(_original_layout(build_raft()), tmp_path / "raft-things.pth")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", weights.UnverifiedWeightsWarning)
        result = score_videos(_videos()[:2], ["motion_smoothness", "dynamic_degree"],
                              {"raft_things": tmp_path / "raft-things.pth"}, num_resamples=5, fps=[8.0, 8.0])
    assert set(result["dimensions"]) == {"dynamic_degree"}
    line = result["unavailable"]["motion_smoothness"]
    assert line.startswith("motion_smoothness: not computed") and "amt-s.pth" in line and "--amt PATH" in line
    assert "https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth" in line


def test_amt_checkpoint_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
    _amt_checkpoint(tmp_path / "amt-s.pth")
    assert len(torch.load(tmp_path / "amt-s.pth", weights_only=True)["state_dict"]) == NUM_KEYS
    path = weights.fetch("amt_s", url=(tmp_path / "amt-s.pth").as_uri(), progress=False)
    assert path == tmp_path / "home" / "weights" / "amt-s.pth"
    assert not weights.verify("amt_s").verified  # no published checksum: format-checked only

    state = AmtS().state_dict()
    torch.save(state, tmp_path / "bare.pth")  # the state dict without the 'state_dict' entry
    with pytest.raises(weights.WeightsError, match="bare.pth: expected an AMT checkpoint with a 'state_dict' entry"):
        load_amt(tmp_path / "bare.pth")
    del state["comb_block.2.bias"]
    torch.save({"state_dict": state}, tmp_path / "short.pth")
    with pytest.raises(weights.WeightsError, match="short.pth.*AMT-S checkpoint"):
        load_amt(tmp_path / "short.pth")
    with pytest.raises(weights.WeightsError, match="short.pth.*comb_block.2.bias"):  # the format check refuses it
        weights.resolve("amt_s", tmp_path / "short.pth", fetch_missing=False)


def test_motion_smoothness_input_errors(tmp_path):
    _amt_checkpoint(tmp_path / "amt-s.pth")
    model = load_amt(tmp_path / "amt-s.pth")
    video = _videos()[0]
    with pytest.raises(ExtractorInputError, match="at least 3 frames, got 2"):
        amt_interpolated(model, video[:2])
    with pytest.raises(ExtractorInputError, match="frames 100x136: AMT-S needs both sides padded to at least 128"):
        amt_interpolated(model, video[:, :100])
    with pytest.raises(MetricInputError, match="do not match the odd frames"):
        interpolation_score(video, video[:3])
