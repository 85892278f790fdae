"""The VBench tier: VBench's dimensions with VBench's networks on any videos, per video and per dimension, with
VBench's aggregates, 95% bootstrap intervals over videos (over prompts when a prompt has several videos), and
VBench's own results layout.

`score_videos(videos, ...)` is the entry point; `metrics` and `ucf101` reach it through `evaluation.vbench_results`.
Each dimension needs its registered weights (`lumiere_eval.metrics.registry`, tier "vbench"); one that cannot be
resolved stops only that dimension, with one line in `unavailable`, and the others are computed. The text-video
dimensions (appearance style, overall consistency, temporal style) also need each video's prompt; without them they
are listed in `unavailable` the same way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.extractors.weights import WeightsError, resolve
from lumiere_eval.metrics.registry import UnknownMetricError, get_metric, interval_hook, names
from lumiere_eval.metrics.vbench import (appearance_style_text, consistency_pairs, flow_pair_score,
                                         interpolation_score, is_dynamic, is_static, pooled_consistency,
                                         static_pair_score, style_frame_scores, vbench_scores, video_text_similarity)

TIER = "vbench"


class VBenchInputError(LumiereEvalError):
    """Videos or options the VBench tier cannot score."""


@dataclass(frozen=True)
class Dimension:
    """How one dimension is computed: `load(resolved weights, device) -> networks`, `score(networks, frames, fps)
    -> (per-video score, row)` (`score(networks, frames, fps, prompt)` when `needs_prompt`; a score of None leaves
    the video out of the dimension, as VBench's static filter does); the dimension's value is `pool(rows)`
    (VBench's aggregate); `notes(rows)` adds fields to the dimension's summary and record entry."""

    load: Callable
    score: Callable
    pool: Callable[[np.ndarray], float]
    needs_prompt: bool = False
    notes: Callable[[np.ndarray], dict] | None = None
    none_scored: str = "no video was scored"  # why, when `score` left every video out (returned None)
    needs_styles: bool = False  # `score` gets (networks, VBench's prompt -> style phrase table)


def _load_dino(resolved, device):
    from lumiere_eval.extractors.vbench.dino import load_dino

    return load_dino(resolved[0].path, device)


def _load_clip(resolved, device):
    from lumiere_eval.extractors.clipsim import load_clip

    return load_clip(resolved[0], device)[0]


def _load_aesthetic(resolved, device):
    from lumiere_eval.extractors.vbench.features import load_aesthetic_head

    return _load_clip(resolved, device), load_aesthetic_head(resolved[1].path, device)


def _load_musiq(resolved, device):
    from lumiere_eval.extractors.vbench.features import load_musiq

    return load_musiq(resolved[0].path, device)


def _load_raft(resolved, device):
    from lumiere_eval.extractors.vbench.raft import load_raft

    return load_raft(resolved[0].path, device)


def _load_amt(resolved, device):
    from lumiere_eval.extractors.vbench.amt import load_amt

    return load_amt(resolved[0].path, device)


def _motion_smoothness(model, frames, fps):
    from lumiere_eval.extractors.vbench.features import amt_interpolated

    value = interpolation_score(frames, amt_interpolated(model, frames).numpy())
    return value, (value,)


def _load_viclip(resolved, device):
    from lumiere_eval.extractors.vbench.viclip import load_viclip

    return load_viclip(resolved[0].path, device)


def _appearance(networks, frames, fps, prompt):
    from lumiere_eval.extractors.vbench.semantic import clip_frame_embeddings, clip_logit_scale, clip_text_embeddings

    clip_model, styles = networks
    text, from_vbench = appearance_style_text(prompt, styles)
    scores = style_frame_scores(clip_frame_embeddings(clip_model, frames).numpy(),
                                clip_text_embeddings(clip_model, [text])[0].numpy(), clip_logit_scale(clip_model))
    return float(np.mean(scores)), (float(np.sum(scores)), len(scores), float(from_vbench))


def _viclip_similarity(model, frames, fps, prompt):
    from lumiere_eval.extractors.vbench.semantic import viclip_text_embeddings, viclip_video_embedding

    value = video_text_similarity(viclip_video_embedding(model, frames).numpy(),
                                  viclip_text_embeddings(model, [prompt])[0].numpy())
    return value, (value,)


def _dynamic(model, frames, fps):
    from lumiere_eval.extractors.vbench.features import raft_flows

    if not fps or fps <= 0:
        raise VBenchInputError(f"dynamic degree takes frames at 8 fps and needs each video's frame rate, got {fps}")
    flows, (height, width), taken = raft_flows(model, frames, fps)
    dynamic = is_dynamic([flow_pair_score(f) for f in flows.numpy()], taken, height, width)
    return dynamic, (float(dynamic),)


def _static_flickering(model, frames, fps):
    from lumiere_eval.extractors.vbench.features import raft_static_flows
    from lumiere_eval.metrics.motion import temporal_flickering

    flows, (height, width), count = raft_static_flows(model, frames)
    if not is_static([static_pair_score(f) for f in flows.numpy()], count, height, width):
        return None, None  # VBench scores only the videos its static filter keeps
    value = temporal_flickering(frames)
    return value, (value,)


def _imaging(model, frames, fps):
    from lumiere_eval.extractors.vbench.features import musiq_scores

    value = float(musiq_scores(model, frames).mean())
    return value, (value,)


def _consistency(features_of):
    def score(model, frames, fps):
        total, count = consistency_pairs(features_of(model, frames).numpy())
        return total / count, (total, count)
    return score


def _aesthetic(networks, frames, fps):
    from lumiere_eval.extractors.vbench.features import aesthetic_scores

    value = float(aesthetic_scores(*networks, frames).mean())
    return value, (value,)


def _dino_features(model, frames):
    from lumiere_eval.extractors.vbench.features import dino_features

    return dino_features(model, frames)


def _clip_features(model, frames):
    from lumiere_eval.extractors.vbench.features import clip_image_features

    return clip_image_features(model, frames)


def _mean_over_100(rows: np.ndarray) -> float:
    return float(np.mean(rows[:, 0])) / 100


def _pooled(rows: np.ndarray) -> float:
    return pooled_consistency([(float(s), int(c)) for s, c in rows])


def _mean(rows: np.ndarray) -> float:
    return float(np.mean(rows[:, 0]))


def _per_frame(rows: np.ndarray) -> float:
    return float(np.sum(rows[:, 0]) / np.sum(rows[:, 1]))


def _style_texts(rows: np.ndarray) -> dict:
    return {"style_text_from_vbench_prompts": int(np.sum(rows[:, 2])),
            "style_text_whole_prompt": int(len(rows) - np.sum(rows[:, 2]))}


DIMENSIONS: dict[str, Dimension] = {
    "subject_consistency": Dimension(_load_dino, _consistency(_dino_features), _pooled),
    "background_consistency": Dimension(_load_clip, _consistency(_clip_features), _pooled),
    "aesthetic_quality": Dimension(_load_aesthetic, _aesthetic, _mean),
    "imaging_quality": Dimension(_load_musiq, _imaging, _mean_over_100),  # per video on MUSIQ's 0..100 scale
    "dynamic_degree": Dimension(_load_raft, _dynamic, _mean),  # per video True/False, the value their share
    # VBench's temporal flickering: RAFT's static filter first, then the flicker score of the static videos only
    "temporal_flickering_static": Dimension(_load_raft, _static_flickering, _mean,
                                            none_scored="no video passed VBench's static filter (RAFT)"),
    "motion_smoothness": Dimension(_load_amt, _motion_smoothness, _mean),
    # per video the mean frame score; the value the mean over all frames of all videos (VBench's `sim / cnt`)
    "appearance_style": Dimension(_load_clip, _appearance, _per_frame, needs_prompt=True, notes=_style_texts,
                                  needs_styles=True),
    "overall_consistency": Dimension(_load_viclip, _viclip_similarity, _mean, needs_prompt=True),
    "temporal_style": Dimension(_load_viclip, _viclip_similarity, _mean, needs_prompt=True),
}


# tier dimensions whose registry name differs from VBench's (the motion tier's `temporal_flickering` scores every
# video; VBench's only the static ones)
VBENCH_NAMES = {"temporal_flickering_static": "temporal_flickering"}


def _resolve(dimension: str, local: dict[str, str | os.PathLike], fetch_missing: bool):
    return [resolve(name, local.get(name), fetch_missing=fetch_missing) for name in get_metric(dimension).weights]


def score_videos(videos: Sequence, dimensions: Sequence[str] | None = None,
                 weights: dict[str, str | os.PathLike] | None = None, fetch_missing: bool = False,
                 device: str = "cpu", num_resamples: int = 200, seed: int = 0,
                 video_names: Sequence[str] | None = None, fps: Sequence[float] | None = None,
                 prompts: Sequence[str | None] | None = None, suite_path: str | os.PathLike | None = None) -> dict:
    """VBench's dimensions of uint8 videos `[T, H, W, 3]` (T >= 2; `videos[i]` may decode on access) at frame rates
    `fps` (dynamic degree needs them) with their `prompts` (the text-video dimensions need them):
    `per_video` (one dict per video, dimension ->
    score), `dimensions` (VBench's aggregate `value` with a 95% percentile bootstrap interval over videos, or over
    prompts when some prompt has several videos, `bootstrap_unit` saying which, `n`, direction),
    `unavailable` (dimension -> one line saying which weights are missing), `weights` (what was used),
    `vbench_scores` (Quality / Semantic / Total, only those whose every dimension was computed here) and
    `eval_results` (VBench's `*_eval_results.json` layout). `weights` maps registry names to local files;
    `fetch_missing` lets the registry download what is not cached; `suite_path`: the VBench_full_info.json whose
    style phrases appearance style uses (default the installed vbench package's; recorded as `style_table`)."""
    wanted = list(dimensions or DIMENSIONS)
    unknown = [d for d in wanted if d not in DIMENSIONS]
    if unknown:
        raise UnknownMetricError(f"not a VBench dimension of this tier: {', '.join(unknown)}; known: "
                           f"{', '.join(DIMENSIONS)} (registered: {', '.join(names(TIER))})")
    video_names = list(video_names or (f"video_{i:05d}" for i in range(len(videos))))
    per_video: list[dict] = [{} for _ in videos]
    summary, unavailable, used, eval_results = {}, {}, {}, {}
    if prompts is not None and len(prompts) != len(videos):
        raise VBenchInputError(f"{len(prompts)} prompts for {len(videos)} videos")
    # several videos of one prompt (seeds) are not independent: when every video has its prompt and some prompt
    # has several videos, the bootstrap resamples prompts
    groups = list(prompts) if prompts is not None and all(prompts) and len(set(prompts)) < len(prompts) else None
    for dimension in wanted:
        spec = DIMENSIONS[dimension]
        no_prompt = spec.needs_prompt and next((name for i, name in enumerate(video_names)
                                                if prompts is None or not prompts[i]), None)
        if no_prompt:
            unavailable[dimension] = f"{dimension}: not computed: needs each video's prompt; {no_prompt} has none"
            continue
        try:
            resolved = _resolve(dimension, weights or {}, fetch_missing)
        except WeightsError as err:
            unavailable[dimension] = f"{dimension}: not computed: {err}"
            continue
        try:
            networks = spec.load(resolved, device)
        except WeightsError as err:  # a file of the wrong layout: this dimension only
            unavailable[dimension] = f"{dimension}: not computed: {err}"
            continue
        used.update({r.name: r.describe() for r in resolved})
        if spec.needs_styles:
            from lumiere_eval.datasets.vbench_suite import appearance_styles

            styles, style_source = appearance_styles(suite_path)
            networks = (networks, styles)
        rows, scored, values = [], [], []
        try:
            for i in range(len(videos)):
                score, row = spec.score(networks, videos[i], None if fps is None else fps[i],
                                        *((prompts[i],) if spec.needs_prompt else ()))
                if score is not None:
                    rows.append(row)
                    scored.append(i)
                    values.append(score)
        except LumiereEvalError as err:  # a video this dimension cannot score (unreadable, too small): it stops
            # only this dimension, naming the video; the dimensions already computed are kept
            unavailable[dimension] = f"{dimension}: not computed: {video_names[i]}: {err}"
            continue
        for i, score in zip(scored, values):
            per_video[i][dimension] = score
        if not rows:
            unavailable[dimension] = f"{dimension}: not computed: {spec.none_scored}"
            continue
        rows = np.asarray(rows, dtype=np.float64)
        value = spec.pool(rows)
        units = None if groups is None else [groups[i] for i in scored]
        low, high = interval_hook(dimension)(rows, spec.pool, num_resamples, seed, groups=units)
        summary[dimension] = {"value": value, "ci_low": low, "ci_high": high, "n": len(rows),
                              "bootstrap_unit": "video" if units is None else f"prompt ({len(set(units))})",
                              "higher_is_better": get_metric(dimension).higher_is_better,
                              **({"videos_left_out": len(videos) - len(rows)} if len(rows) < len(videos) else {}),
                              **(spec.notes(rows) if spec.notes else {}),
                              **({"style_table": style_source} if spec.needs_styles else {})}
        eval_results[vbench_name(dimension)] = [value, [{"video_path": video_names[i],
                                                         "video_results": per_video[i][dimension]} for i in scored]]
    return {"per_video": per_video, "dimensions": summary, "unavailable": unavailable, "weights": used,
            "vbench_scores": vbench_scores({vbench_name(d): s["value"] for d, s in summary.items()}),
            "eval_results": eval_results}


def vbench_name(dimension: str) -> str:
    """VBench's own name of a tier dimension (its results layout and leaderboard keys)."""
    return VBENCH_NAMES.get(dimension, dimension)


class DecodedVideos:
    """Videos decoded on access (`read_video`), so that only one is in memory at a time; `fps` read once."""

    def __init__(self, paths: Sequence[str | os.PathLike]):
        from lumiere_eval.video import probe_video

        self.paths = list(paths)
        self.fps = [probe_video(p).fps for p in self.paths]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from lumiere_eval.video import read_video

        return read_video(self.paths[i])[0]


def score_items(items: Sequence, dimensions: Sequence[str], weights: dict[str, str | os.PathLike] | None = None,
                fetch_missing: bool = False, device: str | None = None, num_resamples: int = 200,
                seed: int = 0, prompts: Sequence[str | None] | None = None,
                suite_path: str | os.PathLike | None = None) -> dict:
    """`score_videos` on the runner's `VideoItem`s (each video decoded once per dimension, at its own fps) with
    their `prompts` (None where a video has none) and VBench's suite at `suite_path`, named by their keys in
    `eval_results`."""
    import torch

    videos = DecodedVideos([item.path for item in items])
    return score_videos(videos, dimensions, weights, fetch_missing,
                        device or ("cuda" if torch.cuda.is_available() else "cpu"), num_resamples, seed,
                        [item.key for item in items], videos.fps, prompts, suite_path)


def record_entries(result: dict) -> dict:
    """The record's metric entries of a `score_videos` result (one per computed dimension, with its interval)."""
    from lumiere_eval.metrics.record import metric_entry

    standard = ("value", "n", "ci_low", "ci_high", "higher_is_better")
    return {name: metric_entry(name, s["value"], s["n"], get_metric(name).default_protocol, s["ci_low"],
                               s["ci_high"], **({"interval_method": "percentile"} if s["ci_low"] is not None else {}),
                               **{k: v for k, v in s.items() if k not in standard})  # a dimension's `notes`
            for name, s in result["dimensions"].items()}


def sample_scores(result: dict) -> list[dict[str, float]]:
    """Each video's scores of a `score_videos` result as samples.jsonl fields (numbers: dynamic degree's
    True/False as 1.0/0.0), in video order."""
    return [{name: float(value) for name, value in scores.items()} for scores in result["per_video"]]


def not_computed_text(result: dict) -> str:
    """One line per dimension that was asked for and not computed ('' when none)."""
    return "\n".join(result["unavailable"].values())


def vbench_section(result: dict) -> dict:
    """The record's `vbench` field: the dimensions not computed (one line each), the weights used, VBench's
    Quality / Semantic / Total where every dimension they need was computed, and VBench's results layout."""
    return {"tier": "vbench-0.1.5", "not_computed": result["unavailable"], "weights": result["weights"],
            "vbench_scores": result["vbench_scores"], "eval_results": result["eval_results"]}


def eval_results_path(record_path: str | os.PathLike) -> "os.PathLike":
    """Where VBench's `*_eval_results.json` of a record goes: `<record stem>_eval_results.json` beside it."""
    from pathlib import Path

    path = Path(record_path)
    return path.with_name(f"{path.stem}_eval_results.json")
