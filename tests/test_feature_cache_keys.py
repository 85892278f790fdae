"""The feature cache key holds everything that changes a row: with random clip sampling, the video's key."""
from __future__ import annotations

import numpy as np
from test_reliability_video import NormalisedMean

from lumiere_eval.runner.cache import FeatureCache
from lumiere_eval.runner.features import FeatureJob, VideoItem, compute_features
from lumiere_eval.video import ClipSampling, write_video
from lumiere_eval.video.clips import read_clips


def test_random_clip_rows_follow_the_video_key_not_only_its_content(tmp_path):
    # the random offset is seeded by the video's key (its path relative to the data root, or its file name in
    # `metrics`): the same file under another key has another clip, so it must not hit the first key's rows
    rng = np.random.default_rng(0)
    frames = np.clip(rng.integers(0, 40, (48, 24, 32, 3)) + 4 * np.arange(48)[:, None, None, None], 0, 255)
    path = write_video(tmp_path / "v.mp4", frames.astype(np.uint8), fps=8)
    sampling = ClipSampling("random", 16)
    keys = ("Basketball/v_Basketball_g01_c01.avi", "v_Basketball_g01_c01.avi")
    assert sampling.start(48, path, keys[0]) != sampling.start(48, path, keys[1])
    cache = FeatureCache(tmp_path / "cache")
    job = FeatureJob("fvd", NormalisedMean(), sampling)
    for key in keys:  # one call per key, as a `ucf101` run and a later `metrics` run sharing the cache
        row = compute_features([VideoItem(path, "1" * 64, key)], [job], cache, block_size=4, progress=False)["fvd"][0]
        expected = NormalisedMean().extract(read_clips(path, {"fvd": sampling}, key)["fvd"][None])[0]
        np.testing.assert_array_equal(row, expected)
