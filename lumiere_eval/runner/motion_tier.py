"""The motion tier over videos: per-video weight-free scores, cached by content, summarised with intervals.

Scores are those of `lumiere_eval.metrics.motion` (OpenCV DIS flow, VBench's rules). Each video's
scores are stored in the feature cache under its SHA-256 and the tier's id and fps, so a rerun or a
second comparison reads them back. A run folder gets `motion.json` (per-sample scores and a summary with
95% bootstrap intervals); the CLIP-embedding consistency is added where the run's CLIP extractor embeds
more than one frame per video (the in-domain video-text model of the synthetic default embeds a whole
clip, so it has none).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import SAMPLES_FILE
from lumiere_eval.metrics import MetricInputError
from lumiere_eval.metrics.motion import PIXEL_SCORES, embedding_consistency, pixel_scores, summarize

TIER_ID = "motion-tier-dis-v1"
MOTION_FILE = "motion.json"


def _cache_config(fps: float) -> dict:
    return {"extractor": TIER_ID, "weights_sha256": None, "protocol": {"fps": float(fps)}, "clip": "whole",
            "kind": "motion"}


def video_scores(items, cache, fps: float | None = None, progress: bool = False,
                 on_left_out: Callable | None = None) -> list[dict | None]:
    """Pixel scores of each `VideoItem` (None for a video left out, passed to `on_left_out(item, reason)` with its
    own reason: unreadable, empty, under 3 frames, too small for the optical flow; a score undefined for a video,
    such as the warping error when no pixel passes the occlusion test, left out); `fps` None: each video's own
    rate (a container declaring 0 fps is warned about: FFmpeg reads it as 25 fps)."""
    import warnings

    from tqdm import tqdm

    from lumiere_eval.video import VideoReadError, VideoWarning, probe_video, read_video

    out: list[dict | None] = []
    for item in tqdm(items, desc="motion tier", unit="video", disable=not progress):
        try:
            if fps is None:
                info = probe_video(item.path)
                if info.fps_note:
                    warnings.warn(f"{item.path}: {info.fps_note}; the motion scores resample by it", VideoWarning,
                                  stacklevel=2)
            rate = fps if fps is not None else info.fps
            key = cache.key(item.sha256, _cache_config(rate))
            row = cache.get(key)
            if row is None:
                scores = pixel_scores(read_video(item.path)[0], rate)
                row = np.array([scores[name] for name in PIXEL_SCORES], dtype=np.float64)
                if np.isfinite(row).all():  # an undefined score (NaN) is recomputed next time, never cached
                    cache.put(key, row)
        except (VideoReadError, MetricInputError) as err:  # unreadable, or too short or small for the scores
            if on_left_out is not None:
                on_left_out(item, err.reason if isinstance(err, VideoReadError) else str(err))
            out.append(None)
            continue
        out.append({name: float(v) for name, v in zip(PIXEL_SCORES, row) if np.isfinite(v)})
    return out


def embedding_scores(frame_rows: list) -> list[dict | None]:
    """CLIP-embedding consistency per video from `[F, D]` frame embeddings (None where F < 2 or missing)."""
    return [embedding_consistency(rows) if rows is not None and len(rows) >= 2 else None for rows in frame_rows]


def score_paths(paths: list[Path], cache_dir: Path | None = None, num_resamples: int = 200, seed: int = 0,
                progress: bool = False, unusable: dict[str, str] | None = None) -> dict:
    """The motion tier on any list of videos (each at its own fps): per-video scores, the summary, and the videos
    left out with each one's reason (`unusable`: files already known not to be videos, path -> reason)."""
    from lumiere_eval.runner.cache import FeatureCache, FileHashes, default_cache_dir
    from lumiere_eval.runner.features import VideoItem
    from lumiere_eval.video.folders import split_usable

    cache = FeatureCache(cache_dir or default_cache_dir())
    paths, unusable_now = split_usable([Path(p) for p in paths])
    left_out = {**(unusable or {}), **unusable_now}
    hashes = FileHashes(cache.root / "file_hashes" / "motion_tier.json")
    items = [VideoItem(p, hashes.sha256(p), str(p)) for p in paths]
    hashes.save()
    per_video = video_scores(items, cache, None, progress,
                             on_left_out=lambda item, reason: left_out.__setitem__(str(item.path), reason))
    if not any(per_video):
        first = next(iter(left_out.items()), None)
        raise LumiereEvalError("no video could be scored by the motion tier"
                               + (f" ({len(left_out)} left out, first: {first[0]}: {first[1]})" if first else ""))
    return {"tier": TIER_ID, "per_video": {str(p): s for p, s in zip(paths, per_video) if s is not None},
            "summary": summarize([s for s in per_video if s], num_resamples, seed),
            "left_out": [{"path": path, "reason": reason} for path, reason in left_out.items()]}


def run_motion(folder: Path, num_resamples: int = 200, seed: int = 0, progress: bool = False, *,
               frame_embeddings: list | None, rescore: bool = False) -> dict:
    """The motion tier on a run folder: writes and returns `motion.json` (per sample index, and summary). Sample
    videos changed after the run are refused naming them, or with `rescore` scored as they are now.

    `frame_embeddings`: the run's CLIP frame embeddings per record (`run_features(folder).fake["clipsim"]`), None
    when the run has none."""
    from lumiere_eval.runner.cache import FeatureCache, default_cache_dir
    from lumiere_eval.runner.features import VideoItem
    from lumiere_eval.files import atomic_write_json, read_json
    from lumiere_eval.runner.run_folder import load_records

    folder = Path(folder)
    config = read_json(folder / "config.json")
    records = load_records(folder, rescore)
    cache = FeatureCache(Path(config["cache_dir"]) if config.get("cache_dir") not in (None, "None")
                         else default_cache_dir())
    items = [VideoItem(folder / r["path"], r["sha256"], f"sample{r['index']}") for r in records]
    left_out: dict[str, str] = {}
    per_video = video_scores(items, cache, float(config["fps"]), progress,
                             on_left_out=lambda item, reason: left_out.__setitem__(item.key, reason))
    embedding_note = "the run has no CLIP similarity features"
    if "clipsim" in config.get("metrics", []) and frame_embeddings is not None:
        extra = embedding_scores(frame_embeddings)
        if any(extra):
            per_video = [None if p is None else p | (e or {}) for p, e in zip(per_video, extra)]
            embedding_note = "from the run's CLIP frame embeddings"
        else:
            embedding_note = "the run's CLIP extractor embeds one vector per video: no frame-to-frame consistency"
    result = {"tier": TIER_ID, "fps": float(config["fps"]), "flow": "OpenCV DIS (MEDIUM preset)",
              "clip_consistency": embedding_note,
              "per_sample": {str(r["index"]): s for r, s in zip(records, per_video)},
              "summary": summarize([s for s in per_video if s], num_resamples, seed),
              "left_out": [{"sample": int(key.removeprefix("sample")), "reason": reason}
                           for key, reason in left_out.items()]}
    atomic_write_json(folder / MOTION_FILE, result)
    return result


def load_or_run_motion(folder: Path, *, frame_embeddings: list | None, rescore: bool = False, **options) -> dict:
    """`motion.json` of a run, computed first when absent, older than the run's samples, or when a sample video
    changed after the run (refused naming it, or with `rescore` recomputed)."""
    from lumiere_eval.runner.run_folder import load_records, rescored

    folder = Path(folder)
    path = folder / MOTION_FILE
    samples = folder / SAMPLES_FILE
    changed = samples.is_file() and bool(rescored(load_records(folder, rescore)))
    if path.is_file() and samples.is_file() and not changed and path.stat().st_mtime >= samples.stat().st_mtime:
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            pass  # a damaged file is recomputed from the cache
    if not samples.is_file():
        raise LumiereEvalError(f"{folder}: no {SAMPLES_FILE}; is it a finished run folder?")
    return run_motion(folder, frame_embeddings=frame_embeddings, rescore=rescore, **options)
