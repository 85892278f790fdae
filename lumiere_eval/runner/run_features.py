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

from lumiere_eval.files import read_json
from lumiere_eval.metrics.record import ResultRecordError, check_config_types, read_record
from lumiere_eval.runner.run_folder import load_records, rescored


@dataclass
class RunFeatures:
    """One run's records (sorted by sample index) and, per feature job, one row block per record (or None);
    `real_names` names each real clip (its path relative to the data root), in the order of the real rows."""

    folder: Path
    results: dict
    records: list[dict]
    fake: dict[str, list[np.ndarray | None]]
    real: dict[str, list[np.ndarray | None]]
    config: object
    real_names: tuple[str, ...] = ()


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
    relative = [key for key in ("data_root", "splits_dir") if values.get(key) and not values[key].is_absolute()
                and not values[key].exists()]
    if relative:  # written before runs recorded absolute paths, and read from another folder
        raise ResultRecordError(f"{path}: field '{relative[0]}' is the relative path '{values[relative[0]]}', not "
                                f"found from {Path.cwd()}; run this command from the folder the run was started in, "
                                "or write the absolute path into config.json")
    values["metrics"] = tuple(values.get("metrics", ()))
    values["out"] = Path(folder)
    return RunConfig(**values)


def run_features(folder: Path, progress: bool = False, rescore: bool = False, extract: bool = True) -> RunFeatures:
    """Records, results and the per-sample feature rows of a finished run (generated and real videos); sample videos
    changed after the run are refused, or with `rescore` featurised as they are now, their per-sample scores
    (CLIPSIM, the IS probability of the prompted class) recomputed; with `extract` False only the cache is read (a
    missing row stays None; nothing is decoded or extracted)."""
    from lumiere_eval.runner.cache import FeatureCache, FileHashes, default_cache_dir
    from lumiere_eval.runner.evaluation import featurize
    from lumiere_eval.runner.features import VideoItem, cached_features
    from lumiere_eval.runner.ucf101_run import build_jobs, make_plan

    folder = Path(folder)
    results = read_record(folder / "results.json")
    records = load_records(folder, rescore)
    config = run_config(folder)
    plan = make_plan(config)
    jobs = build_jobs(config)
    cache = FeatureCache(config.cache_dir or default_cache_dir())
    hashes = FileHashes(cache.root / "file_hashes" / "run_features.json")
    fake_items = [VideoItem(folder / r["path"], r["sha256"], f"sample{r['index']}") for r in records]
    real_items = [VideoItem(path, hashes.sha256(path), entry.relpath) for entry, path in plan.real]
    hashes.save()
    _check_real_set(folder, results, config, real_items, rescore)
    real_names = tuple(item.key for item in real_items)
    if not extract:
        block = config.feature_block
        return RunFeatures(folder, results, records, cached_features(fake_items, jobs.fake, cache, block),
                           cached_features(real_items, jobs.real, cache, block), config, real_names)
    # the run's own blocks, so a missing row is recomputed with the run's round-off
    fake, real = featurize(jobs, fake_items, real_items, cache, config.feature_block, progress,
                           max_video_mb=config.max_video_mb)
    records = _rescore_per_sample(records, fake, jobs.fake, plan.classes)
    return RunFeatures(folder, results, records, fake, real, config, real_names)


def _check_real_set(folder: Path, results: dict, config, real_items: list, rescore: bool) -> None:
    """ChangedSamplesError unless the real clips are the ones the run recorded (`real_set.hash`), or `rescore`."""
    from lumiere_eval.metrics.record import ChangedSamplesError
    from lumiere_eval.runner.ucf101_run import real_set_hash

    recorded = results.get("real_set", {}).get("hash")
    now = real_set_hash(real_items, config.fvd().real_sampling.id)
    if recorded and now != recorded and not rescore:
        raise ChangedSamplesError(f"{folder}: the real clips under {config.data_root} are not the ones the run used "
                                  f"(results.json real_set.hash {recorded}, {now} from the files now: a clip replaced, "
                                  "added or removed); rerun the run, or pass --rescore to use the clips as they are now")


def _rescore_per_sample(records: list[dict], fake: dict, jobs: list, classes: list[str]) -> list[dict]:
    """The records with the per-sample scores of rescored samples computed from their new feature rows."""
    from lumiere_eval.metrics import values

    changed = rescored(records)
    if not changed:
        return records
    records = [dict(r) for r in records]
    stale = ("clipsim", "is_top1", "is_prob_of_prompted_class")
    for i in changed:
        for name in stale:
            records[i].pop(name, None)
    by_name = {job.name: job for job in jobs}
    usable = [i for i in changed if fake.get("clipsim", [None] * len(records))[i] is not None]
    if "clipsim" in by_name and usable:
        texts = by_name["clipsim"].extractor.text_embeddings([records[i]["prompt"] for i in usable])
        for i, value in zip(usable, values.clipsim_per_sample([fake["clipsim"][i] for i in usable], texts)):
            records[i]["clipsim"] = float(value)
    for i in changed:
        probs = fake.get("is", [None] * len(records))[i]
        if probs is not None and len(probs) == len(classes) and records[i].get("class") in classes:
            records[i]["is_top1"] = classes[int(np.argmax(probs))]
            records[i]["is_prob_of_prompted_class"] = float(probs[classes.index(records[i]["class"])])
    return records
