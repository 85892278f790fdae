"""Read the records the runner and the human study write, for the dashboard (no Streamlit here).

A run folder holds `results.json` and `samples.jsonl`; a `lumiere-eval metrics` result is a `metrics.json`
(no samples); both are result records read through `lumiere_eval.metrics.record`. A study analysis folder
holds `analysis.json`. Every reader raises `ResultFileError` naming the file (and line, or field) when a
record is malformed or partial.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from lumiere_eval.dashboard.paths import OutsideResultsRootError, ResultFileError, resolve_under
from lumiere_eval.files import COMPARISON_FILE, METRICS_FILE, RESULTS_FILE, SAMPLES_FILE
from lumiere_eval.metrics.intervals import contains, interval_text
from lumiere_eval.metrics.record import ResultRecordError, read_json, read_samples, validate_record

ANALYSIS_FILE = "analysis.json"
RESULT_NAMES = (RESULTS_FILE, METRICS_FILE)  # run folders' records and `lumiere-eval metrics` records
PUBLISHED_SOURCE = "published, not re-measured"


def find_files(root: Path, name: str | tuple[str, ...]) -> list[Path]:
    """Every file called `name` (or any of the names) under `root` (symlinks leading outside skipped), sorted,
    relative to root."""
    names = {name} if isinstance(name, str) else set(name)
    root = Path(root).resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for match in sorted(names & set(filenames)):
            try:
                found.append(resolve_under(root, Path(dirpath) / match).relative_to(root))
            except OutsideResultsRootError:
                continue
    return sorted(found)


def load_json(root: Path, relative: str | Path) -> dict:
    """A JSON object file under `root`; raises `ResultFileError` naming the file if unreadable or not an object."""
    try:
        data = read_json(resolve_under(root, relative), str(relative))
    except ResultRecordError as err:
        raise ResultFileError(str(err)) from err
    if not isinstance(data, dict):
        raise ResultFileError(f"{relative}: expected a JSON object, found {type(data).__name__}")
    return data


def load_run(root: Path, results_file: str | Path) -> dict:
    """One result record (a run's `results.json` or a `metrics.json`), validated against the record schema;
    `_path` is its folder relative to root."""
    try:
        results = dict(validate_record(load_json(root, results_file), str(results_file)))
    except ResultRecordError as err:
        raise ResultFileError(str(err)) from err
    results["_path"] = str(Path(results_file).parent.as_posix())
    return results


def run_label(run: dict) -> str:
    """How a run is named in the dashboard: model name and folder."""
    return f"{run['model']['name']} ({run['_path']})"


def format_metric(metric: dict | None) -> str:
    """'value [ci_low, ci_high]' with two decimals (flagged when the interval excludes the value), or '-'."""
    if not metric or _missing(metric.get("value")):
        return "-"
    text = f"{metric['value']:.2f}"
    if not _missing(metric.get("ci_low")) and not _missing(metric.get("ci_high")):
        text += interval_text(metric["value"], metric["ci_low"], metric["ci_high"])
    return text


def interval_check(estimate, low, high) -> str:
    """'ok', '-' (no interval) or the flag of an interval that does not contain its own estimate."""
    if _missing(estimate) or _missing(low) or _missing(high):
        return "-"
    return "ok" if contains(estimate, low, high) else "EXCLUDES ITS ESTIMATE: invalid"


def _missing(value) -> bool:
    return not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value))


def metric_column(name: str, higher_is_better: bool | None) -> str:
    """Column title with the better direction: 'FVD ↓' (lower is better) or 'IS ↑'."""
    arrow = {True: " ↑", False: " ↓"}.get(higher_is_better, "")
    return name.upper() + arrow


def leaderboard(runs: list[dict], published: bool = True, sort_by: str | None = None) -> pd.DataFrame:
    """One row per run (metric cells 'value [low, high]'), best first by `sort_by`, then the paper's rows."""
    from lumiere_eval.runner.report import PUBLISHED_TABLE_1

    directions: dict[str, bool | None] = {}
    for run in runs:
        for name, metric in run["metrics"].items():
            directions.setdefault(name, metric.get("higher_is_better"))
    if sort_by in directions:
        sign = -1 if directions[sort_by] else 1
        runs = sorted(runs, key=lambda r: (sort_by not in r["metrics"],
                                           sign * r["metrics"].get(sort_by, {"value": 0})["value"]))
    rows = []
    for run in runs:
        row = {"model": run["model"]["name"]}
        for name, direction in directions.items():
            row[metric_column(name, direction)] = format_metric(run["metrics"].get(name))
        row.update({"samples": (run.get("samples") or {}).get("generated"), "source": "measured",
                    "domain": run.get("domain", "?"), "protocol": run.get("protocol_id", "?"), "run": run["_path"]})
        rows.append(row)
    if published:
        for model, fvd, inception in PUBLISHED_TABLE_1:
            row = {"model": model}
            for name, direction in directions.items():
                value = {"fvd": fvd, "is": inception}.get(name)
                row[metric_column(name, direction)] = "-" if value is None else f"{value:.2f}"
            if not directions:
                row.update({"FVD ↓": f"{fvd:.2f}", "IS ↑": "-" if inception is None else f"{inception:.2f}"})
            row.update({"samples": None, "source": PUBLISHED_SOURCE, "domain": "ucf101", "protocol": "paper",
                        "run": "Lumiere paper, Table 1"})
            rows.append(row)
    return pd.DataFrame(rows)


def load_samples(root: Path, run_path: str | Path) -> pd.DataFrame:
    """A run's `samples.jsonl` as a table (`record.read_samples`); a malformed line raises `ResultFileError`
    naming the file (relative to root), line and field."""
    relative = Path(run_path) / SAMPLES_FILE
    try:
        rows = read_samples(resolve_under(root, relative), str(relative))
    except ResultRecordError as err:
        raise ResultFileError(str(err)) from err
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["index", "class", "prompt", "seed", "path"])
    if "class" not in frame:
        frame["class"] = ""
    frame["video"] = [(Path(run_path) / p).as_posix() for p in frame["path"]]
    return frame


def check_sample_videos(root: Path, run_path: str | Path, samples: pd.DataFrame) -> None:
    """ResultFileError naming the samples whose video is not the file samples.jsonl records (changed after the
    run: `record.check_sample_files`, as compare and study create), so the run's numbers are not shown beside
    other videos. Videos outside the root are left to the path guard (never opened here)."""
    from lumiere_eval.metrics.record import ChangedSamplesError, check_sample_files

    folder = resolve_under(root, run_path)
    rows = []
    for row in samples.to_dict("records"):
        try:
            resolve_under(root, Path(run_path) / row["path"])
        except OutsideResultsRootError:
            continue
        rows.append({k: (int(v) if k in ("index", "size", "mtime_ns") else v) for k, v in row.items()
                     if k in ("index", "path", "sha256", "size", "mtime_ns") and not pd.isna(v)})
    try:
        check_sample_files(folder, rows, hint="the run's numbers are of the recorded files: restore them, or rerun "
                                              "the run (`lumiere-eval compare --rescore` recomputes a comparison)")
    except ChangedSamplesError as err:
        raise ResultFileError(str(err).replace(str(folder), str(run_path))) from err


def per_class(samples: pd.DataFrame) -> pd.DataFrame:
    """Per prompted class: samples, mean CLIPSIM, top-1 accuracy and mean probability of the prompted class."""
    if samples.empty:
        return pd.DataFrame(columns=["class", "samples"])
    groups = samples.groupby("class", sort=True)
    table = groups.size().rename("samples").to_frame()
    if "clipsim" in samples:
        table["mean clipsim"] = groups["clipsim"].mean()
    if "is_top1" in samples:
        hits = samples["is_top1"].astype(str) == samples["class"].astype(str)
        table["top-1 accuracy"] = hits.groupby(samples["class"]).mean()
    if "is_prob_of_prompted_class" in samples:
        table["mean p(prompted class)"] = groups["is_prob_of_prompted_class"].mean()
    return table.reset_index()


def score_columns(samples: pd.DataFrame) -> list[str]:
    """The per-sample score columns (everything but the identity fields)."""
    identity = {"index", "class", "prompt", "seed", "path", "sha256", "video", "run", "model"}
    return [c for c in samples.columns if c not in identity]


def paired_samples(samples_by_run: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The (prompt, seed) pairs every run in `samples_by_run` generated, with each run's video path."""
    merged = None
    for label, frame in samples_by_run.items():
        part = frame[["prompt", "seed", "video"]].drop_duplicates(["prompt", "seed"]).rename(columns={"video": label})
        merged = part if merged is None else merged.merge(part, on=["prompt", "seed"])
    if merged is None:
        return pd.DataFrame(columns=["prompt", "seed"])
    return merged.sort_values(["prompt", "seed"]).reset_index(drop=True)


def load_analysis(root: Path, analysis_file: str | Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """A human-study `analysis.json` with its win-rate and Bradley-Terry tables; any missing or mistyped
    field raises `ResultFileError` naming the file."""
    report = load_json(root, analysis_file)
    for key in ("study_id", "comparisons", "bradley_terry", "agreement", "vigilance"):
        if key not in report:
            raise ResultFileError(f"{analysis_file}: field '{key}' is missing")
    try:
        return report, win_rate_table(report), bradley_terry_table(report)
    except (KeyError, TypeError, IndexError, ValueError) as err:
        raise ResultFileError(f"{analysis_file}: unexpected structure ({type(err).__name__}: {err})") from err


def win_rate_table(report: dict) -> pd.DataFrame:
    """Win rates of model A over model B with Wilson and prompt-bootstrap 95% intervals."""
    rows = []
    for c in report["comparisons"]:
        rows.append({"question": c["question"], "model A": c["model_a"], "model B": c["model_b"],
                     "votes": c["votes"], "win rate A": c["win_rate_a"],
                     "Wilson low": c["wilson_ci"][0], "Wilson high": c["wilson_ci"][1],
                     "bootstrap low": c["bootstrap_ci_over_prompts"][0],
                     "bootstrap high": c["bootstrap_ci_over_prompts"][1], "Holm p": c.get("holm_p")})
    return pd.DataFrame(rows)


def bradley_terry_table(report: dict) -> pd.DataFrame:
    """Bradley-Terry log-strength per question and model with bootstrap 95% intervals, strongest first."""
    rows = []
    for bt in report["bradley_terry"]:
        if bt.get("log_strength") is None:
            continue
        for model, score, ci in zip(bt["models"], bt["log_strength"], bt["bootstrap_ci"]):
            rows.append({"question": bt["question"], "model": model, "log-strength": score,
                         "low": ci[0], "high": ci[1]})
    frame = pd.DataFrame(rows, columns=["question", "model", "log-strength", "low", "high"])
    return frame.sort_values(["question", "log-strength"], ascending=[True, False]).reset_index(drop=True)
