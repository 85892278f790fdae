"""Bad videos (issue 16): truncated, too short, NaN features, huge frames, slow sources, file permissions.

Each test builds its bad input: truncated copies of a real UCF101 AVI (skipped where the shared clips are
absent), an MP4 encoded and cut here, a 4000x4000 H.264 file encoded here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import av
import numpy as np
import pytest

from conftest import moving_pattern
from lumiere_eval import LumiereEvalError
from lumiere_eval.runner.cache import FeatureCache
from lumiere_eval.runner.features import FeatureJob, VideoItem, compute_features
from lumiere_eval.video import ClipSampling, VideoReadError, VideoWarning, probe_video, read_video, write_video
from lumiere_eval.video.clips import read_clips


def _cut(src, dst, fraction: float):
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.mark.parametrize("fraction,decodable", [(0.05, 1), (0.5, 73)])
def test_truncated_real_avi_is_reported_with_its_numbers(ucf101_shared, tmp_path, fraction, decodable):
    cut = _cut(ucf101_shared / "v_Basketball_g01_c01.avi", tmp_path / "cut.avi", fraction)
    info = probe_video(cut)
    assert (info.declared_frames, info.num_frames, info.truncated) == (141, decodable, True)
    with pytest.raises(VideoReadError, match=f"declares 141 frames, only {decodable} can be decoded") as err:
        read_video(cut, strict=True)
    assert err.value.path == str(cut)
    with pytest.warns(VideoWarning, match=f"{cut}: truncated.*141 frames, only {decodable}"):
        frames, _ = read_video(cut)
    assert len(frames) == decodable


def test_whole_real_avi_is_not_truncated(ucf101_shared):
    info = probe_video(ucf101_shared / "v_Basketball_g01_c01.avi")
    assert (info.declared_frames, info.num_frames, info.truncated) == (141, 141, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VideoWarning)
        assert len(read_video(ucf101_shared / "v_Basketball_g01_c01.avi", strict=True)[0]) == 141


def _encode_mp4(path, frames, faststart: bool):
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    return path


def test_truncated_mp4_is_reported(tmp_path):
    # index (moov) first: the container still declares 60 frames, only the start decodes (the first 20% of
    # the file is the index and the large first frame, so cut at 80%)
    cut = _cut(_encode_mp4(tmp_path / "fast.mp4", moving_pattern(60), True), tmp_path / "cut_fast.mp4", 0.8)
    info = probe_video(cut)
    assert info.declared_frames == 60 and info.num_frames < 60 and info.truncated
    with pytest.raises(VideoReadError, match=r"truncated or damaged file: the container declares 60 frames"):
        read_video(cut, strict=True)
    # index last (ffmpeg's default): the cut file has no index at all
    cut = _cut(_encode_mp4(tmp_path / "plain.mp4", moving_pattern(60), False), tmp_path / "cut_plain.mp4", 0.5)
    with pytest.raises(VideoReadError, match="cannot decode") as err:
        read_video(cut)
    assert err.value.path == str(cut)


def test_too_short_truncated_and_too_large_videos_are_one_error_type(ucf101_shared, tmp_path):
    clip = {"fvd": ClipSampling("random", 16)}
    short = write_video(tmp_path / "short.mp4", moving_pattern(8), fps=8)
    with pytest.raises(VideoReadError, match="has 8 frames; clip random16s1seed0 needs at least 16"):
        read_clips(short, clip, key="short")
    cut = _cut(ucf101_shared / "v_Basketball_g01_c01.avi", tmp_path / "cut.avi", 0.5)
    with pytest.raises(VideoReadError, match="declares 141 frames, only 73"):
        read_clips(cut, clip, key="cut")
    with pytest.raises(VideoReadError, match=r"need 4 MB, more than the 1 MB allowed per video"):
        read_clips(ucf101_shared / "v_Basketball_g01_c01.avi", clip, key="k", max_bytes=10**6)


def test_read_clips_decodes_only_the_union_of_frames(ucf101_shared):
    path = ucf101_shared / "v_Basketball_g01_c01.avi"
    whole, _ = read_video(path)
    samplings = {"a": ClipSampling("random", 16, 2, seed=3), "b": ClipSampling("first", 4)}
    clips = read_clips(path, samplings, key="Basketball/x.avi")
    for name, sampling in samplings.items():
        np.testing.assert_array_equal(clips[name], whole[sampling.indices(141, path, "Basketball/x.avi")])


class NormalisedMean:
    """A tiny real extractor: per-clip channel means divided by the clip's std; a constant clip gives NaN."""

    id, protocol, device = "normalised-mean", "none-uint8", "cpu"

    class weights:  # noqa: N801 - mirrors ResolvedWeights' fields the cache key reads
        sha256, path = "0" * 64, None

    def extract(self, clips: np.ndarray) -> np.ndarray:
        x = clips.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (x.mean(axis=(1, 2, 3)) / x.std(axis=(1, 2, 3, 4))[:, None]).astype(np.float32)


def test_nan_features_skip_the_video_and_name_it(tmp_path):
    paths = [write_video(tmp_path / f"v{i}.mp4", moving_pattern(16, seed=i), fps=8) for i in range(3)]
    paths.insert(1, write_video(tmp_path / "blank.mp4", np.full((16, 48, 64, 3), 90, np.uint8), fps=8))
    items = [VideoItem(p, f"{i:064d}", p.name) for i, p in enumerate(paths)]
    job = FeatureJob("fvd", NormalisedMean(), ClipSampling("first", 16))
    skipped = []
    rows = compute_features(items, [job], FeatureCache(tmp_path / "cache"), block_size=4, progress=False,
                            on_skip=lambda item, reason: skipped.append((item.path.name, reason)))["fvd"]
    assert skipped == [("blank.mp4", "fvd: extractor normalised-mean gave NaN or infinite features")]
    assert rows[1] is None and all(np.isfinite(rows[i]).all() for i in (0, 2, 3))
    with pytest.raises(LumiereEvalError, match="blank.mp4: fvd: extractor normalised-mean gave NaN"):
        compute_features(items, [job], FeatureCache(tmp_path / "cache2"), block_size=4, progress=False, strict=True)


def test_unusable_videos_are_skipped_not_fatal(ucf101_shared, tmp_path):
    good = [write_video(tmp_path / f"g{i}.mp4", moving_pattern(20, seed=i), fps=8) for i in range(2)]
    short = write_video(tmp_path / "short.mp4", moving_pattern(6), fps=8)
    cut = _cut(ucf101_shared / "v_Basketball_g01_c01.avi", tmp_path / "cut.avi", 0.5)
    items = [VideoItem(p, f"{i:064d}", p.name) for i, p in enumerate([good[0], short, cut, good[1]])]
    job = FeatureJob("fvd", NormalisedMean(), ClipSampling("random", 16))
    skipped = {}
    rows = compute_features(items, [job], FeatureCache(tmp_path / "cache"), block_size=2, progress=False,
                            on_skip=lambda item, reason: skipped.update({item.path.name: reason}))["fvd"]
    assert set(skipped) == {"short.mp4", "cut.avi"}
    assert "needs at least 16" in skipped["short.mp4"] and "only 73 can be decoded" in skipped["cut.avi"]
    assert rows[0] is not None and rows[3] is not None
    with pytest.raises(VideoReadError, match="short.mp4"):
        compute_features(items, [job], FeatureCache(tmp_path / "cache"), block_size=2, progress=False, strict=True)


def _encode_huge(path, frames: int = 8, size: int = 4000):
    """A 4000x4000 H.264 file of flat frames: tens of KB on disk, 48 MB per decoded RGB frame."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=8)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "51"}
        yuv = np.full((size * 3 // 2, size), 128, np.uint8)  # planes Y then U, V: encoded without a conversion
        yuv[:size] = 60
        for _ in range(frames):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")))
        out.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def huge_video(tmp_path_factory):
    return _encode_huge(tmp_path_factory.mktemp("huge") / "huge.mp4")


def _peak_rss_mb(code: str) -> float:
    """Run `code` in a fresh interpreter; its peak resident memory in MB.

    Read from the child's own /proc/self/status VmHWM (high-water mark of its address space): its
    getrusage ru_maxrss would include the RSS of this test process, which Linux carries across fork and exec.
    """
    script = code + textwrap.dedent("""
        import re
        print(int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())[1]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.strip().splitlines()[-1]) / 1024


def test_huge_frames_are_decoded_small_and_memory_stays_bounded(huge_video):
    assert huge_video.stat().st_size < 100_000
    info = probe_video(huge_video)
    assert (info.height, info.width, info.decode_size) == (4000, 4000, (384, 384))
    with pytest.warns(VideoWarning, match="4000x4000 frames decoded at 384x384"):
        clips = read_clips(huge_video, {"fvd": ClipSampling("random", 6), "clipsim": None}, key="k")
    assert clips["fvd"].shape == (6, 384, 384, 3) and clips["clipsim"].shape == (8, 384, 384, 3)
    # a bound, not a timing: decoding a clip and the whole video (8 x 48 MB at full size) stays small;
    # the whole `ucf101` run on this file is measured by benchmarks/bench_video_memory.py
    peak = _peak_rss_mb(textwrap.dedent(f"""
        import warnings; warnings.simplefilter("ignore")
        from lumiere_eval.video import ClipSampling
        from lumiere_eval.video.clips import read_clips
        clips = read_clips({str(huge_video)!r}, {{"fvd": ClipSampling("random", 6), "clipsim": None}}, key="k")
    """))
    assert peak < 500, f"peak RSS {peak:.0f} MB"
    with pytest.raises(VideoReadError, match="8 decoded frames of 384x384 need 4 MB, more than the 2 MB allowed"):
        read_clips(huge_video, {"fvd": ClipSampling("first", 8)}, key="k", max_bytes=2 * 10**6)


def test_video_info_on_huge_frames_reads_headers_only(huge_video, capsys):
    from lumiere_eval.cli import main

    assert main(["video-info", str(huge_video)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["frames"] == 8 and line["height"] == 4000 and line["decode_size"] == [384, 384]
    peak = _peak_rss_mb(f"from lumiere_eval.cli import main; main(['video-info', {str(huge_video)!r}])")
    assert peak < 400, f"peak RSS {peak:.0f} MB"  # no torch, no full-size frame


def test_video_info_reports_truncation(ucf101_shared, tmp_path, capsys):
    from lumiere_eval.cli import main

    cut = _cut(ucf101_shared / "v_Basketball_g01_c01.avi", tmp_path / "cut.avi", 0.5)
    assert main(["video-info", str(cut), str(tmp_path / "missing.avi")]) == 1
    captured = capsys.readouterr()
    line = json.loads(captured.out)
    assert (line["frames"], line["declared_frames"], line["truncated"]) == (73, 141, True)
    assert "only 73 can be decoded" in captured.err and "missing.avi: file does not exist" in captured.err


def test_slow_source_warns_on_heavy_frame_repetition(tmp_path):
    from lumiere_eval.models.folder import FolderGenerator

    folder = tmp_path / "videos"
    write_video(folder / "a_dog_running-0.mp4", moving_pattern(3, 16, 16), fps=0.5)
    write_video(folder / "a_cat-0.mp4", moving_pattern(20, 16, 16), fps=16)
    generator = FolderGenerator(str(folder))
    with pytest.warns(VideoWarning, match=r"heavy frame repetition in 1 of 2 .*a_dog_running-0.mp4: 16 frames from "
                                          r"only 1 source frame\(s\), one repeated 16 times \(0.5 fps source"):
        assert generator.validate(["a dog running", "a cat"], [0, 0], 16, 16, 16, 16) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", VideoWarning)
        assert generator.validate(["a cat"], [0], 16, 16, 16, 16) == []


def test_written_videos_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        for suffix in (".mp4", ".gif", ".avi"):
            path = write_video(tmp_path / f"a{suffix}", moving_pattern(4, 16, 16), fps=8)
            assert (os.stat(path).st_mode & 0o777) == 0o644
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.avi", "a.gif", "a.mp4"]  # no temporaries left


def test_peak_rss_helper_measures_the_child():
    small = _peak_rss_mb("x = 1")
    big = _peak_rss_mb("import numpy; x = numpy.ones(300 * 2**20 // 8)")
    assert small < 100 and big - small > 250


def test_metrics_command_skips_bad_videos_and_says_so(ucf101_shared, tmp_path, capsys):
    from test_extractors import save_tiny_detector

    from lumiere_eval.cli import main

    for side in ("real", "fake"):
        for i in range(3):
            write_video(tmp_path / side / f"{side}{i}.mp4", moving_pattern(20, 32, 40, seed=i), fps=8)
    write_video(tmp_path / "fake" / "short.mp4", moving_pattern(6, 32, 40), fps=8)
    _cut(ucf101_shared / "v_Basketball_g01_c01.avi", tmp_path / "real" / "cut.avi", 0.5)
    save_tiny_detector(tmp_path / "i3d.pt", 400, seed=1)
    argv = ["metrics", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"), "--i3d",
            str(tmp_path / "i3d.pt"), "--metrics", "fvd", "--protocol", "fvd2048_16f", "--bootstrap", "0", "--quiet",
            "--no-download", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "m.json")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0
        record = json.loads((tmp_path / "m.json").read_text())
        reasons = {os.path.basename(s["path"]): s["reason"] for s in record["skipped_videos"]}
        assert set(reasons) == {"short.mp4", "cut.avi"} and "only 73 can be decoded" in reasons["cut.avi"]
        assert record["skipped_fraction"]["count"] == 2 and record["skipped_fraction"]["exceeded"]
        assert "WARNING: 2 of 8 videos (25.0%) were skipped" in capsys.readouterr().out
        assert main(argv + ["--strict"]) == 1
    assert "short.mp4: has 6 frames" in capsys.readouterr().err  # the first bad file: generated videos come first


def test_decode_size_leaves_common_sizes_alone():
    from lumiere_eval.video.io import decode_size

    for size in [(240, 320), (576, 1024), (720, 1280), (1024, 1024)]:
        assert decode_size(*size) == size  # UCF101, generated videos up to 4K: decoded as they are
    assert decode_size(1080, 1920) == (1080, 1920) and decode_size(2160, 3840) == (2160, 3840)
    assert decode_size(4000, 4000) == (384, 384)
    assert decode_size(100, 100000) == (91, 91073)  # a very wide frame: bounded by the pixel count instead
