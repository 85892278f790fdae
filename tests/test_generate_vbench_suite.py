"""`generate --prompt-suite vbench[:...]` with the dummy model: VBench's names in OUT/videos (found by vbench 0.1.5's
own standard-mode matching), VBench's sample counts, a seed per (prompt, index), resume, clear errors; then
`metrics` on that folder gets each video's prompt from the manifest or from VBench's names, so the text-video
dimensions run (random CLIP and ViCLIP at reduced size, as in test_vbench_tier_semantic)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from vbench_fixtures import save_tiny_semantic_weights

from lumiere_eval.cli import main
from lumiere_eval.datasets.vbench_names import sample_file_name
from lumiere_eval.datasets.vbench_suite import DIMENSIONS, load_suite
from lumiere_eval.models.base import create_generator
from lumiere_eval.models.manifest import read_manifest
from lumiere_eval.models.suite_jobs import sample_seed
from lumiere_eval.video import read_video

ENTRIES = [
    {"prompt_en": "A 3D model of a 1800s victorian house.", "dimension": ["subject_consistency", "dynamic_degree"]},
    {"prompt_en": "In a still frame, a stop sign", "dimension": ["temporal_flickering"]},
    {"prompt_en": "The bund Shanghai, oil painting", "dimension": ["overall_consistency", "temporal_style"]},
]
SEMANTIC = ["appearance_style", "overall_consistency", "temporal_style"]


@pytest.fixture
def info(tmp_path):
    path = tmp_path / "VBench_full_info.json"
    path.write_text(json.dumps(ENTRIES), encoding="utf-8")
    return path


def _generate(info, out, *extra, spec="vbench", size=("16", "16"), frames="4"):
    return main(["generate", "--model", "dummy", "--prompt-suite", spec, "--suite-path", str(info), "--num-frames",
                 frames, "--fps", "8", "--height", size[0], "--width", size[1], "--out", str(out), *extra])


def test_suite_videos_carry_vbenchs_names_counts_and_seeds(info, tmp_path, capsys):
    out = tmp_path / "out"
    assert _generate(info, out, "--seeds", "7") == 0
    entries = read_manifest(out / "manifest.jsonl")
    expected = [(e["prompt_en"], i) for e in ENTRIES for i in range(25 if "temporal_flickering" in e["dimension"]
                                                                    else 5)]
    assert [(e.prompt, e.extra["vbench_index"]) for e in entries] == expected
    assert [e.path for e in entries] == [f"videos/{sample_file_name(p, i)}" for p, i in expected]
    assert [e.seed for e in entries] == [sample_seed(7, p, i) for p, i in expected]
    assert sorted(p.name for p in (out / "videos").iterdir()) == sorted(e.path[len("videos/"):] for e in entries)
    config = json.loads((out / "generate_config.json").read_text())
    assert config["prompt_suite"]["hash"] == load_suite(info).hash and config["prompt_suite"]["base_seed"] == 7
    assert config["prompt_suite"]["source_sha256"] == load_suite(info).source_sha256
    house = entries[:5]  # each video is the dummy's of its own (prompt, seed): nearest to it through lossy H.264
    dummy = create_generator("dummy").generate([e.prompt for e in house], [e.seed for e in house], 4, 8.0, 16, 16)
    for i, entry in enumerate(house):
        errors = [np.abs(read_video(out / entry.path)[0].astype(float) - d.frames).mean() for d in dummy]
        assert int(np.argmin(errors)) == i, errors

    vbench = pytest.importorskip("vbench")
    capsys.readouterr()
    listed = vbench.VBench("cpu", str(info), str(tmp_path / "vb")).build_full_info_json(
        str(out / "videos"), "suite", list(DIMENSIONS))
    assert "WARNING" not in capsys.readouterr().out  # vbench found every video it asks for
    for entry in json.loads(Path(listed).read_text(encoding="utf-8")):
        assert [p.split("/")[-1] for p in entry["video_list"]] == [sample_file_name(entry["prompt_en"], i)
                                                                   for i in range(5)]


def test_resume_and_a_wider_selection_keep_made_videos(info, tmp_path, capsys):
    out = tmp_path / "out"
    assert _generate(info, out, "--samples-per-prompt", "2", spec="vbench:subject_consistency") == 0
    made = {p.name: p.stat().st_mtime_ns for p in (out / "videos").iterdir()}
    assert len(made) == 2
    assert _generate(info, out, "--samples-per-prompt", "2", spec="vbench:subject_consistency") == 0
    assert "generated 0, kept 2" in capsys.readouterr().out
    assert _generate(info, out, "--samples-per-prompt", "3", spec="vbench:dynamic_degree,temporal_style") == 0
    assert "generated 4, kept 2" in capsys.readouterr().out  # the same seeds: index 0 and 1 of the house are kept
    assert all((out / "videos" / n).stat().st_mtime_ns == t for n, t in made.items())
    assert len(read_manifest(out / "manifest.jsonl")) == 6
    assert _generate(info, out, "--samples-per-prompt", "2", "--seeds", "1", spec="vbench:subject_consistency") == 1
    assert "prompt_suite.base_seed (--seeds) differ" in capsys.readouterr().err  # the names would keep old seeds


@pytest.mark.parametrize("extra, message", [
    (["--samples-per-prompt", "2", "--seeds", "0-4"], "with --prompt-suite give one base seed"),
    (["--format", "avi"], "writes .mp4 or .gif"),
    (["--task", "edit"], "--prompt-suite goes with --task t2v"),
])
def test_suite_option_errors(info, tmp_path, capsys, extra, message):
    assert _generate(info, tmp_path / "out", *extra) == 1
    assert message in capsys.readouterr().err


def test_suite_errors_name_the_dimension_prompt_or_option(info, tmp_path, capsys):
    assert _generate(info, tmp_path / "out", spec="vbench:colour") == 1
    assert "unknown VBench dimension 'colour'" in capsys.readouterr().err
    slash = tmp_path / "slash.json"
    slash.write_text(json.dumps([{"prompt_en": "a cat / a dog", "dimension": ["color"]}]), encoding="utf-8")
    assert _generate(slash, tmp_path / "out") == 1
    assert "prompt 'a cat / a dog' holds '/'" in capsys.readouterr().err
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\n")
    assert main(["generate", "--prompts", str(prompts), "--samples-per-prompt", "2", "--out", str(tmp_path / "o")]) == 1
    assert "--samples-per-prompt go with --prompt-suite" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.fixture
def semantic_weights(tmp_path):
    return save_tiny_semantic_weights(tmp_path)


def _metrics(tmp_path, fake, weights, *extra) -> dict:
    out = tmp_path / f"record{len(list(tmp_path.glob('record*.json')))}.json"
    argv = ["metrics", "--real", str(tmp_path / "out" / "videos"), "--fake", str(fake), "--metrics", ",".join(SEMANTIC),
            "--clip", str(weights["clip_vit_b32"]), "--viclip", str(weights["viclip_internvid_10m_flt"]), *extra,
            "--no-download", "--bootstrap", "5", "--quiet", "--device", "cpu", "--cache-dir", str(tmp_path / "cache"),
            "--out", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0
    return json.loads(out.read_text())


def test_metrics_reads_the_prompts_of_a_suite_folder(info, tmp_path, semantic_weights, monkeypatch):
    from lumiere_eval.runner.vbench_tier import score_videos

    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    assert _generate(info, out, "--samples-per-prompt", "1", spec="vbench:subject_consistency,temporal_style",
                     size=("64", "80"), frames="10") == 0
    entries = read_manifest(out / "manifest.jsonl")
    frames = [read_video(out / e.path)[0] for e in entries]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # appearance style's phrases: those of the suite the videos were generated from (`info`)
        direct = score_videos(frames, SEMANTIC, semantic_weights, num_resamples=0, prompts=[e.prompt for e in entries],
                              suite_path=info)
        swapped = score_videos(frames, SEMANTIC, semantic_weights, num_resamples=0,
                               prompts=[e.prompt for e in entries][::-1], suite_path=info)
    by_manifest = _metrics(tmp_path, out, semantic_weights)  # the folder generate wrote: read through its manifest
    by_names = _metrics(tmp_path, out / "videos", semantic_weights, "--prompts-from-names")
    for record in (by_manifest, by_names):
        assert record["vbench"]["not_computed"] == {}
        for name in SEMANTIC:
            assert record["metrics"][name]["value"] == pytest.approx(direct["dimensions"][name]["value"], abs=1e-6)
        assert str(info) in record["metrics"]["appearance_style"]["style_table"]  # its phrases (here: none)
    assert any(abs(direct["dimensions"][n]["value"] - swapped["dimensions"][n]["value"]) > 1e-4 for n in SEMANTIC)
    suite = load_suite(info, ["subject_consistency", "temporal_style"])
    assert by_manifest["prompt_suite"]["hash"] == by_names["prompt_suite"]["hash"] == suite.hash
    without = _metrics(tmp_path, out / "videos", semantic_weights)
    assert set(without["vbench"]["not_computed"]) == set(SEMANTIC) and "has none" in \
        without["vbench"]["not_computed"]["temporal_style"]


def test_dry_run_prints_the_suite_and_writes_nothing(info, tmp_path, capsys):
    assert _generate(info, tmp_path / "out", "--dry-run", spec="vbench:temporal_flickering,temporal_style") == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["num_videos"] == 25 + 5 and plan["prompts"] == "vbench:temporal_flickering,temporal_style"
    assert plan["prompt_suite"]["dimensions"] == ["temporal_flickering", "temporal_style"]
    assert plan["prompt_suite"]["hash"] == load_suite(info, ["temporal_flickering", "temporal_style"]).hash
    assert not (tmp_path / "out").exists()


def test_any_prompt_list_in_vbenchs_naming(tmp_path):
    utils = pytest.importorskip("vbench.utils")
    prompts = tmp_path / "mine.txt"
    prompts.write_text("a fox in the snow, oil painting\nRoute-66 at night\n", encoding="utf-8")
    out = tmp_path / "out"
    assert _generate(prompts, out, "--samples-per-prompt", "2") == 0
    names = sorted(p.name for p in (out / "videos").iterdir())
    assert names == sorted(sample_file_name(p, i) for p in ("a fox in the snow, oil painting", "Route-66 at night")
                           for i in range(2))
    # VBench's custom mode (any prompts) reads each prompt back from the name
    assert sorted(utils.get_prompt_from_filename(n) for n in names) == sorted(e.prompt for e in
                                                                              read_manifest(out / "manifest.jsonl"))
