"""`lumiere-eval generate`: videos + manifest, read back by the folder generator, resume, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lumiere_eval.cli import main
from lumiere_eval.models.base import create_generator
from lumiere_eval.models.generate_cli import GenerateError, file_names, parse_seeds, plan_jobs
from lumiere_eval.models.manifest import read_manifest
from lumiere_eval.video import read_video

PROMPTS = ["a dog running", "A cat, jumping!", "a dog running!"]  # the first and last share the slug a_dog_running


def _args(prompts_file, out, *extra):
    return ["generate", "--model", "dummy", "--prompts", str(prompts_file), "--seeds", "0-1", "--num-frames", "6",
            "--fps", "8", "--height", "16", "--width", "24", "--out", str(out), *extra]


@pytest.fixture
def prompts_file(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(PROMPTS) + "\n\n")
    return path


def test_generate_writes_videos_and_a_manifest_the_folder_generator_reads(prompts_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_args(prompts_file, out, "--batch-size", "4", "--model-arg", "noise=0")) == 0
    assert "generate dummy" in capsys.readouterr().err  # tqdm progress
    entries = read_manifest(out / "manifest.jsonl")
    assert [(e.prompt, e.seed) for e in entries] == [(p, s) for p in PROMPTS for s in (0, 1)]
    assert len({e.path for e in entries}) == 6  # clashing slugs ("a dog running" / "...!") got distinct names
    config = json.loads((out / "generate_config.json").read_text())
    assert config["model"] == "dummy" and config["generator"]["name"] == "dummy"
    folder = create_generator("folder", path=str(out), temporal="first", spatial="none")
    prompts, seeds = [e.prompt for e in entries], [e.seed for e in entries]
    videos = folder.generate(prompts, seeds, 6, 8.0, 16, 24)
    dummy = create_generator("dummy", noise=0).generate(prompts, seeds, 6, 8.0, 16, 24)
    for i, (video, entry) in enumerate(zip(videos, entries)):
        np.testing.assert_array_equal(video.frames, read_video(out / entry.path)[0])
        # H.264 (crf 17, yuv420p) is lossy: each video is nearest to its own source
        errors = [np.abs(video.frames.astype(float) - d.frames.astype(float)).mean() for d in dummy]
        assert errors[i] < 4 and int(np.argmin(errors)) == i, errors


def test_outputs_do_not_depend_on_batch_size(prompts_file, tmp_path):
    assert main(_args(prompts_file, tmp_path / "b1")) == 0
    assert main(_args(prompts_file, tmp_path / "b4", "--batch-size", "4")) == 0
    for entry in read_manifest(tmp_path / "b1" / "manifest.jsonl"):
        np.testing.assert_array_equal(read_video(tmp_path / "b1" / entry.path)[0],
                                      read_video(tmp_path / "b4" / entry.path)[0])


def test_resume_regenerates_only_missing_or_broken_videos(prompts_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_args(prompts_file, out)) == 0
    entries = read_manifest(out / "manifest.jsonl")
    (out / entries[0].path).unlink()
    (out / entries[1].path).write_bytes(b"truncated")
    stamps = {e.path: (out / e.path).stat().st_mtime_ns for e in entries[2:]}
    capsys.readouterr()
    assert main(_args(prompts_file, out)) == 0
    assert "generated 2, kept 4 already done" in capsys.readouterr().out
    assert all((out / p).stat().st_mtime_ns == t for p, t in stamps.items())
    assert len(read_manifest(out / "manifest.jsonl")) == 6
    assert read_video(out / entries[1].path)[0].shape == (6, 16, 24, 3)


def test_a_failing_run_keeps_what_it_made(prompts_file, tmp_path):
    out = tmp_path / "out"
    args = _args(prompts_file, out, "--model-arg", f"fail_on={PROMPTS[1]}")
    with pytest.raises(RuntimeError, match="asked to fail"):
        main(args)
    assert [(e.prompt, e.seed) for e in read_manifest(out / "manifest.jsonl")] == [(PROMPTS[0], 0), (PROMPTS[0], 1)]


def test_clear_errors(prompts_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_args(prompts_file, out)) == 0
    capsys.readouterr()
    assert main(_args(prompts_file, out)[:-2] + ["--num-frames", "8", "--out", str(out)]) == 1
    assert "another configuration (num_frames differ" in capsys.readouterr().err
    assert main([a.replace("dummy", "dumy") for a in _args(prompts_file, tmp_path / "x")]) == 1
    assert "unknown model 'dumy'. Did you mean: dummy?" in capsys.readouterr().err
    assert main(_args(prompts_file, tmp_path / "x", "--model-arg", "speed=3")) == 1
    assert "does not take option(s) speed" in capsys.readouterr().err
    assert main(_args(prompts_file, tmp_path / "x", "--model-arg", "noequals")) == 1
    assert main(_args(tmp_path / "missing.txt", tmp_path / "x")) == 1
    assert "missing.txt: prompt file does not exist" in capsys.readouterr().err
    assert main(["generate", "--model", "zeroscope", "--model-arg", f"path={tmp_path / 'no_model'}",
                 "--prompts", str(prompts_file), "--out", str(tmp_path / "z")]) == 1
    assert "no_model does not exist" in capsys.readouterr().err


def test_seed_and_prompt_plans(tmp_path):
    assert parse_seeds("0") == [0] and parse_seeds("0-3") == [0, 1, 2, 3] and parse_seeds("5,1-2") == [5, 1, 2]
    for bad in ("-1", "3-1", "a", "1,1"):
        with pytest.raises(GenerateError):
            parse_seeds(bad)
    (tmp_path / "p.csv").write_text('prompt,seed\n"x, y",7\nz,\n')
    assert plan_jobs(tmp_path / "p.csv", [0, 1]) == [("x, y", 7), ("z", 0), ("z", 1)]
    (tmp_path / "dup.txt").write_text("x\nx\n")
    with pytest.raises(GenerateError, match="listed twice"):
        plan_jobs(tmp_path / "dup.txt", [0])
    assert file_names([("A b", 0), ("a-b", 1), ("c", 2)], ".mp4")[2] == "c-2.mp4"
    clashing = file_names([("A b", 0), ("a-b", 0)], ".mp4")
    assert len(set(clashing)) == 2 and all(n.startswith("a_b_") for n in clashing)


def test_dry_run_prints_the_plan_and_writes_nothing(prompts_file, tmp_path, capsys):
    assert main(_args(prompts_file, tmp_path / "dry", "--dry-run")) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["num_videos"] == 6 and plan["already_done"] == 0 and not (tmp_path / "dry").exists()


def test_generate_from_a_folder_normalises_closed_model_videos_to_the_protocol(tmp_path):
    from conftest import moving_pattern
    from lumiere_eval.video import write_video

    closed = tmp_path / "gen2"
    for seed in (0, 1):  # 24 fps, 48x64, named {prompt}-{i}.mp4 as many closed-model dumps are
        write_video(closed / f"a dog running-{seed}.mp4", moving_pattern(24, 48, 64, seed=seed), 24.0)
    (tmp_path / "p.txt").write_text("a dog running\n")
    out = tmp_path / "protocol"
    assert main(["generate", "--model", "folder", "--model-arg", f"path={closed}", "--prompts",
                 str(tmp_path / "p.txt"), "--seeds", "0-1", "--num-frames", "8", "--fps", "16", "--height", "32",
                 "--width", "32", "--out", str(out)]) == 0
    config = json.loads((out / "generate_config.json").read_text())
    assert config["generator"]["scheme"] == "prompt-index"
    assert config["generator"]["resample"] == "fps/resize-crop-bilinear-aa"
    for entry in read_manifest(out / "manifest.jsonl"):
        frames, fps = read_video(out / entry.path)
        assert frames.shape == (8, 32, 32, 3) and fps == pytest.approx(16.0)
