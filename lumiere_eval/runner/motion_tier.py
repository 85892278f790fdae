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

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import SAMPLES_FILE
from lumiere_eval.metrics import MetricInputError
from lumiere_eval.metrics.motion import PIXEL_SCORES, embedding_consistency, pixel_scores
from lumiere_eval.metrics.registry import get_metric, interval_hook

TIER_ID = "motion-tier-dis-v1"
MOTION_FILE = "motion.json"


def _cache_config(fps: float) -> dict:
    return {"extractor": TIER_ID, "weights_sha256": None, "protocol": {"fps": float(fps)}, "clip": "whole",
            "kind": "motion"}


def video_scores(items, cache, fps: float | None = None, progress: bool = False) -> list[dict | None]:
    """Pixel scores of each `VideoItem` (None for an unreadable or too short video; a score undefined for a
    video, such as the warping error when no pixel passes the occlusion test, left out); `fps` None: each
    video's own rate."""
    from tqdm import tqdm

    from lumiere_eval.video import VideoReadError, probe_video, read_video

    out: list[dict | None] = []
    for item in tqdm(items, desc="motion tier", unit="video", disable=not progress):
        try:
            rate = fps if fps is not None else probe_video(item.path).fps
            key = cache.key(item.sha256, _cache_config(rate))
            row = cache.get(key)
            if row is None:
                scores = pixel_scores(read_video(item.path)[0], rate)
                row = np.array([scores[name] for name in PIXEL_SCORES], dtype=np.float64)
                if np.isfinite(row).all():  # an undefined score (NaN) is recomputed next time, never cached
                    cache.put(key, row)
        except (VideoReadError, MetricInputError):  # unreadable, or too short for the scores
            out.append(None)
            continue
        out.append({name: float(v) for name, v in zip(PIXEL_SCORES, row) if np.isfinite(v)})
    return out


def embedding_scores(frame_rows: list) -> list[dict | None]:
    """CLIP-embedding consistency per video from `[F, D]` frame embeddings (None where F < 2 or missing)."""
    return [embedding_consistency(rows) if rows is not None and len(rows) >= 2 else None for rows in frame_rows]


def summarize(per_video: list[dict], num_resamples: int = 200, seed: int = 0) -> dict[str, dict]:
    """Mean of each score over videos with a 95% bootstrap interval; the 0/1 `dynamic_dis` becomes
    `dynamic_degree_dis` (the fraction of dynamic videos), as VBench's dynamic degree."""
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


def score_paths(paths: list[Path], cache_dir: Path | None = None, num_resamples: int = 200, seed: int = 0,
                progress: bool = False) -> dict:
    """The motion tier on any list of videos (each at its own fps): per-video scores and the summary."""
    from lumiere_eval.runner.cache import FeatureCache, FileHashes, default_cache_dir
    from lumiere_eval.runner.features import VideoItem

    cache = FeatureCache(cache_dir or default_cache_dir())
    hashes = FileHashes(cache.root / "file_hashes" / "motion_tier.json")
    items = [VideoItem(Path(p), hashes.sha256(p), str(p)) for p in paths]
    hashes.save()
    per_video = video_scores(items, cache, None, progress)
    return {"tier": TIER_ID, "per_video": {str(p): s for p, s in zip(paths, per_video)},
            "summary": summarize([s for s in per_video if s], num_resamples, seed),
            "left_out": [str(p) for p, s in zip(paths, per_video) if s is None]}


def run_motion(folder: Path, num_resamples: int = 200, seed: int = 0, progress: bool = False,
               frame_embeddings: list | None = None) -> dict:
    """The motion tier on a run folder: writes and returns `motion.json` (per sample index, and summary).

    `frame_embeddings`: the run's CLIP frame embeddings per record, when the caller has them (else they
    are read from the feature cache)."""
    from lumiere_eval.runner.cache import FeatureCache, default_cache_dir
    from lumiere_eval.runner.features import VideoItem
    from lumiere_eval.files import atomic_write_json, read_json
    from lumiere_eval.runner.run_features import load_records, run_features

    folder = Path(folder)
    config = read_json(folder / "config.json")
    records = load_records(folder)
    cache = FeatureCache(Path(config["cache_dir"]) if config.get("cache_dir") not in (None, "None")
                         else default_cache_dir())
    items = [VideoItem(folder / r["path"], r["sha256"], f"sample{r['index']}") for r in records]
    per_video = video_scores(items, cache, float(config["fps"]), progress)
    embedding_note = "the run has no CLIP similarity features"
    if "clipsim" in config.get("metrics", []):
        if frame_embeddings is None:
            frame_embeddings = run_features(folder).fake.get("clipsim", [None] * len(records))
        extra = embedding_scores(frame_embeddings)
        if any(extra):
            per_video = [None if p is None else p | (e or {}) for p, e in zip(per_video, extra)]
            embedding_note = "from the run's CLIP frame embeddings"
        else:
            embedding_note = "the run's CLIP extractor embeds one vector per video: no frame-to-frame consistency"
    result = {"tier": TIER_ID, "fps": float(config["fps"]), "flow": "OpenCV DIS (MEDIUM preset)",
              "clip_consistency": embedding_note,
              "per_sample": {str(r["index"]): s for r, s in zip(records, per_video)},
              "summary": summarize([s for s in per_video if s], num_resamples, seed)}
    atomic_write_json(folder / MOTION_FILE, result)
    return result


def load_or_run_motion(folder: Path, **options) -> dict:
    """`motion.json` of a run, computed first when absent or older than the run's samples."""
    folder = Path(folder)
    path = folder / MOTION_FILE
    samples = folder / SAMPLES_FILE
    if path.is_file() and samples.is_file() and path.stat().st_mtime >= samples.stat().st_mtime:
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            pass  # a damaged file is recomputed from the cache
    if not samples.is_file():
        raise LumiereEvalError(f"{folder}: no {SAMPLES_FILE}; is it a finished run folder?")
    return run_motion(folder, **options)
