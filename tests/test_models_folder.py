"""The folder generator: every naming scheme, validation that reports all problems, named resampling."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import moving_pattern
from lumiere_eval import LumiereEvalError
from lumiere_eval.models.base import create_generator
from lumiere_eval.models.folder import (FolderError, FolderValidationError, resize_frames, temporal_indices)
from lumiere_eval.models.manifest import (ManifestEntry, ManifestError, read_manifest, read_prompt_list, slugify,
                                          write_manifest)
from lumiere_eval.video import read_video, write_video

PROMPTS = ["A dog running", "a cat, jumping!"]


def _videos(t=12, h=24, w=32):
    """Four distinct source videos: (prompt, seed) -> frames."""
    return {(p, s): moving_pattern(t, h, w, seed=10 * i + s) for i, p in enumerate(PROMPTS) for s in (0, 1)}


def _requests():
    return [p for p in PROMPTS for _ in (0, 1)], [0, 1, 0, 1]


def _write(folder, names_by_key, fps=16.0, **kw):
    folder.mkdir(parents=True, exist_ok=True)
    sources = _videos(**kw)
    for key, name in names_by_key.items():
        write_video(folder / name, sources[key], fps)
    return {key: read_video(folder / name)[0] for key, name in names_by_key.items()}


def _layouts(tmp_path):
    """The same four videos under every supported scheme: name -> (folder, options, decoded frames by key)."""
    keys = [(p, s) for p in PROMPTS for s in (0, 1)]
    layouts = {}
    raw = {k: f"{k[0]}-{k[1]}.mp4" for k in keys}  # raw prompt, with spaces, commas and "!"
    layouts["prompt-index-raw"] = (tmp_path / "raw", {}, _write(tmp_path / "raw", raw))
    slug = {k: f"{slugify(k[0])}-{k[1]}.mp4" for k in keys}
    layouts["prompt-index-slug"] = (tmp_path / "slug", {}, _write(tmp_path / "slug", slug))
    numbered = {k: f"{i:04d}.mp4" for i, k in enumerate(keys)}
    decoded = _write(tmp_path / "numbered", numbered)
    (tmp_path / "prompts.txt").write_text("\n".join(k[0] for k in keys) + "\n")
    layouts["prompt-order"] = (tmp_path / "numbered", {"prompts": str(tmp_path / "prompts.txt")}, decoded)
    for fmt in ("csv", "jsonl"):
        folder = tmp_path / f"manifest_{fmt}"
        names = {k: f"clip_{i}.mp4" for i, k in enumerate(keys)}
        decoded = _write(folder, names)
        write_manifest(folder / f"manifest.{fmt}", [ManifestEntry(p, s, names[(p, s)]) for p, s in keys])
        layouts[f"manifest-{fmt}"] = (folder, {}, decoded)
    return layouts


def test_every_naming_scheme_loads_the_same_videos(tmp_path):
    prompts, seeds = _requests()
    expected_scheme = {"prompt-index-raw": "prompt-index", "prompt-index-slug": "prompt-index",
                       "prompt-order": "prompt-order", "manifest-csv": "manifest", "manifest-jsonl": "manifest"}
    for name, (folder, options, decoded) in _layouts(tmp_path).items():
        gen = create_generator("folder", path=str(folder), temporal="first", spatial="none", **options)
        assert gen.scheme == expected_scheme[name], name
        videos = gen.generate(prompts, seeds, num_frames=12, fps=16.0, height=24, width=32)
        for video, key in zip(videos, zip(prompts, seeds)):
            np.testing.assert_array_equal(video.frames, decoded[key], err_msg=name)
            assert video.meta["prompt"] == key[0] and video.meta["seed"] == key[1]
        # a subset in another order gives the same videos (batch-independent)
        again = gen.generate([prompts[3]], [seeds[3]], 12, 16.0, 24, 32)[0]
        np.testing.assert_array_equal(again.frames, videos[3].frames)


def test_validation_reports_every_problem_together(tmp_path):
    folder = tmp_path / "bad"
    _write(folder, {(PROMPTS[0], 0): "a dog running-0.mp4", (PROMPTS[0], 1): "a_dog_running-1.mp4"}, fps=24.0)
    write_video(folder / "A Dog Running-1.mp4", moving_pattern(12, 24, 32), 24.0)  # same key as the file above
    write_video(folder / "a cat jumping-0.mp4", moving_pattern(4, 24, 32), 24.0)  # too short
    (folder / "a cat jumping-1.mp4").write_bytes(b"\x00not a video" * 50)  # corrupt
    gen = create_generator("folder", path=str(folder), temporal="first", spatial="none")
    prompts, seeds = _requests()
    with pytest.raises(FolderValidationError) as info:
        gen.generate(prompts + ["a horse"], seeds + [0], num_frames=8, fps=16.0, height=24, width=32)
    text = "\n".join(info.value.problems)
    assert "duplicate video for prompt 'a_dog_running' seed 1" in text
    assert "no video for prompt 'a horse' seed 0" in text and "1 of 5 requested videos missing" in text
    assert "a cat jumping-1.mp4" in text and "unreadable" in text
    assert "a cat jumping-0.mp4: 4 frames" in text
    assert "24 fps but the protocol wants 16 fps" in text
    assert "48x" not in text  # sizes match: no size problem invented
    assert isinstance(info.value, LumiereEvalError) and str(folder) in str(info.value)
    # the same folder passes once the requests avoid the broken files and fps is re-timed
    ok = create_generator("folder", path=str(folder), temporal="fps", spatial="none")
    assert ok.validate([PROMPTS[0]], [0], 8, 16.0, 24, 32) == []


def test_size_mismatch_is_a_problem_only_without_resize(tmp_path):
    _write(tmp_path / "v", {(PROMPTS[0], 0): "a_dog_running-0.mp4"})
    strict = create_generator("folder", path=str(tmp_path / "v"), spatial="none")
    assert any("32x24 but the protocol wants 16x16" in p for p in strict.validate([PROMPTS[0]], [0], 8, 16.0, 16, 16))
    video = create_generator("folder", path=str(tmp_path / "v")).generate([PROMPTS[0]], [0], 8, 16.0, 16, 16)[0]
    assert video.frames.shape == (8, 16, 16, 3) and video.meta["resample"] == "fps/resize-crop-bilinear-aa"


def test_temporal_indices_match_their_definitions():
    # fps: output frame k at time k/fps shows the last source frame starting at or before that time
    for src, dst in [(24.0, 16.0), (25.0, 16.0), (8.0, 16.0), (30.0, 30.0), (29.97, 8.0)]:
        got = temporal_indices("fps", 16, 1000, src, dst)
        brute = [max(i for i in range(1000) if i / src <= k / dst + 1e-9) for k in range(16)]
        np.testing.assert_array_equal(got, brute)
    np.testing.assert_array_equal(temporal_indices("first", 4, 10, 16, 16), [0, 1, 2, 3])
    np.testing.assert_array_equal(temporal_indices("center", 4, 10, 16, 16), [3, 4, 5, 6])
    np.testing.assert_array_equal(temporal_indices("uniform", 4, 10, 16, 16), [0, 3, 6, 9])
    with pytest.raises(FolderError):
        temporal_indices("nearest", 4, 10, 16, 16)


def test_resize_matches_pil_antialiased_bilinear():
    frames = moving_pattern(2, 48, 64, seed=3)
    got = resize_frames(frames, 24, 32, "resize")
    ref = np.stack([np.asarray(Image.fromarray(f).resize((32, 24), Image.BILINEAR)) for f in frames])
    diff = np.abs(got.astype(int) - ref.astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.5  # torch antialias=True follows PIL's filter; rounding differs
    # resize-crop keeps the aspect ratio: 48x64 -> short side 24 (24x32), centre crop 24x24 = columns 4..27
    cropped = resize_frames(frames, 24, 24, "resize-crop")
    np.testing.assert_array_equal(cropped, got[:, :, 4:28])


def test_manifest_roundtrip_and_malformed_rows(tmp_path):
    entries = [ManifestEntry('a "quoted", prompt', 3, "x.mp4", {"fps": 16.0}),
               ManifestEntry("émoji-free ünïcode", 0, "sub/y.mp4")]
    for fmt in ("csv", "jsonl"):
        path = write_manifest(tmp_path / f"m.{fmt}", entries)
        back = read_manifest(path)
        assert [(e.prompt, e.seed, e.path) for e in back] == [(e.prompt, e.seed, e.path) for e in entries]
    (tmp_path / "noseed.csv").write_text("prompt,path\nx,a.mp4\nx,b.mp4\ny,c.mp4\n")
    assert [e.seed for e in read_manifest(tmp_path / "noseed.csv")] == [0, 1, 0]  # k-th row of a prompt = seed k
    bad = {"nopath.jsonl": '{"prompt": "x"}\n', "badseed.csv": "prompt,seed,path\nx,one,a.mp4\n",
           "broken.jsonl": '{"prompt": "x", "path": "a.mp4"}\n{oops\n', "list.jsonl": "[1, 2]\n"}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ManifestError, match=name):
            read_manifest(tmp_path / name)
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "absent.csv")
    (tmp_path / "p.jsonl").write_text(json.dumps({"prompt": "x", "seed": 4}) + "\n" + json.dumps({"prompt": "y"}))
    assert [(r.prompt, r.seed) for r in read_prompt_list(tmp_path / "p.jsonl")] == [("x", 4), ("y", None)]


def test_manifest_rows_pointing_to_missing_files_are_reported(tmp_path):
    folder = tmp_path / "m"
    _write(folder, {(PROMPTS[0], 0): "a.mp4"})
    write_manifest(folder / "manifest.csv", [ManifestEntry(PROMPTS[0], 0, "a.mp4"),
                                             ManifestEntry(PROMPTS[1], 0, "gone.mp4"),
                                             ManifestEntry(PROMPTS[1], 0, "a.mp4")])
    gen = create_generator("folder", path=str(folder))
    problems = gen.validate(PROMPTS, [0, 0], 8, 16.0, 24, 32)
    assert any("duplicate video for prompt 'a cat, jumping!' seed 0" in p for p in problems)
    assert any("gone.mp4" in p and "file does not exist" in p for p in problems)


def test_setup_errors_are_clear(tmp_path):
    with pytest.raises(FolderError, match="does not exist"):
        create_generator("folder", path=str(tmp_path / "nope"))
    _write(tmp_path / "n", {(PROMPTS[0], 0): "0000.mp4"})
    with pytest.raises(FolderError, match="prompts=FILE"):
        create_generator("folder", path=str(tmp_path / "n"))
    with pytest.raises(FolderError, match="temporal mode 'nearest'"):
        create_generator("folder", path=str(tmp_path / "n"), temporal="nearest")
    (tmp_path / "p.txt").write_text("only one prompt\n")
    _write(tmp_path / "n", {(PROMPTS[1], 0): "0001.mp4"})
    gen = create_generator("folder", path=str(tmp_path / "n"), prompts=str(tmp_path / "p.txt"))
    assert any("0001.mp4: number 1 has no prompt" in p for p in gen.validate(["only one prompt"], [0], 8, 16.0, 24, 32))
    assert gen.describe()["scheme"] == "prompt-order" and len(gen.describe()["index_sha256"]) == 64


def test_fps_retiming_of_real_files_repeats_or_skips_frames(tmp_path):
    decoded = _write(tmp_path / "slow", {(PROMPTS[0], 0): "a_dog_running-0.mp4"}, fps=8.0)[(PROMPTS[0], 0)]
    gen = create_generator("folder", path=str(tmp_path / "slow"), spatial="none")
    video = gen.generate([PROMPTS[0]], [0], 8, 16.0, 24, 32)[0]  # 8 fps source at 16 fps: each frame twice
    np.testing.assert_array_equal(video.frames, decoded[[0, 0, 1, 1, 2, 2, 3, 3]])
    decoded = _write(tmp_path / "fast", {(PROMPTS[0], 0): "a_dog_running-0.mp4"}, fps=24.0)[(PROMPTS[0], 0)]
    gen = create_generator("folder", path=str(tmp_path / "fast"), spatial="none")
    video = gen.generate([PROMPTS[0]], [0], 6, 16.0, 24, 32)[0]
    np.testing.assert_array_equal(video.frames, decoded[[0, 1, 3, 4, 6, 7]])
    assert gen.validate([PROMPTS[0]], [0], 9, 16.0, 24, 32) == [  # frame 12 needed, the clip has 12
        "a_dog_running-0.mp4: 12 frames at 24 fps, temporal=fps needs 13 for 9 frames at 16 fps"]


def test_match_by_order_serves_a_plan_with_hashed_seeds(tmp_path):
    folder = tmp_path / "v"
    decoded = _write(folder, {k: f"{slugify(k[0])}-{k[1]}.mp4" for k in _videos()})
    gen = create_generator("folder", path=str(folder), temporal="first", spatial="none")
    prompts = [PROMPTS[1], PROMPTS[0], PROMPTS[1], PROMPTS[0]]
    seeds = [912_345, 77, 4_000_001, 5]  # as a protocol hashes them: not file numbers
    assert len(gen.validate(prompts, seeds, 12, 16.0, 24, 32)) == 5  # summary + 4 missing
    gen.match_by_order(prompts, seeds)
    videos = gen.generate(prompts, seeds, 12, 16.0, 24, 32)
    for video, key in zip(videos, [(PROMPTS[1], 0), (PROMPTS[0], 0), (PROMPTS[1], 1), (PROMPTS[0], 1)]):
        np.testing.assert_array_equal(video.frames, decoded[key])
    assert gen.describe()["seed_match"] == "order"
    # a plan asking for more samples of a prompt than the folder has gets them reported as missing
    gen = create_generator("folder", path=str(folder), temporal="first", spatial="none")
    gen.match_by_order([PROMPTS[0]] * 3, [1, 2, 3])
    assert gen.validate([PROMPTS[0]] * 3, [1, 2, 3], 12, 16.0, 24, 32)[-1] == (
        "no video for prompt 'A dog running' seed 3")
