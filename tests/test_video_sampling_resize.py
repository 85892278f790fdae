"""Clip sampling strategies and resize protocols, the bilinear resizes checked against loops written here."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import moving_pattern
from lumiere_eval import LumiereEvalError
from lumiere_eval.video import (ClipSampling, VideoReadError, get_resize_protocol, parse_clip_sampling, read_clip,
                                read_video, write_video)


def test_first_center_random_indices():
    assert ClipSampling("first", 4, 2).indices(20).tolist() == [0, 2, 4, 6]
    assert ClipSampling("center", 4, 1).indices(10).tolist() == [3, 4, 5, 6]
    random = ClipSampling("random", 4, 3, seed=7)
    starts = {int(random.indices(100, key=f"v{i}")[0]) for i in range(50)}
    assert len(starts) > 20 and max(starts) <= 100 - random.span
    assert random.indices(100, key="a").tolist() == random.indices(100, key="a").tolist()  # seeded per key
    other_seed = ClipSampling("random", 4, 3, seed=8)
    assert sum(other_seed.start(100, key=f"v{i}") != random.start(100, key=f"v{i}") for i in range(50)) > 40


def test_clip_ids_round_trip_and_bad_specs():
    for clip in [ClipSampling("first", 16), ClipSampling("center", 8, 2), ClipSampling("random", 16, 3, 42)]:
        assert parse_clip_sampling(clip.id) == clip
    assert ClipSampling("random", 16, 1, 0).id == "random16s1seed0"
    with pytest.raises(LumiereEvalError):
        parse_clip_sampling("middle16")
    with pytest.raises(LumiereEvalError):
        ClipSampling("first", 0)


def test_short_video_error_names_file_length_and_need(tmp_path):
    path = write_video(tmp_path / "short.mp4", moving_pattern(10), fps=10)
    with pytest.raises(VideoReadError, match=r"short.mp4: has 10 frames; clip first8s2 needs at least 15"):
        read_clip(path, ClipSampling("first", 8, 2))


def test_read_clip_is_frame_accurate(tmp_path):
    frames = moving_pattern(40)
    path = write_video(tmp_path / "a.avi", frames, fps=10)
    whole, _ = read_video(path)
    clip = ClipSampling("random", 5, 3, seed=1)
    np.testing.assert_array_equal(read_clip(path, clip, key="a"), whole[clip.indices(40, key="a")])


def _tf1_bilinear_reference(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF1 resize_bilinear(align_corners=False) pixel by pixel: src = dst * in / out, clamped at the edge."""
    h, w = img.shape[:2]
    out = np.zeros((out_h, out_w, img.shape[2]))
    for y in range(out_h):
        sy = y * h / out_h
        y0 = int(np.floor(sy)); y1 = min(y0 + 1, h - 1); fy = sy - y0
        for x in range(out_w):
            sx = x * w / out_w
            x0 = int(np.floor(sx)); x1 = min(x0 + 1, w - 1); fx = sx - x0
            top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
            bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
            out[y, x] = top * (1 - fy) + bottom * fy
    return out


def _half_pixel_bilinear_reference(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Half-pixel-centre bilinear (PyTorch align_corners=False): src = (dst + 0.5) * in / out - 0.5, clamped."""
    h, w = img.shape[:2]

    def taps(o, n, size):
        s = max((o + 0.5) * n / size - 0.5, 0.0)
        i0 = min(int(np.floor(s)), n - 1)
        return i0, min(i0 + 1, n - 1), s - i0

    out = np.zeros((out_h, out_w, img.shape[2]))
    for y in range(out_h):
        y0, y1, fy = taps(y, h, out_h)
        for x in range(out_w):
            x0, x1, fx = taps(x, w, out_w)
            out[y, x] = (img[y0, x0] * (1 - fx) + img[y0, x1] * fx) * (1 - fy) + \
                        (img[y1, x0] * (1 - fx) + img[y1, x1] * fx) * fy
    return out


def test_tf_fvd_resize_matches_pixel_loop():
    video = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 2, 30, 40, 3), dtype=np.uint8))
    protocol = get_resize_protocol("tf-fvd-v1")
    out = protocol.apply(video)
    assert out.shape == (1, 3, 2, 224, 224) and protocol.value_range == (-1.0, 1.0)
    expected = _tf1_bilinear_reference(video[0, 1].double().numpy(), 224, 224) * 2 / 255 - 1
    np.testing.assert_allclose(out[0, :, 1].permute(1, 2, 0).numpy(), expected, atol=2e-5)


def test_videogpt_resize_matches_pixel_loop_with_center_crop():
    video = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (1, 1, 24, 32, 3), dtype=np.uint8))
    out = get_resize_protocol("videogpt-v1").apply(video)
    assert out.shape == (1, 3, 1, 224, 224)
    full = _half_pixel_bilinear_reference(video[0, 0].double().numpy(), 224, 299)  # ceil(32 * 224 / 24) = 299
    expected = full[:, 37:37 + 224] * 2 / 255 - 1  # (299 - 224) // 2 = 37
    np.testing.assert_allclose(out[0, :, 0].permute(1, 2, 0).numpy(), expected, atol=2e-5)


def test_protocols_differ_and_uint8_passthrough():
    video = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (1, 1, 240, 320, 3), dtype=np.uint8))
    stretch = get_resize_protocol("tf-fvd-v1").apply(video)
    crop = get_resize_protocol("videogpt-v1").apply(video)
    assert (stretch - crop).abs().mean() > 0.1  # crop-vs-stretch is one of the pitfalls; they must not coincide
    raw = get_resize_protocol("none-uint8").apply(video)
    assert torch.equal(raw[0, :, 0].permute(1, 2, 0), video[0, 0].float())
    with pytest.raises(LumiereEvalError, match="unknown resize protocol"):
        get_resize_protocol("bicubic")
    with pytest.raises(LumiereEvalError, match="uint8"):
        get_resize_protocol("tf-fvd-v1").apply(video.float())
