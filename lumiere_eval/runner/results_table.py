"""One results table across runs: a row per model, a column per metric, for `lumiere-eval report`.

Each cell is the run's recorded value with its 95% interval; a column's best measured value is marked best
(by the registry's `higher_is_better`; none for metrics without a direction). With a baseline, every other run
is compared with it by `compare.compare_runs` (the very paired test of `lumiere-eval compare`, Holm-adjusted over
compare's whole family of metrics), and a cell is marked where that comparison calls the difference significant;
a run that cannot be paired with the baseline is shown unmarked, its reason a footnote. Protocol ids, sample
counts and `short_of_protocol` flags are footnotes; the paper's published Table 1 is a separate, labelled block
of rows, never ranked with the measured ones. Where a run folder holds `lumiere-eval curves`' sample_size.json,
FVD, KVD, cd-FVD and frame FID get a second, labelled cell: the extrapolation to infinite N (never bold, never
marked, never in place of the value at N).
"""
from __future__ import annotations

from pathlib import Path

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import RESULTS_FILE
from lumiere_eval.metrics.extrapolation import EXTRAPOLATED, LABEL
from lumiere_eval.metrics.record import read_json, read_record
from lumiere_eval.metrics.registry import METRICS
from lumiere_eval.runner.compare import CURVES_FILE, compare_runs
from lumiere_eval.runner.report import PUBLISHED_TABLE_1

PUBLISHED_LABEL = "Published (Lumiere paper, Table 1; zero-shot UCF101; not re-measured)"
PUBLISHED_COLUMNS = ("fvd", "is")  # the columns of PUBLISHED_TABLE_1, in its order


class ReportInputError(LumiereEvalError):
    """A run folder that `report` cannot read, or options that do not fit the runs."""


def _record(folder: Path) -> dict:
    path = Path(folder) / RESULTS_FILE
    if not path.is_file():
        raise ReportInputError(f"{path}: missing; `report` takes finished run folders (each with {RESULTS_FILE})")
    return read_record(path)


def _names(folders: list[Path], records: list[dict]) -> list[str]:
    """Each run's model name, or its folder name where two runs share a model name."""
    models = [r["model"]["name"] for r in records]
    return [m if models.count(m) == 1 else Path(f).name for m, f in zip(models, folders)]


def _columns(records: list[dict], wanted: list[str] | None) -> list[str]:
    held = {name for r in records for name in r["metrics"]}
    if wanted:
        unknown = [m for m in wanted if m not in held]
        if unknown:
            raise ReportInputError(f"--metrics names {', '.join(unknown)}, which none of the runs holds "
                                   f"(they hold: {', '.join(n for n in METRICS if n in held)})")
        return list(wanted)
    return [name for name, m in METRICS.items() if name in held and m.tier == "core"]


def _extrapolations(folder: Path) -> dict[str, dict]:
    """The run's extrapolations to infinite N from its sample_size.json (none without one)."""
    path = folder / CURVES_FILE
    if not path.is_file():
        return {}
    metrics = read_json(path).get("metrics", {})
    return {m: {k: metrics[m]["extrapolation"][k] for k in ("value", "ci_low", "ci_high", "slope")}
            for m in EXTRAPOLATED if "extrapolation" in metrics.get(m, {})}


def _best(rows: list[dict], name: str) -> float | None:
    higher = METRICS[name].higher_is_better
    values = [r["cells"][name]["value"] for r in rows if name in r["cells"]]
    if higher is None or not values:
        return None
    return max(values) if higher else min(values)


def build_table(folders: list[Path], baseline: Path | None = None, metrics: list[str] | None = None,
                alpha: float = 0.05, correction: str = "holm", num_resamples: int = 1000, seed: int = 0,
                motion: bool = True, published: bool = True) -> dict:
    """The table as a JSON-ready dict: columns, measured rows (cells with value, interval, best and significance
    marks), published rows, footnotes. `baseline` (one of `folders`, or another run) is compared with every
    other run as `lumiere-eval compare OTHER BASELINE --alpha --correction --bootstrap --seed` would."""
    folders = [Path(f) for f in folders]
    if baseline is not None and all(Path(f).resolve() != Path(baseline).resolve() for f in folders):
        folders.append(Path(baseline))
    if not folders:
        raise ReportInputError("report needs at least one run folder")
    records = [_record(f) for f in folders]
    names = _names(folders, records)
    columns = _columns(records, metrics)
    rows, notes = [], []
    for folder, record, name in zip(folders, records, names):
        cells = {m: {k: record["metrics"][m].get(k) for k in ("value", "ci_low", "ci_high", "n", "protocol")}
                 for m in columns if m in record["metrics"]}
        for m, extrapolated in _extrapolations(folder).items():
            if m in cells:
                cells[m]["extrapolated"] = extrapolated
        rows.append({"model": name, "run": str(folder), "domain": record["domain"], "cells": cells,
                     "baseline": baseline is not None and folder.resolve() == Path(baseline).resolve(),
                     "short_of_protocol": record.get("short_of_protocol") or {},
                     "samples": (record.get("samples") or {}).get("generated")})
    for name in columns:
        best = _best(rows, name)
        for row in rows:
            if name in row["cells"]:
                row["cells"][name]["best"] = best is not None and row["cells"][name]["value"] == best
    comparisons = {}
    if baseline is not None:
        base = next(r for r in rows if r["baseline"])
        for row in rows:
            if row["baseline"]:
                continue
            try:
                result = compare_runs(Path(row["run"]), Path(base["run"]), alpha, num_resamples, seed,
                                      motion=motion, correction=correction)
            except LumiereEvalError as err:
                row["unpaired"] = str(err)
                notes.append(f"{row['model']} is not marked: {err}")
                continue
            comparisons[row["model"]] = {"family": sorted(result["metrics"]), "notes": result["notes"]}
            for metric, cell in row["cells"].items():
                paired = result["metrics"].get(metric)
                if paired is not None:
                    cell["vs_baseline"] = {k: paired[k] for k in ("difference", "ci_low", "ci_high", "p_adjusted",
                                                                  "significant")}
                    cell["vs_baseline"]["better"] = {"A": "better", "B": "worse"}.get(paired["better"], "neither")
    domains = sorted({r["domain"] for r in rows})
    return {"columns": [{"name": m, "title": METRICS[m].title, "higher_is_better": METRICS[m].higher_is_better}
                        for m in columns],
            "rows": rows, "baseline": None if baseline is None else next(r["model"] for r in rows if r["baseline"]),
            "test": {"alpha": alpha, "correction": correction, "num_resamples": num_resamples, "seed": seed,
                     "motion": motion, "comparisons": comparisons},
            "published": _published(columns) if published else None,
            "domains": domains, "notes": notes + _footnotes(rows, columns, domains, published)}


def _published(columns: list[str]) -> dict | None:
    shown = [m for m in PUBLISHED_COLUMNS if m in columns]
    if not shown:
        return None
    rows = [{"model": method, "cells": {m: v for m, v in zip(PUBLISHED_COLUMNS, values) if m in shown}}
            for method, *values in PUBLISHED_TABLE_1]
    return {"label": PUBLISHED_LABEL, "rows": rows}


def _footnotes(rows: list[dict], columns: list[str], domains: list[str], published: bool) -> list[str]:
    notes = []
    if any(d != "ucf101" for d in domains):
        notes.append(f"Measured on the {', '.join(d for d in domains if d != 'ucf101')} domain, not UCF101"
                     + ("; the published rows are UCF101 numbers and are not comparable." if published else "."))
    for m in columns:
        protocols = {r["cells"][m]["protocol"] for r in rows if m in r["cells"]}
        counts = sorted({r["cells"][m]["n"] for r in rows if m in r["cells"]})
        notes.append(f"{METRICS[m].title}: protocol {', '.join(sorted(protocols))}; n = "
                     f"{', '.join(str(c) for c in counts)} generated videos.")
    if any("extrapolated" in c for r in rows for c in r["cells"].values()):
        notes.append(f"∞ columns: {LABEL}; from each run's {CURVES_FILE} (`lumiere-eval curves`).")
    for r in rows:
        for m, short in r["short_of_protocol"].items():
            notes.append(f"{r['model']}: {m} short of protocol ({short['given']} of {short['wanted']} videos; "
                         "set metrics are biased at small N).")
    return notes
