"""Where the study's videos come from: a runner's run folder (`samples.jsonl`) or a plain manifest of videos.

A run folder holds `samples.jsonl` (one JSON per line: index, class, prompt, seed, path relative to the
folder, sha256; read by `lumiere_eval.metrics.record.iter_samples`, schema in docs/results.md) and optionally
`results.json` whose `model.name` names the model. A manifest is a CSV or
JSONL file with the columns model, prompt, seed, path (paths relative to the manifest's folder) and
optionally sha256.

`study create` copies these files into media/, which users upload to a public server, so a listed file is
accepted only if it lies inside the run folder or the manifest's own folder once symlinks are resolved,
decodes as a video, and matches its recorded SHA-256 where the record has one.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import RESULTS_FILE, SAMPLES_FILE, sha256_file
from lumiere_eval.jsonl import JsonlLineError, iter_jsonl_objects
from lumiere_eval.metrics.record import ResultRecordError, iter_samples


class StudyInputError(LumiereEvalError):
    """A run folder, manifest or study folder that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class VideoRecord:
    """One generated video: which model made it from which prompt and seed, and where it is."""

    model: str
    prompt: str
    seed: int
    path: Path
    sha256: str = ""


MANIFEST_FIELDS = ("model", "prompt", "seed", "path")


def load_runs(specs: list[str]) -> list[VideoRecord]:
    """Videos of every run given as `PATH` or `NAME=PATH` (run folder or manifest file); names must not clash."""
    records: list[VideoRecord] = []
    seen_models: dict[str, str] = {}
    for spec in specs:
        # an existing path is a path even with "=" in it; else NAME is up to the first "="
        name, _, path_text = ("", "", spec) if Path(spec).exists() or "=" not in spec else spec.partition("=")
        path = Path(path_text)
        if path.is_dir():
            loaded = load_run_folder(path, name or None)
        elif path.is_file():
            loaded = load_manifest(path, name or None)
        else:
            raise StudyInputError(f"{path}: no such run folder or manifest file")
        for model in {r.model for r in loaded}:
            if model in seen_models:
                raise StudyInputError(f"{spec}: model name {model!r} also comes from {seen_models[model]}; "
                                      f"rename one with NAME=PATH")
            seen_models[model] = spec
        records.extend(loaded)
    return records


def load_run_folder(folder: Path, name: str | None = None) -> list[VideoRecord]:
    """Videos of one run folder; the model is `name`, else results.json's model.name, else the folder name."""
    samples = folder / SAMPLES_FILE
    if not samples.is_file():
        raise StudyInputError(f"{folder}: not a run folder (no {SAMPLES_FILE})")
    from lumiere_eval.metrics.record import ChangedSamplesError, check_sample_files

    model = name or _model_name_from_results(folder) or folder.resolve().name
    try:
        rows = list(iter_samples(samples))
    except ResultRecordError as err:
        raise StudyInputError(str(err)) from None
    records = [_record(row, model, folder, samples, f"line {line_no}", check_hash=False) for line_no, row in rows]
    recorded = [row for _, row in rows]
    if not records:
        raise StudyInputError(f"{samples}: no samples")
    try:  # every changed video named at once (record.check_sample_files, as compare and the dashboard)
        check_sample_files(folder, recorded, hint="the HITs would show them beside the run's scores of the recorded "
                                                  "files: restore them, or rerun the run")
    except ChangedSamplesError as err:
        raise StudyInputError(str(err)) from None
    return records


def load_manifest(path: Path, name: str | None = None) -> list[VideoRecord]:
    """Videos listed in a CSV or JSONL manifest (model, prompt, seed, path); `name` overrides the model column."""
    if path.suffix.lower() == ".jsonl":
        rows = [(f"line {n}", row) for n, row in _read_jsonl(path)]
    elif path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [f for f in MANIFEST_FIELDS if f not in (reader.fieldnames or []) and not (f == "model" and name)]
            if missing:
                raise StudyInputError(f"{path}: manifest lacks the column(s) {', '.join(missing)}")
            rows = [(f"row {i + 2}", row) for i, row in enumerate(reader)]
    else:
        raise StudyInputError(f"{path}: a manifest must be .csv or .jsonl (model, prompt, seed, path)")
    records = []
    for where, row in rows:
        model = name or str(row.get("model", "")).strip()
        if not model:
            raise StudyInputError(f"{path} {where}: empty field 'model'")
        records.append(_record(row, model, path.parent, path, where))
    if not records:
        raise StudyInputError(f"{path}: no videos listed")
    return records


def _record(row: dict, model: str, base: Path, source: Path, where: str, check_hash: bool = True) -> VideoRecord:
    for field in ("prompt", "seed", "path"):
        if row.get(field) in (None, ""):
            raise StudyInputError(f"{source} {where}: missing field {field!r}")
    try:
        seed = int(row["seed"])
    except (TypeError, ValueError):
        raise StudyInputError(f"{source} {where}: field 'seed' is not an integer: {row['seed']!r}") from None
    video = checked_video_path(str(row["path"]), base, f"{source} {where}")
    sha = str(row.get("sha256") or "").strip().lower()
    if check_hash and sha and sha256_file(video) != sha:
        raise StudyInputError(f"{source} {where}: {video} does not match its recorded sha256 {sha}")
    return VideoRecord(model=model, prompt=str(row["prompt"]), seed=seed, path=video, sha256=sha)


def checked_video_path(text: str, base: Path, where: str) -> Path:
    """`text` (relative to `base`, or absolute) as a file inside `base` after resolving symlinks, that decodes
    as a video; anything else (outside the folder, a symlink out of it, not a video) is a StudyInputError."""
    from lumiere_eval.video import VideoReadError, probe_video  # imported here: decoders load native code

    given = Path(text)
    video = given if given.is_absolute() else base / given
    if not video.is_file():
        raise StudyInputError(f"{where}: video file {video} does not exist")
    folder = base.resolve()
    real = video.resolve()
    if not real.is_relative_to(folder):
        raise StudyInputError(f"{where}: video file {text!r} resolves to {real}, outside {folder}; only files "
                              "inside the run or manifest folder are accepted (they are copied into media/ "
                              "for upload)")
    try:
        probe_video(real)
    except VideoReadError as err:
        raise StudyInputError(f"{where}: {text!r} is not a readable video ({err.reason})") from None
    return video


def _read_jsonl(path: Path):
    with path.open(encoding="utf-8") as handle:
        try:
            yield from iter_jsonl_objects(handle)
        except JsonlLineError as err:
            reason = f"not valid JSON ({err.json_error})" if err.json_error else "expected a JSON object"
            raise StudyInputError(f"{path} line {err.line}: {reason}") from None


def _model_name_from_results(folder: Path) -> str | None:
    results = folder / RESULTS_FILE
    if not results.is_file():
        return None
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise StudyInputError(f"{results}: not valid JSON ({err.msg})") from None
    model = data.get("model") if isinstance(data, dict) else None
    name = model.get("name") if isinstance(model, dict) else None
    return str(name) if name else None
