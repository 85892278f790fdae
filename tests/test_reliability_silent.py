"""Nothing dropped in silence (issue 26): every file left out or odd input is named, on real tiny files.

`metrics` on sets holding a directory named x.mp4, a symbolic link loop, the same folder twice, one video a side;
`short_of_protocol` counting the videos used; an AVI whose header declares 0 fps (FFmpeg reads 25); `motion` on a
plain folder with each left-out file's own reason.
"""
from __future__ import annotations

import json
import os
import struct
import warnings

import numpy as np
import pytest

from conftest import moving_pattern
from lumiere_eval.cli import main
from lumiere_eval.video import probe_video, write_video


@pytest.fixture()
def sets(tmp_path):
    """Three real and three generated 20-frame videos and a tiny TorchScript I3D."""
    from test_extractors import save_tiny_detector

    for side in ("real", "fake"):
        for i in range(3):
            write_video(tmp_path / side / f"{side}{i}.mp4", moving_pattern(20, 32, 40, seed=i + 3 * (side == "fake")),
                        fps=8)
    save_tiny_detector(tmp_path / "i3d.pt", 400, seed=1)
    return tmp_path


def _metrics(tmp, real, fake, *extra):
    argv = ["metrics", "--real", str(real), "--fake", str(fake), "--i3d", str(tmp / "i3d.pt"), "--metrics", "fvd",
            "--protocol", "fvd2048_16f", "--bootstrap", "0", "--quiet", "--no-download", "--cache-dir",
            str(tmp / "cache"), "--out", str(tmp / "m.json"), *extra]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(argv)
    return code, [str(w.message) for w in caught]


def test_metrics_skips_and_lists_a_directory_named_like_a_video_and_a_link_loop(sets, capsys):
    (sets / "real" / "x.mp4").mkdir()
    os.symlink("loop.mp4", sets / "real" / "loop.mp4")
    code, _ = _metrics(sets, sets / "real", sets / "fake")
    assert code == 0
    record = json.loads((sets / "m.json").read_text())
    reasons = {os.path.basename(s["path"]): s["reason"] for s in record["skipped_videos"]}
    assert reasons == {"x.mp4": "is a directory, not a video file", "loop.mp4": "is a symbolic link loop"}
    assert record["skipped_fraction"]["count"] == 2 and record["skipped_fraction"]["of"] == 8
    assert "skipped 2 unusable video(s), first: " in capsys.readouterr().out
    code, _ = _metrics(sets, sets / "real", sets / "fake", "--strict")
    assert code == 1 and "loop.mp4: is a symbolic link loop" in capsys.readouterr().err


def test_short_of_protocol_counts_the_videos_used_not_the_skipped(sets):
    write_video(sets / "fake" / "short.mp4", moving_pattern(6, 32, 40), fps=8)  # too short for a 16-frame clip
    assert _metrics(sets, sets / "real", sets / "fake")[0] == 0
    record = json.loads((sets / "m.json").read_text())
    assert [os.path.basename(s["path"]) for s in record["skipped_videos"]] == ["short.mp4"]
    assert record["short_of_protocol"]["fvd"] == {"wanted": 2048, "given": 3}  # 4 generated files, 3 used
    assert record["metrics"]["fvd"]["n"] == 3


def test_the_same_folder_on_both_sides_warns(sets, capsys):
    code, caught = _metrics(sets, sets / "real", sets / "real")
    assert code == 0
    message = f"--real and --fake are the same folder ({(sets / 'real').resolve()}); 3 of 3 generated video(s) are " \
              "also in the real set (same content)"
    assert any(message in m for m in caught) and message in capsys.readouterr().out
    assert message in json.loads((sets / "m.json").read_text())["shared_content_warning"]
    assert _metrics(sets, sets / "real", sets / "fake")[0] == 0
    assert "shared_content_warning" not in json.loads((sets / "m.json").read_text())


@pytest.mark.parametrize("bootstrap", ["0", "200"])
def test_one_video_a_side_names_the_metric(sets, capsys, bootstrap):
    for side in ("real", "fake"):
        for i in (1, 2):
            (sets / side / f"{side}{i}.mp4").unlink()
    code, _ = _metrics(sets, sets / "real", sets / "fake", "--bootstrap", bootstrap)
    assert code == 1
    assert capsys.readouterr().err.strip().endswith("error: FVD needs at least 2 usable real video(s), got 1")


def test_set_metric_counts_are_checked_per_side_whatever_the_interval():
    from lumiere_eval.metrics import MetricInputError
    from lumiere_eval.metrics.protocols import get_fvd_protocol
    from lumiere_eval.metrics.values import compute

    rows = np.random.default_rng(0).normal(size=(5, 4))
    with pytest.raises(MetricInputError, match="^FVD needs at least 2 videos on each side, got 5 real and 1 generated$"):
        compute("fvd", rows, rows[:1], get_fvd_protocol("fvd2048_16f"), 0, 0)
    with pytest.raises(MetricInputError, match=r"^precision \(k=3\) needs at least 4 videos on each side, got 3$"):
        compute("precision", rows[:3], rows[:3], get_fvd_protocol("fvd2048_16f"), 0, 0)
    assert compute("fvd", rows, rows[:2], get_fvd_protocol("fvd2048_16f"), 0, 0)["value"] > 0


def _zero_fps_avi(path, frames):
    """An AVI whose stream header declares rate 0 and whose main header a frame period of 0 (broken software)."""
    write_video(path, frames, 8)
    data = bytearray(path.read_bytes())
    strh = data.find(b"strh")
    assert data[strh + 8:strh + 12] == b"vids"
    struct.pack_into("<I", data, strh + 32, 0)  # dwRate
    struct.pack_into("<I", data, data.find(b"avih") + 8, 0)  # dwMicroSecPerFrame
    path.write_bytes(bytes(data))
    return path


def test_a_container_declaring_zero_fps_is_warned_and_recorded(sets, tmp_path, capsys):
    bad = _zero_fps_avi(tmp_path / "zero.avi", moving_pattern(20, 32, 40))
    good = write_video(tmp_path / "good.avi", moving_pattern(20, 32, 40), 8)
    info = probe_video(bad)
    assert info.fps == 25.0 and info.fps_note == "the container declares 0 fps; read as 25 fps (FFmpeg's default)"
    assert probe_video(good).fps_note is None and probe_video(good).fps == 8.0
    assert main(["video-info", str(bad), str(good)]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["fps_declared"] for line in lines] == [False, True]
    assert f"warning: {bad}: the container declares 0 fps; read as 25 fps (FFmpeg's default)" in err
    os.replace(bad, sets / "fake" / "zero.avi")
    code, caught = _metrics(sets, sets / "real", sets / "fake")
    assert code == 0 and any("1 video(s) whose container declares 0 fps, read as 25 fps" in m for m in caught)
    assert json.loads((sets / "m.json").read_text())["fps_undeclared"] == [str(sets / "fake" / "zero.avi")]


def test_motion_on_a_plain_folder_names_each_left_out_files_own_reason(tmp_path, capsys):
    folder = tmp_path / "videos"
    write_video(folder / "good.mp4", moving_pattern(16, 32, 40), fps=8)
    write_video(folder / "tiny.mp4", np.ascontiguousarray(moving_pattern(16, 16, 16)[:, :8, :8]), fps=8)
    write_video(folder / "two.mp4", moving_pattern(2, 32, 40), fps=8)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "x.mp4").mkdir()
    (folder / "notes.txt").write_text("not a video, not listed")
    out_file = tmp_path / "m.json"
    assert main(["motion", str(folder), "--no-progress", "--bootstrap", "0", "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    reasons = {os.path.basename(x["path"]): x["reason"] for x in json.loads(out_file.read_text())["left_out"]}
    assert reasons == {
        "empty.mp4": "file is empty (0 bytes)", "x.mp4": "is a directory, not a video file",
        "tiny.mp4": "frames 8x8 are too small for the optical flow of the motion scores (both sides need at least "
                    "16 pixels)",
        "two.mp4": "has 2 frame(s); the motion scores need at least 3"}
    assert f"left out: {folder / 'two.mp4'}: has 2 frame(s)" in out and "temporal_flickering" in out
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main(["motion", str(empty)]) == 1
    assert "neither a run folder (no samples.jsonl) nor a folder of videos" in capsys.readouterr().err


def test_folder_kind_is_decided_once(tmp_path):
    from lumiere_eval.video.folders import folder_kind

    assert folder_kind(tmp_path) == "videos"
    (tmp_path / "samples.jsonl").write_text("")
    assert folder_kind(tmp_path) == "run"
