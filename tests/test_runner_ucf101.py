"""The UCF101 runner end to end on a miniature UCF101 tree in the real layout, with tiny extractors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import moving_pattern
from lumiere_eval.cli import main
from lumiere_eval.video import write_video
from test_extractors import save_tiny_clip, save_tiny_detector

CLASSES = ["ApplyEyeMakeup", "Basketball", "HandstandPushups"]


def build_tree(root: Path, per_class: int = 4, real_clips: Path | None = None) -> Path:
    """UCF-101/<Class>/v_<Class>_gXX_cYY.avi plus CRLF split files (with the HandStandPushups file-name quirk)."""
    data = root / "UCF-101"
    train, test = [], []
    for label, name in enumerate(CLASSES, start=1):
        folder = data / name
        folder.mkdir(parents=True)
        file_class = "HandStandPushups" if name == "HandstandPushups" else name
        for i in range(per_class):
            file = f"v_{file_class}_g{i + 8:02d}_c01.avi"
            write_video(folder / file, moving_pattern(24, 48, 64, seed=label * 10 + i), fps=25)
            train.append(f"{name}/{file} {label}")
        file = f"v_{file_class}_g01_c01.avi"
        write_video(folder / file, moving_pattern(24, 48, 64, seed=label), fps=25)
        test.append(f"{name}/{file}")
    if real_clips is not None:  # the real UCF101 clips from ../shared, in their class folder
        for clip in sorted(real_clips.glob("v_Basketball_*.avi")):
            shutil.copy(clip, data / "Basketball" / clip.name)
            train.append(f"Basketball/{clip.name} 2")
    splits = root / "ucfTrainTestlist"
    splits.mkdir()
    (splits / "classInd.txt").write_bytes("".join(f"{i} {c}\r\n" for i, c in enumerate(CLASSES, 1)).encode())
    (splits / "trainlist01.txt").write_bytes("".join(f"{line}\r\n" for line in train).encode())
    (splits / "testlist01.txt").write_bytes("".join(f"{line}\r\n" for line in test).encode())
    return root


@pytest.fixture
def weights(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("weights")
    save_tiny_detector(folder / "i3d.pt", 400, seed=1)
    save_tiny_detector(folder / "c3d.pt", len(CLASSES), seed=2)
    save_tiny_clip(folder / "clip.pt")
    return {"i3d": folder / "i3d.pt", "c3d": folder / "c3d.pt", "clip": folder / "clip.pt"}


def args_for(root: Path, out: Path, weights: dict, *extra: str) -> list[str]:
    return ["ucf101", "--data-root", str(root), "--out", str(out), "--cache-dir", str(out.parent / "cache"),
            "--i3d", str(weights["i3d"]), "--c3d", str(weights["c3d"]), "--clip", str(weights["clip"]),
            "--num-samples", "9", "--num-frames", "16", "--height", "32", "--width", "32", "--fps", "8",
            "--metrics", "fvd,kvd,is,clipsim", "--is-splits", "3", "--bootstrap", "20", "--no-progress",
            *(() if "--model" in extra else ("--model", "dummy")), *extra]


def test_whole_run_records_everything(tmp_path, weights, ucf101_shared, capsys):
    root = build_tree(tmp_path / "data", real_clips=ucf101_shared)
    out = tmp_path / "run"
    assert main(args_for(root, out, weights)) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["metrics"]) == {"fvd", "kvd", "is", "clipsim"}
    fvd = results["metrics"]["fvd"]
    assert fvd["value"] > 0 and fvd["ci_low"] <= fvd["ci_high"] and fvd["n_real"] == 14 and fvd["n_fake"] == 9
    assert results["metrics"]["fvd"]["higher_is_better"] is False and results["metrics"]["is"]["higher_is_better"]
    assert 1 <= results["metrics"]["is"]["value"] <= len(CLASSES)
    assert results["unverified_weights"]  # local files without a published checksum are flagged
    assert results["real_set"]["clips"] == 14 and len(results["real_set"]["hash"]) == 16
    assert results["provenance"]["versions"]["torch"] and results["prompt_suite"]["name"] == "classname-v1"
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [r["index"] for r in records] == list(range(9))
    assert {"class", "prompt", "seed", "path", "sha256", "clipsim", "is_top1"} <= set(records[0])
    assert sorted({r["class"] for r in records}) == CLASSES  # 4+6+4 train clips -> allocation 3/3/3 of 9
    summary = (out / "summary.md").read_text()
    assert "published, not re-measured" in summary and "332.49" in summary
    assert "FVD" in capsys.readouterr().out


def test_dry_run_prints_plan_and_computes_nothing(tmp_path, weights, capsys):
    root = build_tree(tmp_path / "data")
    out = tmp_path / "run"
    assert main(args_for(root, out, weights, "--dry-run")) == 0
    text = capsys.readouterr().out
    assert "per-class counts" in text and "real clips: 12" in text and "9 to generate" in text
    assert not (out / "samples").exists()


def test_resume_after_crash_recomputes_nothing_and_gives_identical_numbers(tmp_path, weights, monkeypatch):
    from lumiere_eval.models.dummy import DummyGenerator
    from lumiere_eval.runner import features

    root = build_tree(tmp_path / "data")
    out = tmp_path / "run"
    assert main(args_for(root, out, weights)) == 0
    first = json.loads((out / "results.json").read_text())["metrics"]
    # Simulate a crash: results gone, one video and one record lost mid-write.
    (out / "results.json").unlink()
    (out / "samples" / "000004.mp4").unlink()
    generated, extracted = [], []
    original_generate = DummyGenerator.generate
    monkeypatch.setattr(DummyGenerator, "generate",
                        lambda self, p, s, *a: generated.extend(s) or original_generate(self, p, s, *a))
    original_compute = features.FeatureJob.compute
    monkeypatch.setattr(features.FeatureJob, "compute",
                        lambda self, clips: extracted.append((self.name, len(clips))) or original_compute(self, clips))
    assert main(args_for(root, out, weights)) == 0
    assert len(generated) == 1  # only the lost sample
    # the regenerated video is byte-identical, so every feature is a cache hit
    assert extracted == []
    second = json.loads((out / "results.json").read_text())["metrics"]
    for name in first:
        assert second[name]["value"] == first[name]["value"]


def test_generator_failure_is_retried_then_recorded(tmp_path, weights):
    root = build_tree(tmp_path / "data")
    out = tmp_path / "run"
    prompt = "handstand pushups"
    assert main(args_for(root, out, weights, "--model-arg", f"fail_on={prompt}")) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["samples"]["missing"]) == 3 and results["samples"]["this_invocation"]["failed"] == 3
    errors = sorted((out / "errors").glob("*.json"))
    assert len(errors) == 3 and "attempt 2" in json.loads(errors[0].read_text())["error"]


def test_corrupt_real_video_is_skipped_and_reported_or_fails_with_strict(tmp_path, weights, capsys):
    root = build_tree(tmp_path / "data")
    bad = root / "UCF-101" / "Basketball" / "v_Basketball_g08_c01.avi"
    bad.write_bytes(b"RIFF....AVI garbage")
    out = tmp_path / "run"
    assert main(args_for(root, out, weights)) == 0
    results = json.loads((out / "results.json").read_text())
    assert [s["path"] for s in results["skipped_videos"]] == [str(bad)]
    assert results["metrics"]["fvd"]["n_real"] == 11
    assert main(args_for(root, tmp_path / "run2", weights, "--strict")) == 1
    assert "v_Basketball_g08_c01.avi" in capsys.readouterr().err


@pytest.mark.parametrize("breakage,message", [
    (lambda root: shutil.rmtree(root / "UCF-101" / "Basketball"), "class folder 'Basketball' is missing"),
    (lambda root: (root / "ucfTrainTestlist" / "trainlist01.txt").write_text("Basketball/x.avi 7\r\n"),
     r"trainlist01.txt, line 1: label '7' does not match class Basketball"),
    (lambda root: (root / "ucfTrainTestlist" / "classInd.txt").write_text("1 A\r\n3 B\r\n"),
     r"classInd.txt, line 2: class id 3 out of order"),
])
def test_bad_inputs_give_clear_errors(tmp_path, weights, capsys, breakage, message):
    root = build_tree(tmp_path / "data", per_class=1)
    breakage(root)
    assert main(args_for(root, tmp_path / "run", weights)) == 1
    import re
    assert re.search(message, capsys.readouterr().err)


def test_unknown_model_and_metric(tmp_path, weights, capsys):
    root = build_tree(tmp_path / "data", per_class=1)
    assert main(args_for(root, tmp_path / "run", weights, "--model", "dumm")) == 1
    assert "Did you mean: dummy" in capsys.readouterr().err
    assert main(args_for(root, tmp_path / "run", weights, "--metrics", "fvd,psnr")) == 1
    assert "--metrics: unknown psnr; choose from" in capsys.readouterr().err


def test_shards_then_merge_equal_single_process(tmp_path, weights):
    root = build_tree(tmp_path / "data")
    single = tmp_path / "single"
    assert main(args_for(root, single, weights)) == 0
    sharded = tmp_path / "sharded"
    for i in range(2):
        assert main(args_for(root, sharded, weights, "--shard", f"{i}/2", "--cache-dir", str(tmp_path / "c2"))) == 0
    assert not (sharded / "results.json").exists()
    assert main(args_for(root, sharded, weights, "--merge", "--cache-dir", str(tmp_path / "c2"))) == 0
    a = json.loads((single / "results.json").read_text())["metrics"]
    b = json.loads((sharded / "results.json").read_text())["metrics"]
    assert {k: v["value"] for k, v in a.items()} == {k: v["value"] for k, v in b.items()}


@pytest.mark.slow
def test_torchrun_two_processes_equal_one(tmp_path, weights):
    """Both runs under torchrun with one thread per process: float reductions depend on the thread count."""
    root = build_tree(tmp_path / "data")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parent))
    metrics = {}
    for procs, port in ((1, 29617), (2, 29618)):
        out = tmp_path / f"procs{procs}"
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={procs}", f"--master_port={port}",
               "-m", "lumiere_eval", *args_for(root, out, weights, "--cache-dir", str(tmp_path / f"cache{procs}"))]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        metrics[procs] = {k: v["value"] for k, v in json.loads((out / "results.json").read_text())["metrics"].items()}
    assert metrics[1] == metrics[2]
    assert sorted(p.name for p in (tmp_path / "procs2" / "samples").glob("*.mp4")) == [f"{i:06d}.mp4" for i in range(9)]


@pytest.mark.parametrize("scheme", ["prompt-index", "manifest"])
def test_folder_of_closed_model_videos_goes_through_the_runner(tmp_path, weights, scheme):
    """Videos from a closed model, named `{prompt}-{i}.mp4` or listed in a manifest, evaluated by the protocol."""
    from lumiere_eval.datasets.ucf101 import plain_words

    root = build_tree(tmp_path / "data")
    folder = tmp_path / "gen2"
    folder.mkdir()
    rows = []
    for c, name in enumerate(CLASSES):
        for i in range(3):
            file = f"{plain_words(name)}-{i}.mp4"
            write_video(folder / file, moving_pattern(20, 32, 32, seed=100 + 3 * c + i), fps=8)
            rows.append({"prompt": plain_words(name), "seed": i, "path": file})
    if scheme == "manifest":
        for row in rows:
            (folder / row["path"]).rename(folder / f"clip_{rows.index(row):02d}.mp4")
            row["path"] = f"clip_{rows.index(row):02d}.mp4"
        (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    assert main(args_for(root, out, weights, "--model", "folder", "--model-arg", f"path={folder}")) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["samples"]["generated"] == 9 and results["metrics"]["fvd"]["n_fake"] == 9
    assert main(args_for(root, tmp_path / "run_missing", weights, "--model", "folder", "--model-arg",
                         f"path={tmp_path / 'nope'}")) == 1


def test_resuming_with_another_model_configuration_is_refused(tmp_path, weights, capsys):
    root = build_tree(tmp_path / "data", per_class=1)
    out = tmp_path / "run"
    assert main(args_for(root, out, weights, "--metrics", "fvd")) == 0
    assert main(args_for(root, out, weights, "--metrics", "fvd", "--model-arg", "noise=5")) == 1
    err = capsys.readouterr().err
    assert "differing: generator.noise (recorded 20.0, now 5.0); model_args.noise (recorded null, now 5)" in err


def test_vbench_dimension_per_video_scores_go_into_samples_jsonl(tmp_path, weights):
    """A VBench dimension in a run (background consistency on the run's CLIP): each video's score in its
    samples.jsonl line, equal to VBench's results layout; three prompts of three seeds each, so the interval
    resamples prompts."""
    from vbench_fixtures import save_tiny_semantic_weights

    clip224 = save_tiny_semantic_weights(tmp_path)["clip_vit_b32"]  # VBench's CLIP transform: 224 x 224 frames
    root = build_tree(tmp_path / "data")
    out = tmp_path / "run"
    argv = args_for(root, out, weights | {"clip": clip224}, "--metrics", "fvd,background_consistency")
    argv.remove("--metrics")  # args_for's own list
    argv.remove("fvd,kvd,is,clipsim")
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    entry = results["metrics"]["background_consistency"]
    assert entry["bootstrap_unit"] == "prompt (3)" and entry["interval_method"] == "percentile"
    assert entry["ci_low"] <= entry["value"] <= entry["ci_high"]
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    value, per_video = json.loads((out / "results_eval_results.json").read_text())["background_consistency"]
    assert [r["background_consistency"] for r in records] == [v["video_results"] for v in per_video]
    assert [r["path"] for r in records] == [v["video_path"] for v in per_video]
    assert value == entry["value"] and len({r["background_consistency"] for r in records}) > 1
    from lumiere_eval.runner.compare import per_sample_scores  # what `compare` pairs between two runs

    assert list(per_sample_scores(out, records, False, None)["background_consistency"]) == [
        r["background_consistency"] for r in records]
