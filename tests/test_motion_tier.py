"""The motion tier over video files: a score that is undefined for one video (NaN) leaves that score out."""
from __future__ import annotations

import json

import numpy as np
from conftest import moving_pattern

from lumiere_eval.metrics import motion
from lumiere_eval.runner import motion_tier
from lumiere_eval.video import read_video, write_video


def test_an_undefined_score_is_left_out_not_cached_or_written_as_nan(tmp_path, monkeypatch):
    # motion.warping_error is NaN when the forward-backward test keeps no pixel of any frame pair; the
    # feature cache refuses non-finite rows, which stopped the whole tier, and NaN is not JSON
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"v{i}.mp4")
        write_video(paths[-1], moving_pattern(t=8, h=32, w=40, seed=i), fps=8)

    def scores(frames, fps):
        out = motion.pixel_scores(frames, fps)
        if np.array_equal(frames, decoded_first):
            out["warping_error_dis"] = float("nan")
        return out

    decoded_first = read_video(paths[0])[0]
    monkeypatch.setattr(motion_tier, "pixel_scores", scores)
    result = motion_tier.score_paths(paths, cache_dir=tmp_path / "cache", num_resamples=0)
    json.dumps(result, allow_nan=False)
    without, full = result["per_video"][str(paths[0])], result["per_video"][str(paths[1])]
    assert "warping_error_dis" not in without and "temporal_flickering" in without
    assert np.isfinite(full["warping_error_dis"])
    assert result["summary"]["warping_error_dis"]["n"] == 1 and result["summary"]["temporal_flickering"]["n"] == 2
    again = motion_tier.score_paths(paths, cache_dir=tmp_path / "cache", num_resamples=0)
    assert again == result
