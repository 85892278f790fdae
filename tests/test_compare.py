"""`lumiere-eval compare`, `curves` and `motion` on real run folders of the UCF101 runner (tiny extractors),
and the dashboard's statistics section reading what they write."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lumiere_eval.cli import main
from lumiere_eval.video import write_video
from test_runner_ucf101 import args_for, build_tree


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Finished runs on one tree: `clean` and `noisy` (same prompts and seeds), `reseeded` (one seed differs)."""
    from test_extractors import save_tiny_clip, save_tiny_detector

    tmp = tmp_path_factory.mktemp("compare")
    w = tmp / "weights"
    w.mkdir()
    save_tiny_detector(w / "i3d.pt", 400, seed=1)
    save_tiny_detector(w / "c3d.pt", 3, seed=2)
    save_tiny_clip(w / "clip.pt")
    ws = {"i3d": w / "i3d.pt", "c3d": w / "c3d.pt", "clip": w / "clip.pt"}
    root = build_tree(tmp / "data")
    out = {}
    for name, noise in {"clean": "noise=4", "noisy": "noise=60"}.items():
        out[name] = tmp / "results" / name
        # StyleGAN-V's IS convention (seed-42 shuffle, here 3 splits): compare must resample it as the run computed it
        assert main(args_for(root, out[name], ws, "--model-arg", noise, "--is-protocol", "isv2048_ucf")) == 0
    out["reseeded"] = tmp / "results" / "reseeded"  # the clean run with sample 3 made under another seed
    shutil.copytree(out["clean"], out["reseeded"])
    records = [json.loads(line) for line in (out["clean"] / "samples.jsonl").read_text().splitlines()]
    records[3]["seed"] += 1
    (out["reseeded"] / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return out


def test_compare_pairs_runs_and_finds_the_flicker_difference(runs, capsys):
    report = runs["clean"].parent / "paired"
    # 9 pairs: the smallest permutation p-value is about 2 / 2^9, too large to survive Holm over ~15
    # metrics, so this test reads unadjusted p-values (Holm itself is tested in test_paired.py)
    assert main(["compare", str(runs["clean"]), str(runs["noisy"]), "--bootstrap", "200", "--correction", "none",
                 "--out", str(report)]) == 0
    assert "temporal_flickering" in capsys.readouterr().out
    result = json.loads((report / "compare.json").read_text())
    metrics = result["metrics"]
    assert {"fvd", "kvd", "is", "clipsim", "temporal_flickering", "motion_magnitude_dis"} <= set(metrics)
    # the set metrics on all pairs are the runs' own numbers (same features, same real set)
    for side, run in (("a", "clean"), ("b", "noisy")):
        own = json.loads((runs[run] / "results.json").read_text())["metrics"]
        assert metrics["fvd"][side] == pytest.approx(own["fvd"]["value"], rel=1e-9)
        assert metrics["is"][side] == pytest.approx(own["is"]["value"], rel=1e-12)  # shuffled splits, as the run
    flicker = metrics["temporal_flickering"]  # noise 4 against 60: far steadier frames in A
    assert flicker["difference"] > 0 and flicker["ci_low"] > 0 and flicker["better"] == "A"
    assert flicker["a_better_count"] == 9 and flicker["significant"]
    assert all(m["p_adjusted"] == m["p"] for m in metrics.values())
    assert (report / "compare.md").read_text().count("|") > 20


def test_unpaired_runs_are_refused(runs, capsys):
    assert main(["compare", str(runs["clean"]), str(runs["reseeded"]), "--no-motion"]) == 1
    assert "not paired: sample 3 has prompt" in capsys.readouterr().err


def test_a_run_compared_with_itself_is_refused(runs, capsys):
    alias = runs["clean"].parent / "." / "clean"
    assert main(["compare", str(runs["clean"]), str(alias), "--no-motion"]) == 1
    assert "are one run (both sides are the same folder)" in capsys.readouterr().err


def test_compare_report_names_the_runs_not_their_paths(runs):
    from lumiere_eval.runner.compare import compare_markdown

    head = compare_markdown({"run_a": str(runs["clean"]), "run_b": str(runs["noisy"]), "num_resamples": 10,
                             "correction": "holm", "alpha": 0.05, "metrics": {}, "notes": []}).splitlines()[0]
    assert head == "# Paired comparison: A = clean, B = noisy"


def test_metrics_of_other_protocols_are_not_compared(runs, tmp_path, capsys):
    # a run whose FVD and CLIPSIM come from other extractors (their protocol ids differ) on the same real set
    other = tmp_path / "other"
    shutil.copytree(runs["noisy"], other)
    results = json.loads((other / "results.json").read_text())
    for name in ("fvd", "clipsim"):
        results["metrics"][name]["protocol"] += "-other-extractor"
    (other / "results.json").write_text(json.dumps(results))
    assert main(["compare", str(runs["clean"]), str(other), "--no-motion", "--bootstrap", "100",
                 "--out", str(tmp_path / "paired")]) == 0
    result = json.loads((tmp_path / "paired" / "compare.json").read_text())
    assert "fvd" not in result["metrics"] and "clipsim" not in result["metrics"]
    assert {"kvd", "is"} <= set(result["metrics"])
    assert sum("under other protocols" in note for note in result["notes"]) == 2


def test_curves_cli_writes_the_curve_and_its_settled_check(runs, capsys):
    assert main(["curves", str(runs["clean"]), "--bootstrap", "10"]) == 0
    result = json.loads((runs["clean"] / "sample_size.json").read_text())
    own = json.loads((runs["clean"] / "results.json").read_text())["metrics"]
    fvd = result["metrics"]["fvd"]
    assert [p["n"] for p in fvd["points"]] == [2, 4, 8, 9]
    assert fvd["points"][-1]["value"] == pytest.approx(own["fvd"]["value"], rel=1e-9)
    assert isinstance(fvd["settled"], bool) and (runs["clean"] / "sample_size.png").stat().st_size > 1000
    assert len(result["warnings"]) == sum(not m["settled"] for m in result["metrics"].values())


def test_motion_cli_on_a_run_and_on_files(runs, tmp_path, capsys):
    assert main(["motion", str(runs["noisy"]), "--no-progress"]) == 0
    motion = json.loads((runs["noisy"] / "motion.json").read_text())
    assert len(motion["per_sample"]) == 9 and motion["summary"]["temporal_flickering"]["n"] == 9
    frozen = np.full((8, 32, 32, 3), 90, np.uint8)
    write_video(tmp_path / "frozen.mp4", frozen, fps=8)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    files = [str(tmp_path / "frozen.mp4"), str(tmp_path / "broken.mp4")]
    assert main(["motion", *files, "--out", str(tmp_path / "m.json"), "--no-progress"]) == 0
    written = json.loads((tmp_path / "m.json").read_text())
    scores = written["summary"]
    assert scores["temporal_flickering"]["value"] == 1.0 and scores["dynamic_degree_dis"]["value"] == 0.0
    assert [left["path"] for left in written["left_out"]] == [files[1]]
    assert f"left out: {files[1]}: cannot decode" in capsys.readouterr().out
    assert main(["motion", str(tmp_path / "missing.mp4")]) == 1
    assert "missing.mp4: file does not exist" in capsys.readouterr().err


def test_dashboard_compare_page_shows_differences_and_curves(runs, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from lumiere_eval.dashboard import app as app_module

    root = runs["clean"].parent
    if not (root / "paired" / "compare.json").is_file():
        assert main(["compare", str(runs["clean"]), str(runs["noisy"]), "--bootstrap", "100", "--out",
                     str(root / "paired")]) == 0
    if not (runs["clean"] / "sample_size.json").is_file():
        assert main(["curves", str(runs["clean"]), "--bootstrap", "5"]) == 0
    monkeypatch.setenv("LUMIERE_EVAL_DASHBOARD_ROOT", str(root))
    at = AppTest.from_file(str(Path(app_module.__file__)), default_timeout=60)
    at.query_params["page"] = "compare"
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "temporal_flickering" in set(table["metric"]) and "p adjusted" in table.columns
    assert len(at.get("arrow_line_chart")) + len(at.get("vega_lite_chart")) >= 1


def test_default_run_claims_read_the_paired_comparisons():
    from lumiere_eval.runner.default_statistics import claims

    motion = {name: {"motion_magnitude_dis": {"value": v}}
              for name, v in (("lumiere", 2.0), ("per-frame-t2i", 5.0), ("keyframe-cascade", 1.0))}
    def row(d: float, sig: bool) -> dict:
        return {"difference": d, "ci_low": d - 1, "ci_high": d + 1, "p_adjusted": 0.01 if sig else 0.5,
                "significant": sig, "better": "-"}

    paired = {("lumiere", "per-frame-t2i"): {"metrics": {"motion_magnitude_dis": row(-3.0, True)}},
              ("lumiere", "keyframe-cascade"): {"metrics": {"motion_magnitude_dis": row(1.0, False)}},
              ("keyframe-cascade", "per-frame-t2i"): {"metrics": {"motion_magnitude_dis": row(-4.0, True)}}}
    (claim,) = claims(motion, paired)
    assert claim["leader"] == "per-frame-t2i" and claim["holds"]
    # computed as lumiere - per-frame-t2i, reported from the leader's side: +3 with the interval flipped
    assert claim["against"]["lumiere"]["difference"] == 3.0 and claim["against"]["lumiere"]["ci_low"] == 2.0
    paired[("keyframe-cascade", "per-frame-t2i")]["metrics"]["motion_magnitude_dis"] = row(-4.0, False)
    assert not claims(motion, paired)[0]["holds"]


@pytest.fixture()
def changed(runs, tmp_path):
    """A copy of the clean run whose samples 2 and 5 were replaced by other videos after the run."""
    run = tmp_path / "changed"
    shutil.copytree(runs["clean"], run)
    for index, seed in ((2, 11), (5, 12)):
        frames = np.random.default_rng(seed).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
        write_video(run / "samples" / f"{index:06d}.mp4", frames, fps=8)
    return run


def test_a_run_whose_videos_changed_is_refused_naming_the_samples_or_rescored(runs, changed, capsys):
    assert main(["compare", str(changed), str(runs["noisy"]), "--no-motion"]) == 1
    err = capsys.readouterr().err
    assert f"{changed}: 2 sample video(s) are not the files samples.jsonl records (changed after the run): sample 2 " \
           "samples/000002.mp4 (content changed (SHA-256 " in err and "sample 5 samples/000005.mp4" in err
    assert "pass --rescore to recompute" in err
    for argv in (["curves", str(changed)], ["motion", str(changed), "--no-progress"]):
        assert main(argv) == 1
        assert "2 sample video(s) are not the files samples.jsonl records" in capsys.readouterr().err
    report = changed.parent / "rescored"
    assert main(["compare", str(changed), str(runs["noisy"]), "--rescore", "--bootstrap", "100",
                 "--out", str(report)]) == 0
    metrics = json.loads((report / "compare.json").read_text())["metrics"]
    own = json.loads((changed / "results.json").read_text())["metrics"]
    assert metrics["fvd"]["a"] != pytest.approx(own["fvd"]["value"], rel=1e-6)  # the new files' features
    before = [json.loads(line)["clipsim"] for line in (runs["clean"] / "samples.jsonl").read_text().splitlines()]
    from lumiere_eval.runner.run_features import run_features

    now = [r["clipsim"] for r in run_features(changed, rescore=True).records]
    assert [i for i in range(9) if now[i] != pytest.approx(before[i], rel=1e-9)] == [2, 5]
    assert "temporal_flickering" in metrics  # the motion tier rescored the two videos too
    assert main(["curves", str(changed), "--rescore", "--bootstrap", "10"]) == 0


def test_a_moved_run_is_checked_by_content_when_times_differ(runs, tmp_path):
    from lumiere_eval.metrics.record import changed_samples, read_samples

    run = tmp_path / "moved"
    shutil.copytree(runs["clean"], run, copy_function=shutil.copy)  # new modification times, same content
    rows = read_samples(run / "samples.jsonl")
    assert all("size" in r and "mtime_ns" in r for r in rows)
    assert changed_samples(run, rows) == []
    (run / "samples" / "000004.mp4").unlink()
    assert changed_samples(run, rows) == [{"index": 4, "path": "samples/000004.mp4", "sha256": None,
                                           "reason": "does not exist"}]


def test_study_create_and_the_dashboard_name_every_changed_sample(changed, tmp_path, monkeypatch):
    from lumiere_eval.dashboard import records
    from lumiere_eval.human_study.sources import StudyInputError, load_run_folder

    with pytest.raises(StudyInputError, match=r"2 sample video\(s\) are not the files .*sample 2 .*sample 5 .*"
                                              "the HITs would show them beside the run's scores"):
        load_run_folder(changed)
    root = changed.parent
    samples = records.load_samples(root, "changed")
    with pytest.raises(records.ResultFileError, match=r"^changed: 2 sample video\(s\) are not the files"):
        records.check_sample_videos(root, "changed", samples)
    from streamlit.testing.v1 import AppTest

    from lumiere_eval.dashboard import app as app_module

    monkeypatch.setenv("LUMIERE_EVAL_DASHBOARD_ROOT", str(root))
    at = AppTest.from_file(str(Path(app_module.__file__)), default_timeout=60)
    at.query_params["page"] = "run"
    at.run()
    assert not at.exception
    shown = [e.value.replace("\\", "") for e in at.error]  # Markdown escapes undone
    assert any("changed: 2 sample video(s) are not the files samples.jsonl records" in e for e in shown)


def test_a_run_with_a_relative_data_root_is_compared_from_anywhere(runs, tmp_path, monkeypatch, capsys):
    from test_extractors import save_tiny_clip, save_tiny_detector

    w = tmp_path / "w"
    w.mkdir()
    save_tiny_detector(w / "i3d.pt", 400, seed=1)
    save_tiny_detector(w / "c3d.pt", 3, seed=2)
    save_tiny_clip(w / "clip.pt")
    ws = {"i3d": w / "i3d.pt", "c3d": w / "c3d.pt", "clip": w / "clip.pt"}
    build_tree(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    for name, noise in (("a", "noise=4"), ("b", "noise=60")):
        argv = args_for(Path("data"), tmp_path / name, ws, "--model-arg", noise)
        argv[argv.index("--data-root") + 1] = "data"  # relative, as a user types it
        assert main(argv) == 0
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["data_root"] == str(tmp_path / "data")
    monkeypatch.chdir(tmp_path / "a")
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--no-motion", "--bootstrap", "100"]) == 0
    for k, clip in enumerate(sorted((tmp_path / "data").rglob("*.avi"))):  # the real clips replaced after the runs
        write_video(clip, np.random.default_rng(k).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), fps=8)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--no-motion", "--bootstrap", "100"]) == 1
    assert "the real clips under " + str(tmp_path / "data") + " are not the ones the run used" in \
        capsys.readouterr().err
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--no-motion", "--bootstrap", "100",
                 "--rescore"]) == 0
    config["data_root"] = "data"  # a record written before absolute paths were recorded
    (tmp_path / "a" / "config.json").write_text(json.dumps(config))
    from lumiere_eval.runner.run_features import run_config
    from lumiere_eval.metrics.record import ResultRecordError

    with pytest.raises(ResultRecordError, match="field 'data_root' is the relative path 'data', not found from"):
        run_config(tmp_path / "a")
