"""The VBench tier: VBench's dimensions with VBench's networks on any videos, per video and per dimension, with
VBench's aggregates, 95% bootstrap intervals over videos, and VBench's own results layout.

`score_videos(videos, ...)` is the entry point; `metrics` and `ucf101` reach it through `evaluation.vbench_results`.
Each dimension needs its registered weights (`lumiere_eval.metrics.registry`, tier "vbench"); one that cannot be
resolved stops only that dimension, with one line in `unavailable`, and the others are computed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.extractors.weights import WeightsError, resolve
from lumiere_eval.metrics.registry import UnknownMetricError, get_metric, interval_hook, names
from lumiere_eval.metrics.vbench import (consistency_pairs, flow_pair_score, interpolation_score, is_dynamic,
                                         pooled_consistency, vbench_scores)

TIER = "vbench"


class VBenchInputError(LumiereEvalError):
    """Videos or options the VBench tier cannot score."""


@dataclass(frozen=True)
class Dimension:
    """How one dimension is computed: `load(resolved weights, device) -> networks`, `score(networks, frames, fps)
    -> (per-video score, row)`; the dimension's value is `pool(rows)` (VBench's aggregate)."""

    load: Callable
    score: Callable
    pool: Callable[[np.ndarray], float]


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


def _dynamic(model, frames, fps):
    from lumiere_eval.extractors.vbench.features import raft_flows

    if not fps or fps <= 0:
        raise VBenchInputError(f"dynamic degree takes frames at 8 fps and needs each video's frame rate, got {fps}")
    flows, (height, width), taken = raft_flows(model, frames, fps)
    dynamic = is_dynamic([flow_pair_score(f) for f in flows.numpy()], taken, height, width)
    return dynamic, (float(dynamic),)


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


DIMENSIONS: dict[str, Dimension] = {
    "subject_consistency": Dimension(_load_dino, _consistency(_dino_features), _pooled),
    "background_consistency": Dimension(_load_clip, _consistency(_clip_features), _pooled),
    "aesthetic_quality": Dimension(_load_aesthetic, _aesthetic, _mean),
    "imaging_quality": Dimension(_load_musiq, _imaging, _mean_over_100),  # per video on MUSIQ's 0..100 scale
    "dynamic_degree": Dimension(_load_raft, _dynamic, _mean),  # per video True/False, the value their share
    "motion_smoothness": Dimension(_load_amt, _motion_smoothness, _mean),
}


def _resolve(dimension: str, local: dict[str, str | os.PathLike], fetch_missing: bool):
    return [resolve(name, local.get(name), fetch_missing=fetch_missing) for name in get_metric(dimension).weights]


def score_videos(videos: Sequence, dimensions: Sequence[str] | None = None,
                 weights: dict[str, str | os.PathLike] | None = None, fetch_missing: bool = False,
                 device: str = "cpu", num_resamples: int = 200, seed: int = 0,
                 video_names: Sequence[str] | None = None, fps: Sequence[float] | None = None) -> dict:
    """VBench's dimensions of uint8 videos `[T, H, W, 3]` (T >= 2; `videos[i]` may decode on access) at frame rates
    `fps` (dynamic degree needs them): `per_video` (one dict per video, dimension ->
    score), `dimensions` (VBench's aggregate `value` with a 95% bootstrap interval over videos, `n`, direction),
    `unavailable` (dimension -> one line saying which weights are missing), `weights` (what was used),
    `vbench_scores` (Quality / Semantic / Total, only those whose every dimension was computed here) and
    `eval_results` (VBench's `*_eval_results.json` layout). `weights` maps registry names to local files;
    `fetch_missing` lets the registry download what is not cached."""
    wanted = list(dimensions or DIMENSIONS)
    unknown = [d for d in wanted if d not in DIMENSIONS]
    if unknown:
        raise UnknownMetricError(f"not a VBench dimension of this tier: {', '.join(unknown)}; known: "
                           f"{', '.join(DIMENSIONS)} (registered: {', '.join(names(TIER))})")
    video_names = list(video_names or (f"video_{i:05d}" for i in range(len(videos))))
    per_video: list[dict] = [{} for _ in videos]
    summary, unavailable, used, eval_results = {}, {}, {}, {}
    for dimension in wanted:
        try:
            resolved = _resolve(dimension, weights or {}, fetch_missing)
        except WeightsError as err:
            unavailable[dimension] = f"{dimension}: not computed: {err}"
            continue
        used.update({r.name: r.describe() for r in resolved})
        spec = DIMENSIONS[dimension]
        networks = spec.load(resolved, device)
        rows = []
        for i, scores in enumerate(per_video):
            scores[dimension], row = spec.score(networks, videos[i], None if fps is None else fps[i])
            rows.append(row)
        rows = np.asarray(rows, dtype=np.float64)
        value = spec.pool(rows)
        low, high = interval_hook(dimension)(rows, spec.pool, num_resamples, seed)
        summary[dimension] = {"value": value, "ci_low": low, "ci_high": high, "n": len(rows),
                              "higher_is_better": get_metric(dimension).higher_is_better}
        eval_results[dimension] = [value, [{"video_path": name, "video_results": s[dimension]}
                                           for name, s in zip(video_names, per_video)]]
    return {"per_video": per_video, "dimensions": summary, "unavailable": unavailable, "weights": used,
            "vbench_scores": vbench_scores({d: s["value"] for d, s in summary.items()}),
            "eval_results": eval_results}


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
                seed: int = 0) -> dict:
    """`score_videos` on the runner's `VideoItem`s (each video decoded once per dimension, at its own fps), named
    by their keys in `eval_results`."""
    import torch

    videos = DecodedVideos([item.path for item in items])
    return score_videos(videos, dimensions, weights, fetch_missing,
                        device or ("cuda" if torch.cuda.is_available() else "cpu"), num_resamples, seed,
                        [item.key for item in items], videos.fps)


def record_entries(result: dict) -> dict:
    """The record's metric entries of a `score_videos` result (one per computed dimension, with its interval)."""
    from lumiere_eval.metrics.record import metric_entry

    return {name: metric_entry(name, s["value"], s["n"], get_metric(name).default_protocol, s["ci_low"],
                               s["ci_high"], **({"interval_method": "percentile"} if s["ci_low"] is not None else {}))
            for name, s in result["dimensions"].items()}


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
