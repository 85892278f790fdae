"""Checks that need the real pretrained weights: they run only where the weights are in the cache
(`lumiere-eval weights fetch NAME`) and are skipped here, where nothing can be downloaded."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from lumiere_eval.extractors import create_extractor
from lumiere_eval.extractors import weights

pytestmark = pytest.mark.needs_weights


def cached_or_skip(name: str):
    path = weights.cached_path(name)
    if not path.is_file():
        pytest.skip(f"{name} weights not cached at {path} (no download in tests; `lumiere-eval weights fetch {name}`)")
    return path


@pytest.mark.parametrize("name", [n for n, s in weights.WEIGHTS.items() if s.sha256])
def test_cached_weights_match_published_sha256(name):
    cached_or_skip(name)
    assert weights.verify(name).verified


def test_c3d_recognises_real_basketball_clips(ucf101_shared):
    """Both shared clips are UCF101 'Basketball' (classInd 8, index 7), from split-1 test groups."""
    from lumiere_eval.video import ClipSampling, read_clip

    cached_or_skip("c3d_ucf101")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", weights.UnverifiedWeightsWarning)
        c3d = create_extractor("c3d-ucf101", fetch_missing=False, device="cpu")
    clips = np.stack([read_clip(p, ClipSampling("first", 16)) for p in sorted(ucf101_shared.glob("*.avi"))])
    probs = c3d.extract(clips)
    top5 = np.argsort(-probs, axis=1)[:, :5]
    assert all(7 in row for row in top5), top5


def test_two_i3d_backends_agree_on_square_clips():
    """On 224x224 clips both preprocessings are the identity plus [-1, 1] scaling, so the two conversions of
    the Kinetics-400 I3D should give almost the same logits (reported as almost identical in
    JunyaoHu/common_metrics_on_video_quality issue #4; tolerance here: correlation above 0.99)."""
    cached_or_skip("i3d_torchscript")
    cached_or_skip("i3d_pretrained_400")
    from conftest import moving_pattern

    clips = np.stack([moving_pattern(t=16, h=224, w=224, seed=s) for s in range(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", weights.UnverifiedWeightsWarning)
        script = create_extractor("i3d-torchscript", fetch_missing=False, device="cpu").extract(clips)
        native = create_extractor("i3d-native", fetch_missing=False, device="cpu").extract(clips)
    for a, b in zip(script, native):
        assert np.corrcoef(a, b)[0, 1] > 0.99
