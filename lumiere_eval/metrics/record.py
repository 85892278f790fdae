"""The result record: one versioned schema for what `metrics`, `ucf101` and the default run write and what the
human study and the dashboard read (`results.json` of a run folder, the `--out` JSON of `metrics`).

The schema is the TypedDicts below (documented in docs/results.md). `write_record` validates before writing
and `read_record` after reading; a record that does not fit raises `ResultRecordError` naming the file and the
field (for example `metrics.fvd.ci_low`). Records written before the schema had a version (no
`schema_version`) are read as version 0: checked for the fields the readers use, and brought to version 1's
shape in memory (`kind` "run", `n` and `protocol` filled where they can be derived).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Literal, TypedDict

from lumiere_eval import LumiereEvalError
from lumiere_eval.metrics import registry

SCHEMA_VERSION = 1
KINDS = ("run", "metrics")
# Whether a larger value is better, for every metric the harness computes (owned by the metric registry).
HIGHER_IS_BETTER = registry.higher_is_better()


class ResultRecordError(LumiereEvalError):
    """A result record that is missing a field, has a field of the wrong type, or is not JSON."""


class MetricEntry(TypedDict, total=False):
    """One number with its interval. Required: value, ci_low, ci_high (null when no interval), higher_is_better,
    n (generated samples used), protocol (the protocol id the number is computed under). Optional extras:
    n_real, std_over_splits, splits, std_over_subsets, covariance, extractor, clip, interval."""

    value: float
    ci_low: float | None
    ci_high: float | None
    higher_is_better: bool | None  # None: neither direction (a motion score, compared with real videos)
    n: int
    protocol: str


class ResultRecord(TypedDict, total=False):
    """A result. Required: schema_version, kind, lumiere_eval_version, model (with `name`), domain, protocol_id,
    protocols, metrics, unverified_weights, provenance. A run adds config, identity, samples, real_set,
    skipped_videos, prompt_suite, seeds, timings; a `metrics` result adds real and fake (source, videos)."""

    schema_version: int
    kind: Literal["run", "metrics"]
    lumiere_eval_version: str
    model: dict
    domain: str
    protocol_id: str
    protocols: dict
    metrics: dict[str, MetricEntry]
    unverified_weights: list[str]
    provenance: dict


_NUMBER = (int, float)
_RECORD_FIELDS: dict[str, tuple] = {
    "schema_version": (int,), "kind": (str,), "lumiere_eval_version": (str,), "model": (dict,), "domain": (str,),
    "protocol_id": (str,), "protocols": (dict,), "metrics": (dict,), "unverified_weights": (list,),
    "provenance": (dict,),
}
_METRIC_FIELDS: dict[str, tuple] = {
    "value": _NUMBER, "ci_low": (*_NUMBER, type(None)), "ci_high": (*_NUMBER, type(None)),
    "higher_is_better": (bool, type(None)), "n": (int,), "protocol": (str,),
}


def metric_entry(name: str, value: float, n: int, protocol: str, ci_low: float | None = None,
                 ci_high: float | None = None, **extra: Any) -> MetricEntry:
    """A metric entry for `name` (its better direction from HIGHER_IS_BETTER); `extra` keeps further fields."""
    return {"value": float(value), "ci_low": None if ci_low is None else float(ci_low),
            "ci_high": None if ci_high is None else float(ci_high), "higher_is_better": HIGHER_IS_BETTER[name],
            "n": int(n), "protocol": protocol, **extra}


def _check(where: str, data: dict, fields: dict[str, tuple], prefix: str) -> None:
    for key, types in fields.items():
        if key not in data:
            raise ResultRecordError(f"{where}: field '{prefix}{key}' is missing")
        value = data[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise ResultRecordError(f"{where}: field '{prefix}{key}' should be {names}, found {type(value).__name__}")


def _upgrade_v0(record: dict, where: str) -> dict:
    """A record written before schema_version existed, brought to version 1's shape."""
    model = record.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        raise ResultRecordError(f"{where}: field 'model.name' is missing")
    if not isinstance(record.get("metrics"), dict):
        raise ResultRecordError(f"{where}: field 'metrics' is missing or not an object")
    protocol = record.get("protocol_id", "")
    metrics = {}
    for name, metric in record["metrics"].items():
        if not isinstance(metric, dict):
            raise ResultRecordError(f"{where}: field 'metrics.{name}' is not an object")
        n = metric.get("n", metric.get("n_fake", 0))
        metrics[name] = {"ci_low": None, "ci_high": None, "protocol": protocol, **metric,
                         "n": n if isinstance(n, int) else 0,
                         "higher_is_better": metric.get("higher_is_better", HIGHER_IS_BETTER.get(name, False))}
    return {"kind": "run", "lumiere_eval_version": "unknown", "domain": "unknown", "protocol_id": protocol,
            "protocols": {}, "unverified_weights": [], "provenance": {}, **record, "metrics": metrics,
            "schema_version": SCHEMA_VERSION}


def validate_record(record: Any, where: str = "result record") -> ResultRecord:
    """The record checked against the schema (a version-0 record upgraded); raises ResultRecordError naming
    `where` and the first field that does not fit."""
    if not isinstance(record, dict):
        raise ResultRecordError(f"{where}: expected a JSON object, found {type(record).__name__}")
    if "schema_version" not in record:
        record = _upgrade_v0(record, where)
    _check(where, record, _RECORD_FIELDS, "")
    if record["schema_version"] != SCHEMA_VERSION:
        raise ResultRecordError(f"{where}: field 'schema_version' is {record['schema_version']}; this version of "
                                f"lumiere-eval reads version {SCHEMA_VERSION}")
    if record["kind"] not in KINDS:
        raise ResultRecordError(f"{where}: field 'kind' is {record['kind']!r}, expected one of {', '.join(KINDS)}")
    if not isinstance(record["model"].get("name"), str):
        raise ResultRecordError(f"{where}: field 'model.name' is missing")
    for name, metric in record["metrics"].items():
        if not isinstance(metric, dict):
            raise ResultRecordError(f"{where}: field 'metrics.{name}' is not an object")
        _check(where, metric, _METRIC_FIELDS, f"metrics.{name}.")
    return record


def write_record(path: str | os.PathLike, record: dict) -> Path:
    """Validate `record` and write it atomically as JSON."""
    from lumiere_eval.files import atomic_write_json

    validate_record(record, str(path))
    return atomic_write_json(path, record)


def read_json(path: str | os.PathLike, where: str | None = None) -> Any:
    """The JSON in `path`; a missing, unreadable or malformed file raises ResultRecordError naming `where`
    (default: the path)."""
    from lumiere_eval.files import read_json as read_any_json

    return read_any_json(path, ResultRecordError, where)


def read_record(path: str | os.PathLike, where: str | None = None) -> ResultRecord:
    """A record read from `path` and validated; errors name `where` (default: the path)."""
    where = where or str(path)
    return validate_record(read_json(path, where), where)


# samples.jsonl: one JSON object per generated sample, in sample-index order (docs/results.md, "samples.jsonl"):
# the identity fields every line has, optional strings, and the per-sample metric fields the registry's
# `per_sample` names for the core and VBench tiers (numbers, or null when the sample's video was skipped).
SAMPLE_FIELDS: dict[str, tuple] = {"index": (int,), "prompt": (str,), "seed": (int,), "path": (str,),
                                   "sha256": (str,)}
# size and mtime_ns: the video's size and modification time when it was written (issue 26)
SAMPLE_OPTIONAL_FIELDS: dict[str, tuple] = {"class": (str,), "is_top1": (str,), "size": (int,), "mtime_ns": (int,),
                                           "recorded_sha256": (str,)}
SAMPLE_METRIC_FIELDS = tuple(registry.per_sample_directions())


def read_text_utf8(path: str | os.PathLike, error: type[LumiereEvalError] = ResultRecordError,
                   where: str | None = None) -> str:
    """The UTF-8 text of a record file; unreadable or not UTF-8 raises `error` naming `where` (default: the
    path) and the byte."""
    where = where or str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{where}: file not found") from None
    except OSError as err:
        raise error(f"{where}: cannot read ({err.strerror or err})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{where}: not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); run records are "
                    "written as UTF-8, was the file edited by hand?") from None


def check_sample(row: dict, where: str) -> dict:
    """One samples.jsonl object checked against the schema; ResultRecordError naming `where` and the field."""
    _check(where, row, SAMPLE_FIELDS, "")
    for key, types in SAMPLE_OPTIONAL_FIELDS.items():
        if key in row and (isinstance(row[key], bool) or not isinstance(row[key], types)):
            raise ResultRecordError(f"{where}: field '{key}' should be {types[0].__name__}, found "
                                    f"{type(row[key]).__name__} ({row[key]!r})")
    for field in SAMPLE_METRIC_FIELDS:
        value = row.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, _NUMBER)):
            raise ResultRecordError(f"{where}: field '{field}' should be a number or null, found "
                                    f"{type(value).__name__} ({value!r})")
    return row


def iter_samples(path: str | os.PathLike, where: str | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, record) of each line of a run's samples.jsonl in file order, checked (`check_sample`); a
    malformed line raises ResultRecordError naming `where` (default: the path), the line and the field."""
    from lumiere_eval.jsonl import JsonlLineError, iter_jsonl_objects

    where = where or str(path)
    try:
        for number, row in iter_jsonl_objects(read_text_utf8(path, where=where).splitlines()):
            yield number, check_sample(row, f"{where} line {number}")
    except JsonlLineError as err:
        raise ResultRecordError(f"{where} {err}") from None


def read_samples(path: str | os.PathLike, where: str | None = None) -> list[dict]:
    """The per-sample records of a run's samples.jsonl (`iter_samples`), sorted by sample index."""
    return sorted((row for _, row in iter_samples(path, where)), key=lambda r: r["index"])


def write_samples(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Check every row (`check_sample`, naming its position) and write samples.jsonl atomically: one JSON object
    per line with sorted keys, in the order given."""
    import json

    from lumiere_eval.files import atomic_write_text

    for number, row in enumerate(rows, start=1):
        check_sample(row, f"{path} line {number}")
    return atomic_write_text(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))


class ChangedSamplesError(ResultRecordError):
    """Sample videos of a run that are no longer the files its samples.jsonl records (replaced, edited, removed)."""


RESCORE_HINT = ("the run's numbers and cached features are of the recorded files: restore them, rerun the run, or "
                "pass --rescore to recompute what depends on them from the files as they are now")


def changed_samples(folder: str | os.PathLike, rows: list[dict], hashes=None) -> list[dict]:
    """The samples whose video is not the file samples.jsonl records: `{index, path, reason, sha256}` (sha256: the
    file's now, None when it is missing). Size and modification time are compared first where the row records them
    (`size`, `mtime_ns`); the SHA-256 is computed only when they differ or are not recorded (through `hashes`, an
    object with `sha256(path)` such as the runner's FileHashes memo, else read whole)."""
    from lumiere_eval.files import sha256_file
    from lumiere_eval.path_checks import why_missing

    changed = []
    for row in rows:
        path = Path(folder) / row["path"]
        try:
            stat = os.stat(path)
        except OSError:
            changed.append({"index": row["index"], "path": row["path"], "sha256": None,
                            "reason": why_missing(path) or "cannot be read"})
            continue
        if (row.get("size"), row.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
            continue
        digest = hashes.sha256(path) if hashes is not None else sha256_file(path)
        if digest != row["sha256"]:
            changed.append({"index": row["index"], "path": row["path"], "sha256": digest,
                            "reason": f"content changed (SHA-256 {row['sha256'][:12]}... recorded, "
                                      f"{digest[:12]}... now)"})
    return changed


def check_sample_files(folder: str | os.PathLike, rows: list[dict], rescore: bool = False, hashes=None,
                       hint: str = RESCORE_HINT) -> list[dict]:
    """`rows` when every sample video is the file samples.jsonl records (`changed_samples`); else
    ChangedSamplesError naming the samples and `hint`, or with `rescore` the rows with each changed sample's
    `sha256` set to the file's now (its recorded hash kept as `recorded_sha256`), so what is keyed on the content
    (cached features, motion scores) is recomputed. A missing file is refused either way."""
    changed = changed_samples(folder, rows, hashes)
    if not changed:
        return rows
    if rescore and all(c["sha256"] is not None for c in changed):
        now = {c["index"]: c["sha256"] for c in changed}
        return [row | {"sha256": now[row["index"]], "recorded_sha256": row["sha256"]} if row["index"] in now else row
                for row in rows]
    listed = ", ".join(f"sample {c['index']} {c['path']} ({c['reason']})" for c in changed[:5])
    more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
    raise ChangedSamplesError(f"{folder}: {len(changed)} sample video(s) are not the files samples.jsonl records "
                              f"(changed after the run): {listed}{more}; "
                              + ("a missing file cannot be rescored" if rescore else hint))


def check_config_types(values: dict, defaults: dict[str, Any], where: str, nullable: frozenset = frozenset()
                       ) -> None:
    """ResultRecordError naming `where` and the field when a config.json value has another type than the
    option's default (an int option given "nine"); options whose default is None or a path are not checked, and
    the `nullable` ones may also be null."""
    for key, value in values.items():
        default = defaults.get(key)
        if value is None and key in nullable:
            continue
        if isinstance(default, bool):
            wanted: tuple = (bool,)
        elif isinstance(default, (int, float)):
            wanted = _NUMBER if isinstance(default, float) else (int,)
        elif isinstance(default, str):
            wanted = (str,)
        else:
            continue
        if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
            raise ResultRecordError(f"{where}: field '{key}' should be {' or '.join(t.__name__ for t in wanted)}, "
                                    f"found {type(value).__name__} ({value!r})")
