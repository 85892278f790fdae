"""The VBench dimensions through the engine: `lumiere-eval metrics --metrics ...` on self-encoded videos, with a
random RAFT checkpoint in raft-things.pth's layout and no other VBench weights (those dimensions are listed as not
computed, one line each, and the others finish)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from test_vbench_weights import _original_layout

from lumiere_eval.cli import main
from lumiere_eval.runner.evaluation import MetricSelectionError, VBENCH_METRICS, parse_metrics
from lumiere_eval.video import read_video, write_video


def test_vbench_names_in_metric_lists():
    assert parse_metrics("vbench") == VBENCH_METRICS
    assert parse_metrics("fvd,dynamic_degree") == ("fvd", "dynamic_degree")
    assert "dynamic_degree" in VBENCH_METRICS and "subject_consistency" in VBENCH_METRICS
    with pytest.raises(MetricSelectionError, match="choose from .*vbench.*dynamic_degree"):
        parse_metrics("dynamic")


def test_metrics_command_computes_what_it_has_weights_for(tmp_path, monkeypatch, capsys):
    from lumiere_eval.extractors.vbench.features import raft_flows
    from lumiere_eval.extractors.vbench.raft import build_raft, load_raft
    from lumiere_eval.metrics.vbench import flow_pair_score, is_dynamic

    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    for side in ("real", "fake"):
        (tmp_path / side).mkdir()
        for i in range(2):
            base = rng.integers(0, 256, (128, 150, 3)).astype(np.uint8)
            frames = np.stack([base[:, 3 * t:3 * t + 136] for t in range(3)])
            write_video(tmp_path / side / f"{side}{i}.mp4", frames, fps=8)
    torch.manual_seed(1)
    torch.save(_original_layout(build_raft()), tmp_path / "raft-things.pth")
    out = tmp_path / "record.json"
    argv = ["metrics", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"), "--metrics",
            "subject_consistency,dynamic_degree", "--raft", str(tmp_path / "raft-things.pth"), "--no-download",
            "--bootstrap", "5", "--quiet", "--device", "cpu", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0
    table = capsys.readouterr().out
    record = json.loads(out.read_text())
    assert set(record["metrics"]) == {"dynamic_degree"}
    line = record["vbench"]["not_computed"]["subject_consistency"]
    assert line.startswith("subject_consistency: not computed") and "--dino PATH" in line and line in table
    assert "dynamic_degree" in table

    model = load_raft(tmp_path / "raft-things.pth")
    verdicts = []
    for path in sorted((tmp_path / "fake").glob("*.mp4")):
        frames, fps = read_video(path)
        flows, (h, w), taken = raft_flows(model, frames, fps)
        verdicts.append(is_dynamic([flow_pair_score(f) for f in flows.numpy()], taken, h, w))
    entry = record["metrics"]["dynamic_degree"]
    assert entry["value"] == pytest.approx(np.mean(verdicts)) and entry["n"] == 2 and entry["higher_is_better"]
    assert entry["protocol"] == "vbench-0.1.5"
    layout = json.loads((tmp_path / "record_eval_results.json").read_text())  # VBench's *_eval_results.json
    assert list(layout) == ["dynamic_degree"]
    value, per_video = layout["dynamic_degree"]
    assert value == entry["value"]
    assert [v["video_results"] for v in per_video] == verdicts
    assert [v["video_path"] for v in per_video] == ["fake0.mp4", "fake1.mp4"]


def test_no_static_video_leaves_temporal_flickering_not_computed(tmp_path):
    """VBench's temporal flickering scores only the videos its static filter keeps; when it keeps none the
    dimension is listed as not computed, with the reason, and the other dimensions are unaffected."""
    from lumiere_eval.extractors.vbench.raft import build_raft
    from lumiere_eval.runner.vbench_tier import score_videos

    torch.manual_seed(1)
    torch.save(_original_layout(build_raft()), tmp_path / "raft-things.pth")
    rng = np.random.default_rng(2)
    video = rng.integers(0, 256, (3, 128, 136, 3)).astype(np.uint8)  # 3 frames: VBench's count_num is 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = score_videos([video, video], ["temporal_flickering_static", "dynamic_degree"],
                              {"raft_things": tmp_path / "raft-things.pth"}, fps=[8.0, 8.0], num_resamples=5)
    assert result["unavailable"] == {"temporal_flickering_static": "temporal_flickering_static: not computed: no "
                                                                   "video passed VBench's static filter (RAFT)"}
    assert "temporal_flickering" not in result["eval_results"] and set(result["dimensions"]) == {"dynamic_degree"}
    assert all("temporal_flickering_static" not in scores for scores in result["per_video"])


def test_every_quality_dimension_is_in_the_tier_under_vbenchs_name():
    """VBench's Quality Score needs its 7 quality dimensions by VBench's names; the tier has them all (the
    Semantic Score's object/colour/scene/action dimensions are not implemented, so it is never printed)."""
    from lumiere_eval.metrics.vbench import QUALITY_DIMENSIONS, SEMANTIC_DIMENSIONS, vbench_scores
    from lumiere_eval.runner.vbench_tier import DIMENSIONS, vbench_name

    named = {vbench_name(d): d for d in DIMENSIONS}
    assert set(QUALITY_DIMENSIONS) <= set(named) and named["temporal_flickering"] == "temporal_flickering_static"
    assert sorted(set(SEMANTIC_DIMENSIONS) - set(named)) == ["color", "human_action", "multiple_objects",
                                                            "object_class", "scene", "spatial_relationship"]
    scores = vbench_scores({name: 0.9 for name in named})
    assert set(scores) == {"quality_score"}


def test_metrics_on_generated_videos_alone_when_no_metric_reads_real_ones(tmp_path, monkeypatch, capsys):
    """VBench's dimensions read only the generated videos: `metrics` needs no --real for them, and says which
    metrics need it when one does."""
    from lumiere_eval.extractors.vbench.raft import build_raft

    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(4)
    (tmp_path / "fake").mkdir()
    for i in range(2):
        base = rng.integers(0, 256, (128, 150, 3)).astype(np.uint8)
        write_video(tmp_path / "fake" / f"fake{i}.mp4", np.stack([base[:, 3 * t:3 * t + 136] for t in range(3)]), fps=8)
    torch.manual_seed(1)
    torch.save(_original_layout(build_raft()), tmp_path / "raft-things.pth")
    common = ["--fake", str(tmp_path / "fake"), "--raft", str(tmp_path / "raft-things.pth"), "--no-download",
              "--bootstrap", "5", "--quiet", "--device", "cpu", "--cache-dir", str(tmp_path / "cache")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["metrics", "--metrics", "dynamic_degree", *common, "--out", str(tmp_path / "r.json")]) == 0
        assert "no real videos read: 2 generated videos" in capsys.readouterr().out
        assert main(["metrics", "--metrics", "fvd,dynamic_degree", *common, "--out", str(tmp_path / "f.json")]) == 1
    assert "--real is required: fvd compare the generated videos with real ones" in capsys.readouterr().err
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["real"] == {"source": None, "videos": 0} and record["fake"]["videos"] == 2
    assert record["metrics"]["dynamic_degree"]["n"] == 2 and not (tmp_path / "f.json").exists()


def test_a_video_a_dimension_cannot_score_stops_only_that_dimension_naming_it(tmp_path):
    """A video too small for RAFT stops dynamic degree with one line naming the video; no per-video score of that
    dimension is left half-written, and a dimension that can score every video (here the same one on the other
    video alone) is unaffected."""
    from lumiere_eval.extractors.vbench.raft import build_raft
    from lumiere_eval.runner.vbench_tier import score_videos

    torch.manual_seed(1)
    torch.save(_original_layout(build_raft()), tmp_path / "raft-things.pth")
    rng = np.random.default_rng(5)
    fine = rng.integers(0, 256, (3, 128, 136, 3)).astype(np.uint8)
    small = rng.integers(0, 256, (3, 64, 64, 3)).astype(np.uint8)
    weights = {"raft_things": tmp_path / "raft-things.pth"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = score_videos([fine, small], ["dynamic_degree"], weights, fps=[8.0, 8.0], num_resamples=5,
                              video_names=["fine.mp4", "small.mp4"])
        alone = score_videos([fine], ["dynamic_degree"], weights, fps=[8.0], num_resamples=5)
    line = result["unavailable"]["dynamic_degree"]
    assert line.startswith("dynamic_degree: not computed: small.mp4: frames 64x64") and "128 pixels" in line
    assert result["per_video"] == [{}, {}] and result["dimensions"] == {} and result["eval_results"] == {}
    assert set(alone["dimensions"]) == {"dynamic_degree"}
