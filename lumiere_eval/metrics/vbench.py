"""VBench's dimension scores from per-frame network outputs, its aggregates, and its Quality / Semantic / Total
score (pure maths; the networks are in `lumiere_eval.extractors.vbench`).

Facts, from the vbench package 0.1.5 (dimension modules) and Vchitect/VBench `scripts/constant.py` and
`scripts/cal_final_score.py` (leaderboard maths):
- subject / background consistency of a video: for each frame i > 0 the mean of max(0, cos(f_i, f_{i-1})) and
  max(0, cos(f_i, f_0)), summed and divided by (frames - 1). The dimension's value is the sum over all videos
  divided by the number of frame pairs of all videos (`sim / cnt`), not the mean of the video scores.
- aesthetic quality, imaging quality, temporal flickering: the mean of the per-video means; imaging quality's
  aggregate is further divided by 100 (its per-video scores stay on MUSIQ's 0..100 scale).
- temporal flickering scores only videos VBench's static filter keeps (`static_filter.py`, RAFT flow): per pair
  of frames the mean of the top 2% flow magnitudes (int(0.02 H W) largest); pairs are the consecutive ones then
  (first, last) and (last, first); with thres = 3 min(H, W) / 256 and count = round(2 T / 16), a video is static
  when at most `count` consecutive pairs exceed thres and neither closing pair exceeds 2 thres count.
- dynamic_degree of a video (`dynamic_degree.py`): frames taken every max(1, round(fps / 8)); per consecutive pair
  the mean of the top 5% RAFT flow magnitudes (int(0.05 H' W') largest, on the frame padded to a multiple of 8);
  with thres = 6 min(H, W) / 256 (unpadded frame) and count = round(4 T / 16) (T frames taken, Python's rounding,
  halves to even), the video is dynamic when at least `count` pairs exceed thres (`check_move`: any pair at all
  when count is 0). The dimension's value is the fraction of dynamic videos.
- motion_smoothness of a video (`motion_smoothness.py`, `MotionSmoothness.motion_score`): every frame read at its
  own size (no resize); frames 0, 2, 4, ... kept, each consecutive two padded (replicate) to multiples of 16 and
  their midpoint (t = 0.5) re-made by AMT-S (one pass), unpadded, times 255 and truncated to uint8; per re-made
  frame the mean absolute difference (`cv2.absdiff`, all pixels and channels) to the frame it replaces (frames 1,
  3, ...; with an even T the last frame has no counterpart and is left out); score (255 - mean of those) / 255.
  The dimension's value is the mean of the video scores. VBench's VRAM-based downscaling (`initialization`) runs
  only when its device equals the string 'cuda'; its launcher passes `torch.device("cuda")`, which does not, so
  frames under 8192 x 8192 pixels are never resized there.
- appearance_style (`appearance_style.py`): CLIP ViT-B/32; every frame as a PIL image through
  `clip_transform_Image(224)` (PIL bicubic shorter side to 224, centre crop, CLIP mean/std); the text is the prompt's
  style phrase from VBench's prompt suite (`auxiliary_info`, e.g. 'Van Gogh style'; VBench refuses this dimension
  for custom prompts); per frame CLIP's `logits_per_text / 100` = exp(logit_scale) cos(image, text) / 100 (exp of
  OpenAI's logit_scale is 100); per video the mean over frames; the dimension's value is the mean over all frames of
  all videos (`sim / cnt`; with several GPUs VBench instead averages each video's last-frame score, `cur_sim`).
- overall_consistency and temporal_style (`overall_consistency.py`, `temporal_style.py`, identical code): ViCLIP
  ViT-L/14; the 8 middle frames (`read_frames_decord_by_fps(num_frames=8, sample='middle')`), `clip_transform(224)`
  on the uint8 frames; per video the cosine of ViCLIP's L2-normalised video and prompt embeddings (no scale); the
  value is the mean of the per-video cosines. The prompt is the video's whole prompt (`prompt_en`) in both.
- leaderboard: each dimension normalised as (value - Min) / (Max - Min) and multiplied by its weight; Quality
  Score = sum over the 7 quality dimensions / sum of their weights; Semantic Score the same over the 9 semantic
  ones; Total Score = (4 Quality + 1 Semantic) / 5.
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError

# scripts/constant.py of Vchitect/VBench: NORMALIZE_DIC (Min, Max) and DIM_WEIGHT, keyed by VBench's dimension names
NORMALIZATION: dict[str, tuple[float, float]] = {
    "subject_consistency": (0.1462, 1.0), "background_consistency": (0.2615, 1.0),
    "temporal_flickering": (0.6293, 1.0), "motion_smoothness": (0.706, 0.9975), "dynamic_degree": (0.0, 1.0),
    "aesthetic_quality": (0.0, 1.0), "imaging_quality": (0.0, 1.0), "object_class": (0.0, 1.0),
    "multiple_objects": (0.0, 1.0), "human_action": (0.0, 1.0), "color": (0.0, 1.0),
    "spatial_relationship": (0.0, 1.0), "scene": (0.0, 0.8222), "appearance_style": (0.0009, 0.2855),
    "temporal_style": (0.0, 0.364), "overall_consistency": (0.0, 0.364)}
DIMENSION_WEIGHTS: dict[str, float] = {**dict.fromkeys(NORMALIZATION, 1.0), "dynamic_degree": 0.5}
QUALITY_DIMENSIONS = ("subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness",
                      "aesthetic_quality", "imaging_quality", "dynamic_degree")
SEMANTIC_DIMENSIONS = ("object_class", "multiple_objects", "human_action", "color", "spatial_relationship", "scene",
                       "appearance_style", "temporal_style", "overall_consistency")
QUALITY_WEIGHT, SEMANTIC_WEIGHT = 4.0, 1.0
SOURCE = "Vchitect/VBench scripts/constant.py (NORMALIZE_DIC, DIM_WEIGHT), scripts/cal_final_score.py"


def consistency_pairs(features) -> tuple[float, int]:
    """(sum over frames i > 0 of (max(0, cos(f_i, f_{i-1})) + max(0, cos(f_i, f_0))) / 2, number of such frames)
    from one video's frame features `[T, D]` (T >= 2)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise MetricInputError(f"consistency needs frame features [T >= 2, D], got shape {list(f.shape)}")
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    previous = np.maximum(0.0, np.sum(f[1:] * f[:-1], axis=1))
    first = np.maximum(0.0, f[1:] @ f[0])
    return float(np.sum((previous + first) / 2)), len(f) - 1


def consistency_score(features) -> float:
    """A video's subject/background consistency: `consistency_pairs` sum / count."""
    total, count = consistency_pairs(features)
    return total / count


def pooled_consistency(pairs: list[tuple[float, int]]) -> float:
    """VBench's dimension value from each video's (sum, count): all sums over all counts."""
    if not pairs:
        raise MetricInputError("consistency of no videos")
    return sum(s for s, _ in pairs) / sum(c for _, c in pairs)


def top_fraction_mean(magnitudes, fraction: float) -> float:
    """Mean of the int(fraction * size) largest values of a flow-magnitude map (VBench's per-pair score)."""
    flat = np.sort(np.asarray(magnitudes, dtype=np.float64).ravel())[::-1]
    return float(np.mean(flat[:int(flat.size * fraction)]))


def _top_magnitude_mean(flow, fraction: float) -> float:
    u, v = np.asarray(flow, dtype=np.float64)
    return top_fraction_mean(np.sqrt(u * u + v * v), fraction)


def flow_pair_score(flow) -> float:
    """VBench's dynamic-degree score of one flow field `[2, H, W]`: the mean of its top 5% magnitudes."""
    return _top_magnitude_mean(flow, 0.05)


def static_pair_score(flow) -> float:
    """VBench's static-filter score of one flow field `[2, H, W]`: the mean of its top 2% magnitudes."""
    return _top_magnitude_mean(flow, 0.02)


def is_dynamic(pair_scores, num_frames: int, height: int, width: int) -> bool:
    """VBench's dynamic-degree rule on a video's pair scores (`num_frames` frames taken, `height` x `width`
    before padding); see the module docstring."""
    scores = list(pair_scores)
    if len(scores) != num_frames - 1:
        raise MetricInputError(f"dynamic degree: {len(scores)} pair scores for {num_frames} frames")
    thres, count = 6.0 * min(height, width) / 256.0, round(4 * num_frames / 16.0)
    return bool(scores) and sum(s > thres for s in scores) >= count


def is_static(pair_scores, num_frames: int, height: int, width: int) -> bool:
    """VBench's static filter on its pair scores: `num_frames - 1` consecutive pairs, then (first, last) and
    (last, first); see the module docstring for the rule."""
    scores = list(pair_scores)
    if len(scores) != num_frames + 1:
        raise MetricInputError(f"static filter: {len(scores)} pair scores for {num_frames} frames "
                               f"(expected {num_frames + 1})")
    thres, count = 3.0 * min(height, width) / 256.0, round(2 * num_frames / 16.0)
    return (sum(s > thres for s in scores[:-2]) <= count
            and all(s <= thres * count * 2 for s in scores[-2:]))


def interpolation_score(frames, interpolated) -> float:
    """VBench's motion smoothness of one video from its uint8 frames `[T, H, W, 3]` and the K re-made frames
    `[K, H, W, 3]` that stand for frames 1, 3, ..., 2K - 1: (255 - mean over them of their mean absolute
    difference) / 255."""
    original, made = np.asarray(frames), np.asarray(interpolated)
    if made.ndim != 4 or len(made) < 1 or original[1::2][:len(made)].shape != made.shape:
        raise MetricInputError(f"motion smoothness: {list(made.shape)} re-made frames do not match the odd frames "
                               f"of a video {list(original.shape)}")
    diffs = np.abs(original[1::2][:len(made)].astype(np.int16) - made.astype(np.int16))
    return float((255.0 - np.mean(diffs.mean(axis=(1, 2, 3)))) / 255.0)


def normalized(dimension: str, value: float) -> float:
    """(value - Min) / (Max - Min) times the dimension's weight (VBench's leaderboard)."""
    low, high = NORMALIZATION[dimension]
    return (value - low) / (high - low) * DIMENSION_WEIGHTS[dimension]


def vbench_scores(values: dict[str, float]) -> dict[str, float]:
    """Quality / Semantic / Total score from dimension values; each only when all dimensions it needs are given
    (an aggregate over some dimensions is not VBench's)."""
    out = {}
    for name, dims in (("quality_score", QUALITY_DIMENSIONS), ("semantic_score", SEMANTIC_DIMENSIONS)):
        if all(d in values for d in dims):
            out[name] = sum(normalized(d, values[d]) for d in dims) / sum(DIMENSION_WEIGHTS[d] for d in dims)
    if len(out) == 2:
        out["total_score"] = ((out["quality_score"] * QUALITY_WEIGHT + out["semantic_score"] * SEMANTIC_WEIGHT)
                              / (QUALITY_WEIGHT + SEMANTIC_WEIGHT))
    return out


def appearance_style_text(prompt: str, styles: dict[str, str]) -> tuple[str, bool]:
    """(the text appearance style compares frames with, whether it is VBench's): the style phrase VBench's suite
    gives `prompt` (`styles`: prompt -> phrase, its `auxiliary_info`; `datasets.vbench_suite.appearance_styles`),
    else the whole prompt (a choice of this harness: VBench 0.1.5 refuses appearance style on custom prompts)."""
    style = styles.get(prompt)
    return (prompt, False) if style is None else (style, True)


def style_frame_scores(frame_features, text_feature, logit_scale: float) -> np.ndarray:
    """Appearance style of each frame `[T]`: exp(logit_scale) * cos(frame, text) / 100 (CLIP's logits_per_text / 100)
    from frame features `[T, D]`, a text feature `[D]` and `logit_scale` = exp of CLIP's logit_scale."""
    f = _unit(np.asarray(frame_features, dtype=np.float64), "frame features", 2)
    t = _unit(np.asarray(text_feature, dtype=np.float64), "text feature", 1)
    if f.shape[1] != t.shape[0]:
        raise MetricInputError(f"frame features of width {f.shape[1]} against a text feature of width {t.shape[0]}")
    return logit_scale * (f @ t) / 100.0


def video_text_similarity(video_feature, text_feature) -> float:
    """Overall consistency / temporal style of a video: the cosine of its video and text features `[D]`."""
    v = _unit(np.asarray(video_feature, dtype=np.float64), "video feature", 1)
    t = _unit(np.asarray(text_feature, dtype=np.float64), "text feature", 1)
    if v.shape != t.shape:
        raise MetricInputError(f"video feature {list(v.shape)} against text feature {list(t.shape)}")
    return float(v @ t)


def _unit(x: np.ndarray, what: str, ndim: int) -> np.ndarray:
    if x.ndim != ndim or x.shape[-1] == 0 or (ndim == 2 and len(x) == 0):
        raise MetricInputError(f"{what}: expected {ndim} axes, got shape {list(x.shape)}")
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
