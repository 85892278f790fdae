"""VBench's text-video dimensions through the engine: `lumiere-eval metrics --metrics appearance_style,
overall_consistency,temporal_style` on self-encoded videos with prompts beside them, a random CLIP and a random
ViCLIP (reduced size, in ViClip-InternVid-10M-FLT.pth's layout) as local files; without the ViCLIP file only its two
dimensions are not computed, and without prompts none of the three is."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from vbench_fixtures import save_tiny_semantic_weights

from lumiere_eval.cli import main
from lumiere_eval.extractors.vbench.semantic import (clip_frame_embeddings, clip_logit_scale, clip_text_embeddings,
                                                     viclip_text_embeddings, viclip_video_embedding)
from lumiere_eval.extractors.vbench.viclip import load_viclip
from lumiere_eval.metrics.vbench import style_frame_scores, video_text_similarity
from lumiere_eval.runner.vbench_tier import score_videos
from lumiere_eval.video import read_video, write_video

VBENCH_PROMPT = "A beautiful coastal beach in spring, waves lapping on sand, Van Gogh style"  # style: 'Van Gogh style'
PROMPTS = [VBENCH_PROMPT, "a red fox running through fresh snow, oil painting"]
SEMANTIC = ["appearance_style", "overall_consistency", "temporal_style"]


@pytest.fixture
def videos_and_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    for side in ("real", "fake"):
        (tmp_path / side).mkdir()
        for i in range(2):
            base = rng.integers(0, 256, (64, 120, 3)).astype(np.uint8)
            write_video(tmp_path / side / f"{side}{i}.mp4", np.stack([base[:, 4 * t:4 * t + 80] for t in range(10)]),
                        fps=8)
            (tmp_path / side / f"{side}{i}.txt").write_text(PROMPTS[i])
    save_tiny_semantic_weights(tmp_path)
    return tmp_path


def _run(tmp_path, extra: list[str]) -> dict:
    out = tmp_path / "record.json"
    argv = ["metrics", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"), "--metrics",
            ",".join(SEMANTIC), "--clip", str(tmp_path / "ViT-B-32.pt"), *extra, "--no-download", "--bootstrap",
            "5", "--quiet", "--device", "cpu", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0
    return json.loads(out.read_text())


def test_metrics_command_computes_the_text_video_dimensions(videos_and_weights):
    tmp_path = videos_and_weights
    record = _run(tmp_path, ["--viclip", str(tmp_path / "ViClip-InternVid-10M-FLT.pth")])
    assert set(record["metrics"]) == set(SEMANTIC) and record["vbench"]["not_computed"] == {}

    from lumiere_eval.extractors.clipsim import load_clip
    from lumiere_eval.extractors.weights import resolve

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clip_model = load_clip(resolve("clip_vit_b32", tmp_path / "ViT-B-32.pt"), "cpu")[0]
    viclip = load_viclip(tmp_path / "ViClip-InternVid-10M-FLT.pth")
    frames = [read_video(tmp_path / "fake" / f"fake{i}.mp4")[0] for i in range(2)]
    styles = ["Van Gogh style", PROMPTS[1]]  # VBench's style phrase for its prompt; the whole prompt otherwise
    per_frame = [style_frame_scores(clip_frame_embeddings(clip_model, f).numpy(),
                                    clip_text_embeddings(clip_model, [s])[0].numpy(), clip_logit_scale(clip_model))
                 for f, s in zip(frames, styles)]
    similarity = [video_text_similarity(viclip_video_embedding(viclip, f).numpy(),
                                        viclip_text_embeddings(viclip, [p])[0].numpy())
                  for f, p in zip(frames, PROMPTS)]
    appearance = record["metrics"]["appearance_style"]
    assert appearance["value"] == pytest.approx(np.concatenate(per_frame).mean(), abs=1e-6)
    assert appearance["style_text_from_vbench_prompts"] == 1 and appearance["style_text_whole_prompt"] == 1
    assert appearance["style_table"].endswith("VBench_full_info.json")  # the installed suite's phrases
    for name in ("overall_consistency", "temporal_style"):
        assert record["metrics"][name]["value"] == pytest.approx(np.mean(similarity), abs=1e-6)
        assert record["metrics"][name]["n"] == 2 and record["metrics"][name]["higher_is_better"]
    layout = json.loads((tmp_path / "record_eval_results.json").read_text())
    assert [v["video_results"] for v in layout["appearance_style"][1]] == pytest.approx(
        [s.mean() for s in per_frame], abs=1e-6)
    assert record["vbench"]["weights"]["viclip_internvid_10m_flt"]["verified"] is False


def test_missing_viclip_stops_only_its_dimensions(videos_and_weights):
    record = _run(videos_and_weights, [])
    assert set(record["metrics"]) == {"appearance_style"}
    for name in ("overall_consistency", "temporal_style"):
        line = record["vbench"]["not_computed"][name]
        assert line.startswith(f"{name}: not computed") and "--viclip PATH" in line


def test_text_video_dimensions_need_every_prompt(videos_and_weights):
    tmp_path = videos_and_weights
    frames = [read_video(tmp_path / "fake" / f"fake{i}.mp4")[0] for i in range(2)]
    weights = {"clip_vit_b32": tmp_path / "ViT-B-32.pt", "viclip_internvid_10m_flt":
               tmp_path / "ViClip-InternVid-10M-FLT.pth"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = score_videos(frames, SEMANTIC + ["background_consistency"], weights, num_resamples=0,
                              video_names=["a.mp4", "b.mp4"], prompts=[PROMPTS[0], None])
    assert set(result["dimensions"]) == {"background_consistency"}
    assert result["unavailable"]["overall_consistency"] == (
        "overall_consistency: not computed: needs each video's prompt; b.mp4 has none")
    assert set(result["unavailable"]) == set(SEMANTIC)
