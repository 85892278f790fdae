"""A finished run folder read back: its records, options and per-sample features (from the feature cache).

The paired comparison and the sample-size curves recompute set metrics (FVD, KVD, IS) on resampled
indices, so they need each sample's feature row, not only the run's summary. The rows are taken from the
content-keyed cache the run filled (computed again only if an entry is missing, with the run's own
extractors and clips).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import SAMPLES_FILE, read_json
from lumiere_eval.metrics.record import ResultRecordError, check_config_types, read_record, read_samples


@dataclass
class RunFeatures:
    """One run's records (sorted by sample index) and, per feature job, one row block per record (or None)."""

    folder: Path
    results: dict
    records: list[dict]
    fake: dict[str, list[np.ndarray | None]]
    real: dict[str, list[np.ndarray | None]]
    config: object


def load_records(folder: Path) -> list[dict]:
    """The run's per-sample records (`samples.jsonl`), checked and sorted by sample index (`record.read_samples`)."""
    path = Path(folder) / SAMPLES_FILE
    if not path.is_file():
        raise LumiereEvalError(f"{path}: file not found; is {folder} a finished run folder?")
    return read_samples(path)


def run_config(folder: Path):
    """The run's RunConfig, rebuilt from `config.json` (options this version does not know are ignored)."""
    from lumiere_eval.runner.ucf101_run import RunConfig

    path = Path(folder) / "config.json"
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise ResultRecordError(f"{path}: expected a JSON object, found {type(raw).__name__}")
    known = {f.name: f for f in dataclasses.fields(RunConfig)}
    values = {k: v for k, v in raw.items() if k in known}
    check_config_types(values, {k: f.default for k, f in known.items()}, str(path),
                       frozenset(k for k, f in known.items() if "None" in str(f.type)))
    for key in ("out", "data_root", "splits_dir", "cache_dir"):
        if values.get(key) not in (None, "None"):
            values[key] = Path(values[key])
        elif key in values:
            values[key] = None
    values["metrics"] = tuple(values.get("metrics", ()))
    values["out"] = Path(folder)
    return RunConfig(**values)


def run_features(folder: Path, progress: bool = False) -> RunFeatures:
    """Records, results and the per-sample feature rows of a finished run (generated and real videos)."""
    from lumiere_eval.runner.cache import FeatureCache, FileHashes, default_cache_dir
    from lumiere_eval.runner.features import VideoItem, compute_features
    from lumiere_eval.runner.ucf101_run import build_jobs, make_plan

    folder = Path(folder)
    results = read_record(folder / "results.json")
    records = load_records(folder)
    config = run_config(folder)
    plan = make_plan(config)
    fake_jobs, real_jobs = build_jobs(config)
    cache = FeatureCache(config.cache_dir or default_cache_dir())
    hashes = FileHashes(cache.root / "file_hashes" / "run_features.json")
    fake_items = [VideoItem(folder / r["path"], r["sha256"], f"sample{r['index']}") for r in records]
    real_items = [VideoItem(path, hashes.sha256(path), entry.relpath) for entry, path in plan.real]
    hashes.save()
    # the run's own blocks, so a missing row is recomputed with the run's round-off
    fake = compute_features(fake_items, fake_jobs, cache, config.feature_block, progress=progress,
                            desc="features [generated]", max_video_mb=config.max_video_mb)
    real = compute_features(real_items, real_jobs, cache, config.feature_block, progress=progress,
                            desc="features [real]", max_video_mb=config.max_video_mb)
    return RunFeatures(folder, results, records, fake, real, config)
