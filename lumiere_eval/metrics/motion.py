"""The weight-free motion tier: VBench's and EvalCrafter's motion definitions with OpenCV flow.

Each score is named for how we compute it, not as the published number: the flow is OpenCV's DIS (not
RAFT) and the interpolation is flow-based (not AMT), so `dynamic_degree_dis` follows VBench's rule
but is not VBench's dynamic degree. Frames are uint8 RGB `[T, H, W, 3]`. Calibration on clips with a
known motion is in docs/motion.md and tests/test_motion.py.

Per video:
- `dynamic_dis` (0/1): VBench's rule (frames resampled to about 8 fps; per pair the mean of the
  top 5% flow magnitudes; dynamic if at least round(4 T / 16) pairs exceed 6 min(H, W) / 256, the
  threshold scaled by max(1, 8 / fps)); its mean over videos is `dynamic_degree_dis`.
- `motion_magnitude_dis`, `camera_motion_dis`, `object_motion_dis`: mean flow
  magnitude per resampled frame step, in percent of min(H, W); camera = the fitted global affine flow,
  object = what is left after removing it.
- `temporal_flickering` (higher = steadier): VBench's formula on raw frames, (255 - mean |x_{t+1} - x_t|) / 255,
  on every clip (VBench scores only clips its static filter keeps).
- `motion_smoothness_flowinterp` (higher = smoother): every odd frame re-synthesised from its two
  neighbours by flow interpolation, (255 - MAE) / 255 as VBench.
- `warping_error_dis` (lower = more consistent): EvalCrafter's; frames at half resolution in
  [0, 1], squared error of frame t+1 warped back onto frame t, over pixels the forward-backward test keeps.
- `clip_consistency_consecutive`, `clip_consistency_first` (higher = more consistent): mean cosine of
  consecutive frame embeddings and of each frame with the first (from the CLIP extractor's frame embeddings).
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError

# Each score's direction is in the metric registry (lumiere_eval.metrics.registry, tier "motion"); None there:
# neither, compare the amount of motion with the real clips' (a model whose frames are unrelated "moves" a lot).
PIXEL_SCORES = ("dynamic_dis", "motion_magnitude_dis", "camera_motion_dis",
                "object_motion_dis", "temporal_flickering", "motion_smoothness_flowinterp",
                "warping_error_dis")


def _frames(frames, min_frames: int = 2) -> np.ndarray:
    x = np.asarray(frames)
    if x.ndim == 4 and x.shape[-1] == 3 and x.shape[0] < min_frames:
        raise MetricInputError(f"has {x.shape[0]} frame(s); the motion scores need at least {min_frames}")
    if x.ndim != 4 or x.shape[-1] != 3:
        raise MetricInputError(f"motion scores need RGB frames [T >= {min_frames}, H, W, 3], got shape {list(x.shape)}")
    if x.dtype != np.uint8:
        raise MetricInputError(f"motion scores need uint8 frames (0..255), got {x.dtype}")
    return x


# OpenCV's DIS (5.0) raises on frames with both sides under 12 pixels and crashes the process on some
# thin ones (12x100); every shape tried with both sides of at least 16 works
DIS_MIN_SIDE = 16


def _check_flow_size(height: int, width: int, what: str) -> None:
    if min(height, width) < DIS_MIN_SIDE:
        raise MetricInputError(f"frames {height}x{width} are too small for the optical flow of {what} "
                               f"(both sides need at least {DIS_MIN_SIDE} pixels)")


def resample_to_8fps(frames: np.ndarray, fps: float) -> np.ndarray:
    """Every round(fps / 8)-th frame (at least every frame), as VBench's dynamic degree reads a video."""
    return frames[::max(1, round(fps / 8))]


def top5_magnitude(flow: np.ndarray) -> float:
    """Mean of the largest 5% (int(H W 0.05) values) of the flow magnitudes: VBench's per-pair score."""
    magnitude = np.sqrt((flow.astype(np.float64) ** 2).sum(-1)).ravel()
    cut = int(magnitude.size * 0.05)
    return float(np.sort(magnitude)[::-1][:cut].mean()) if cut else float(magnitude.max())


def is_dynamic(pair_scores, num_frames: int, height: int, width: int, fps: float) -> bool:
    """VBench's rule: at least round(4 T / 16) pairs above max(1, 8 / fps) * 6 * min(H, W) / 256."""
    threshold = max(1.0, 8.0 / fps) * 6.0 * min(height, width) / 256.0
    needed = round(4 * num_frames / 16.0)
    count = 0
    for score in pair_scores:
        count += score > threshold
        if count >= needed:
            return True
    return False


def flow_scores(frames, fps: float) -> dict[str, float]:
    """Dynamic (0/1) and motion magnitudes (total, camera, object; % of min(H, W) per step) of one video."""
    from lumiere_eval.video.flow import dis_flow, global_motion

    x = resample_to_8fps(_frames(frames), fps)
    if len(x) < 2:
        raise MetricInputError(f"after resampling to about 8 fps only {len(x)} frame(s) remain; need 2")
    h, w = x.shape[1:3]
    _check_flow_size(h, w, "the motion scores")
    scale = 100.0 / min(h, w)
    tops, total, camera, residual = [], [], [], []
    for a, b in zip(x[:-1], x[1:]):
        flow = dis_flow(a, b)
        fitted = global_motion(flow)
        tops.append(top5_magnitude(flow))
        total.append(np.linalg.norm(flow, axis=-1).mean())
        camera.append(np.linalg.norm(fitted, axis=-1).mean())
        residual.append(np.linalg.norm(flow - fitted, axis=-1).mean())
    return {"dynamic_dis": float(is_dynamic(tops, len(x), h, w, fps)),
            "motion_magnitude_dis": float(np.mean(total) * scale),
            "camera_motion_dis": float(np.mean(camera) * scale),
            "object_motion_dis": float(np.mean(residual) * scale)}


def temporal_flickering(frames) -> float:
    """(255 - mean over pairs of mean |x_{t+1} - x_t|) / 255 on raw frames, computed as VBench does
    (each pair's mean absolute difference in float32, then the mean over pairs)."""
    x = _frames(frames)
    pairs = np.array([np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() for a, b in zip(x[:-1], x[1:])])
    return (255.0 - np.mean(pairs).item()) / 255.0


def motion_smoothness(frames) -> float:
    """(255 - MAE) / 255 of every odd frame against its re-synthesis from the two even neighbours."""
    from lumiere_eval.video.flow import interpolate_middle

    x = _frames(frames, min_frames=3)
    _check_flow_size(*x.shape[1:3], "the motion smoothness")
    errors = []
    for t in range(1, len(x) - 1, 2):
        middle = np.clip(np.rint(interpolate_middle(x[t - 1], x[t + 1])), 0, 255)
        errors.append(np.abs(middle - x[t].astype(np.float32)).mean())
    return float((255.0 - np.mean(errors)) / 255.0)


def warping_error(frames) -> float:
    """Mean over consecutive pairs of the squared error (frames in [0, 1], half resolution) between frame t
    and frame t+1 warped back by the flow, over the pixels the forward-backward test finds visible."""
    import cv2

    from lumiere_eval.video.flow import dis_flow, occlusion_mask, warp

    x = _frames(frames)
    h, w = x.shape[1:3]
    _check_flow_size(h // 2, w // 2, "the warping error (at half resolution)")
    half = [cv2.resize(f, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA) for f in x]
    errors = []
    for a, b in zip(half[:-1], half[1:]):
        forward, backward = dis_flow(a, b), dis_flow(b, a)
        visible = ~occlusion_mask(forward, backward)
        if not visible.any():
            continue
        diff = (warp(b.astype(np.float32) / 255.0, forward) - a.astype(np.float32) / 255.0) ** 2
        errors.append(float(diff[visible].mean()))
    return float(np.mean(errors)) if errors else float("nan")


def embedding_consistency(embeddings) -> dict[str, float]:
    """Mean cosine of consecutive frame embeddings and of each later frame with the first (`[F >= 2, D]`)."""
    e = np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 2 or len(e) < 2:
        raise MetricInputError(f"frame-embedding consistency needs [F >= 2, D] embeddings, got shape {list(e.shape)}")
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    return {"clip_consistency_consecutive": float((e[1:] * e[:-1]).sum(1).mean()),
            "clip_consistency_first": float((e[1:] @ e[0]).mean())}


def pixel_scores(frames, fps: float) -> dict[str, float]:
    """Every weight-free score of one video (see the module docstring)."""
    x = _frames(frames, min_frames=3)
    return {**flow_scores(x, fps), "temporal_flickering": temporal_flickering(x),
            "motion_smoothness_flowinterp": motion_smoothness(x), "warping_error_dis": warping_error(x)}


def summarize(per_video: list[dict], num_resamples: int = 200, seed: int = 0) -> dict[str, dict]:
    """Mean of each score over videos with a 95% bootstrap interval; the 0/1 `dynamic_dis` becomes
    `dynamic_degree_dis` (the fraction of dynamic videos), as VBench's dynamic degree."""
    from lumiere_eval.metrics.registry import get_metric, interval_hook

    summary = {}
    names = dict.fromkeys(k for scores in per_video if scores for k in scores)
    for name in names:
        values = np.array([s[name] for s in per_video if s and np.isfinite(s.get(name, np.nan))])
        if len(values) == 0:
            continue
        metric = "dynamic_degree_dis" if name == "dynamic_dis" else name
        low, high = interval_hook(metric)(values, np.mean, num_resamples, seed)
        summary[metric] = {"value": float(values.mean()), "ci_low": low, "ci_high": high, "n": int(len(values)),
                           "higher_is_better": get_metric(metric).higher_is_better}
    return summary
