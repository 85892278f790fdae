"""Generation under bad input and faults (issue 16): whole-plan folder checks, undecodable file names, disk full,
read-only output, stale temporaries, numeric option ranges, cache entries of the wrong shape."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap

import av
import numpy as np
import pytest

from conftest import moving_pattern
from lumiere_eval.cli import main
from lumiere_eval.models.dummy import DummyGenerator
from lumiere_eval.output_files import OutputWriteError, clean_stale_temporaries
from lumiere_eval.datasets.ucf101 import SampleSpec
from lumiere_eval.runner.cache import CacheEntryWarning, FeatureCache
from lumiere_eval.runner.distributed import Shard
from lumiere_eval.runner.generation import VideoSpec, generate_samples
from lumiere_eval.video import write_video


def _folder_args(folder, prompts_file, out, *extra):
    return ["generate", "--model", "folder", "--model-arg", f"path={folder}", "--model-arg", "temporal=first",
            "--prompts", str(prompts_file), "--num-frames", "4", "--fps", "8", "--height", "16", "--width", "16",
            "--out", str(out), *extra]


def test_folder_plan_is_validated_whole_before_anything_is_written(tmp_path, capsys):
    folder = tmp_path / "videos"
    write_video(folder / "a_dog-0.mp4", moving_pattern(8, 16, 16), fps=8)
    write_video(folder / "a_cat-0.mp4", moving_pattern(8, 16, 16), fps=8)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a cat\na dog\nA dog!\na fish\na bird\n")  # "a dog" and "A dog!" share a file name
    for batch in ("1", "2", "5"):
        out = tmp_path / f"out{batch}"
        assert main(_folder_args(folder, prompts, out, "--batch-size", batch)) == 1
        err = capsys.readouterr().err
        assert "4 problem(s)" in err and "2 of 4 requested videos missing" in err
        assert "prompts 'a dog' and 'A dog!' have the same file name 'a_dog'" in err
        assert "no video for prompt 'a fish' seed 0" in err and "no video for prompt 'a bird' seed 0" in err
        assert not out.exists()  # nothing generated from a plan that cannot be completed


def test_undecodable_file_name_is_harmless_unless_requested(tmp_path, capsys):
    folder = tmp_path / "videos"
    write_video(folder / "a_cat-0.mp4", moving_pattern(8, 16, 16), fps=8)
    bad = write_video(folder / "x.mp4", moving_pattern(8, 16, 16), fps=8)
    os.rename(bytes(bad), bytes(folder) + b"/caf\xe9-0.mp4")  # a Latin-1 name: not valid UTF-8
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a cat\n")
    assert main(_folder_args(folder, prompts, tmp_path / "out")) == 0
    assert (tmp_path / "out" / "a_cat-0.mp4").is_file()
    prompts.write_text("caf\n")  # slug of caf\xe9 is "caf"
    assert main(_folder_args(folder, prompts, tmp_path / "out2")) == 1
    assert "b'caf\\xe9-0.mp4': file name is not valid UTF-8; rename the file" in capsys.readouterr().err


def _disk_full_after(monkeypatch, videos_ok: int):
    """Every video write after the first `videos_ok` goes to /dev/full: the kernel answers ENOSPC."""
    real_open, calls = av.open, []

    def open_(file, mode="r", **kwargs):
        if mode == "w":
            calls.append(file)
            if len(calls) > videos_ok:
                return real_open("/dev/full", mode, **kwargs)
        return real_open(file, mode, **kwargs)

    monkeypatch.setattr(av, "open", open_)


def _plan(n: int) -> list[SampleSpec]:
    return [SampleSpec(i, "Basketball", f"prompt {i}", 1000 + i) for i in range(n)]


def test_disk_full_stops_the_run_names_the_file_and_is_no_generator_failure(tmp_path, monkeypatch):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    _disk_full_after(monkeypatch, 2)
    spec, shard = VideoSpec(4, 8.0, 16, 16), Shard(0, 1)
    with pytest.raises(OutputWriteError, match=r"cannot write .*samples/000002.mp4: disk full") as err:
        generate_samples(tmp_path, _plan(5), DummyGenerator(), spec, shard, batch_size=1, progress=False)
    assert err.value.errno == errno.ENOSPC
    assert not (tmp_path / "errors").exists()  # a full disk is not recorded as a generator failure
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [  # what was done is kept, no temporaries
        "000000.json", "000000.mp4", "000001.json", "000001.mp4"]
    monkeypatch.undo()
    counts = generate_samples(tmp_path, _plan(5), DummyGenerator(), spec, shard, batch_size=1, progress=False)
    assert counts == {"already_done": 2, "generated": 3, "failed": 0}


def test_disk_full_in_generate_is_one_clear_line(tmp_path, monkeypatch, capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    _disk_full_after(monkeypatch, 1)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a\nb\nc\n")
    out = tmp_path / "out"
    args = ["generate", "--prompts", str(prompts), "--num-frames", "4", "--height", "16", "--width", "16",
            "--out", str(out)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"cannot write {out / 'b-0.mp4'}: disk full (no space left on device)" in err
    assert "Traceback" not in err
    assert [json.loads(line)["prompt"] for line in (out / "manifest.jsonl").read_text().splitlines()] == ["a"]
    monkeypatch.undo()
    assert main(args) == 0
    assert "generated 2, kept 1 already done" in capsys.readouterr().out


def _read_only(monkeypatch, folder):
    """Folders under `folder` cannot be created, as on a read-only mount (EROFS); simulated, since root ignores
    file modes."""
    real_mkdir = type(folder).mkdir

    def mkdir(self, *args, **kwargs):
        if str(self).startswith(str(folder)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(type(folder), "mkdir", mkdir)


def test_read_only_output_folder_is_one_clear_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "ro" / "out"
    _read_only(monkeypatch, tmp_path / "ro")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a\n")
    assert main(["generate", "--prompts", str(prompts), "--num-frames", "4", "--height", "16", "--width", "16",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "read-only file system" in err and str(out) in err and "Traceback" not in err


def test_stale_temporaries_of_killed_writers_are_cleaned_on_next_start(tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    child = textwrap.dedent(f"""
        import os
        from lumiere_eval.files import atomic_path
        with atomic_path({str(samples / '000000.mp4')!r}) as tmp:
            tmp.write_bytes(b"half a video")
            os._exit(0)  # killed mid-write
    """)
    subprocess.run([sys.executable, "-c", child], check=True)
    left = [p.name for p in samples.iterdir()]
    assert len(left) == 1 and left[0].startswith(".000000.") and "tmp" in left[0]
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        busy = samples / f".000001.{live.pid}.abcdef.tmp.mp4"  # a writer still running: left alone
        busy.write_bytes(b"being written")
        counts = generate_samples(tmp_path, _plan(1), DummyGenerator(), VideoSpec(4, 8.0, 16, 16), Shard(0, 1),
                                  progress=False)
        assert counts["generated"] == 1
        assert sorted(p.name for p in samples.iterdir()) == [busy.name, "000000.json", "000000.mp4"]
    finally:
        live.kill()
        live.wait()
    assert clean_stale_temporaries(samples) == [busy]


@pytest.mark.parametrize("argv", [
    ["generate", "--prompt", "a", "--out", "x", "--fps", "0"],
    ["generate", "--prompt", "a", "--out", "x", "--height", "-16"],
    ["generate", "--prompt", "a", "--out", "x", "--strength", "1.5"],
    ["generate", "--prompt", "a", "--out", "x", "--border", "-1"],
    ["ucf101", "--fps", "0"],
    ["ucf101", "--fps", "nan"],
    ["ucf101", "--bootstrap", "-1"],
    ["ucf101", "--seed", "-3"],
    ["ucf101", "--max-video-mb", "0"],
    ["ucf101", "--max-skipped-fraction", "1.5"],
    ["ucf101", "--width", "0"],
    ["metrics", "--real", "r", "--fake", "f", "--bootstrap", "-1"],
    ["metrics", "--real", "r", "--fake", "f", "--clip-frames", "0"],
    ["synthetic", "root", "--fps", "-8"],
    ["weights", "fetch", "c3d_ucf101", "--timeout", "0"],
    ["dashboard", "--port", "70000"],
])
def test_numeric_options_are_range_checked_before_anything_runs(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[-2]}: " in err and ("must be" in err or "not a finite number" in err)
    assert not any(tmp_path.iterdir())  # nothing computed, nothing written


def test_cache_entry_of_the_wrong_shape_is_named_and_recomputed(tmp_path):
    from lumiere_eval.runner.features import FeatureJob, VideoItem, compute_features
    from lumiere_eval.video import ClipSampling
    from test_reliability_video import NormalisedMean

    paths = [write_video(tmp_path / f"v{i}.mp4", moving_pattern(16, seed=i), fps=8) for i in range(3)]
    items = [VideoItem(p, f"{i:064d}", p.name) for i, p in enumerate(paths)]
    job = FeatureJob("fvd", NormalisedMean(), ClipSampling("first", 16))
    cache = FeatureCache(tmp_path / "cache")
    first = compute_features(items, [job], cache, block_size=1, progress=False)["fvd"]
    candidates = [cache.key(items[1].sha256, job.config | extra) for extra in ({}, {"block": 1})]
    key = next(k for k in candidates if cache._path(k).exists())  # with or without the block in the key
    np.save(cache._path(key), np.zeros((2, 5), np.float32))  # an entry of another shape under the right key
    with pytest.warns(CacheEntryWarning, match=rf"feature cache entry .*{key}.npy has shape \[2, 5\], expected 1 "
                                               r"axes ending in 3; recomputing it"):
        again = compute_features(items, [job], cache, block_size=1, progress=False)["fvd"]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert np.load(cache._path(key)).shape == (3,)  # rewritten



def test_truncated_source_video_is_a_folder_problem(ucf101_shared, tmp_path):
    from lumiere_eval.models.folder import FolderGenerator

    folder = tmp_path / "videos"
    folder.mkdir()
    data = (ucf101_shared / "v_Basketball_g01_c01.avi").read_bytes()
    (folder / "a_game-0.avi").write_bytes(data[: len(data) // 2])
    problems = FolderGenerator(str(folder), temporal="first", check_fps=False).validate(["a game"], [0], 16, 8, 16, 16)
    assert problems == ["a_game-0.avi: truncated file: the container declares 141 frames, only 73 can be decoded"]


def test_disk_full_while_caching_features_names_the_entry(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "cache")
    real_save = np.save

    def save_to_full_disk(file, array, *args, **kwargs):
        with open("/dev/full", "wb") as full:  # the kernel answers ENOSPC, as a full disk does
            real_save(full, np.zeros(1 << 16), *args, **kwargs)

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    monkeypatch.setattr(np, "save", save_to_full_disk)
    key = cache.key("0" * 64, {"extractor": "x"})
    with pytest.raises(OutputWriteError, match=rf"cannot write .*{key}.npy: disk full") as err:
        cache.put(key, np.ones(3))
    assert err.value.errno == errno.ENOSPC
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))  # no temporary, no half entry


def test_every_numeric_option_of_every_subcommand_has_a_range():
    import argparse
    import importlib

    from lumiere_eval.cli import SUBCOMMANDS

    def actions(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from actions(sub)
            else:
                yield action

    bare = []
    for name, (module, _) in SUBCOMMANDS.items():
        parser = argparse.ArgumentParser(prog=name)
        importlib.import_module(module).add_arguments(parser)
        bare += [f"{name} {'/'.join(a.option_strings) or a.dest}" for a in actions(parser)
                 if a.type in (int, float) and not a.choices]
    assert bare == []  # use lumiere_eval.cli_types.int_range / float_range
