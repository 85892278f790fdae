"""A study folder: create it from runs (media, vigilance videos, layout, batch CSV, previews) and load it back.

Layout of STUDY/:
    study.json              the record: options, pairs, HITs with the model on each side, vigilance answers
    layout.html             MTurk layout with ${item_id} ${video_left} ${video_right} ${prompt_html}
    batch_input*.csv        MTurk batch input, one row per HIT (one file per assignments-per-HIT count); HTML
                            values, a leading formula character as a character reference (see `spreadsheet`)
    media/                  videos to host, named by content hash so a URL reveals neither model nor check
    media_manifest.csv      file, sha256, url, source: what to upload where (`--base-url`); formula-safe cells
    preview/<item_id>.html  each HIT as a local page, videos from ../media/
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

from lumiere_eval.human_study.design import design_study, pair_hits
from lumiere_eval.human_study.layout import build_layout, fill_layout, mturk_safe_html, preview_page
from lumiere_eval.files import atomic_write_text, sha256_file
from lumiere_eval.human_study.sources import StudyInputError, VideoRecord
from lumiere_eval.human_study.spreadsheet import neutralise_cell

STUDY_FILE = "study.json"
BATCH_VARIABLES = ("item_id", "video_left", "video_right", "prompt_html")
_WRITABLE_SUFFIXES = (".mp4", ".gif", ".avi")


def create_study(records: list[VideoRecord], out: Path, questions: list[str], raters: int = 5,
                 vigilance: float = 0.1, seed: int = 0, base_url: str = "", budget: int | None = None,
                 same_option: bool = False) -> dict:
    """Write a complete study folder for `records` into `out` and return the study record.

    Every video is copied to media/ and listed under "videos", so `add_round` can pair any of them later;
    `budget` limits the first round to that many comparison pairs (see `design.design_study`); `same_option`
    lets raters answer "about the same" (a tie).
    """
    out = Path(out)
    if (out / STUDY_FILE).exists():
        raise StudyInputError(f"{out}: already holds a study ({STUDY_FILE}); choose a new --out folder")
    design = design_study(records, questions, raters, vigilance, seed, budget)
    media = out / "media"
    media.mkdir(parents=True, exist_ok=True)
    record_media = {i: _copy_media(record.path, media) for i, record in enumerate(records)}
    vigilance_media = {s["id"]: _vigilance_video(records[s["degraded_from"]].path, s["type"], media, seed)
                       for s in design["vigilance_sources"]}
    base = base_url.rstrip("/")
    layout = build_layout(questions, same_option)
    (out / "layout.html").write_text(layout, encoding="utf-8")
    (out / "preview").mkdir(exist_ok=True)
    for hit in design["hits"]:
        for side in ("left", "right"):
            info = hit[side]
            name = record_media[info["record"]] if "record" in info else vigilance_media[info["vigilance"]]
            hit[side] = {"model": info["model"], "media": name}
    hits, rows, replaced = _hit_files(out, layout, base, design["hits"], round_number=1)
    batch_files = _write_batch_csvs(out, rows)
    _write_media_manifest(out / "media_manifest.csv", media, base, records, record_media, design, vigilance_media)
    pairs = [{**{k: p[k] for k in ("pair_id", "kind", "prompt", "seed", "models")}, "round": 1}
             for p in design["pairs"]]
    study = {
        "format": "lumiere-eval-2afc-study/1",
        "options": {"questions": questions, "raters": raters, "vigilance": vigilance, "seed": seed,
                    "base_url": base, "budget": budget, "same_option": same_option},
        "models": sorted({r.model for r in records}),
        "pairs": pairs,
        "hits": hits,
        "videos": [{"model": r.model, "prompt": r.prompt, "seed": r.seed, "media": record_media[i]}
                   for i, r in enumerate(records)],
        "vigilance_sources": [{**{k: s[k] for k in ("id", "type", "checks")},
                               "original": str(records[s["original"]].path),
                               "degraded_from": str(records[s["degraded_from"]].path),
                               "media": vigilance_media[s["id"]]} for s in design["vigilance_sources"]],
        "batch_files": batch_files,
        "rounds": [{"round": 1, "hits": len(hits), "batch_files": sorted(batch_files)}],
        "replaced_characters": replaced,
    }
    study["study_id"] = hashlib.sha256(json.dumps(study, sort_keys=True).encode()).hexdigest()[:16]
    write_json_atomic(out / STUDY_FILE, study)
    return study


def _hit_files(out: Path, layout: str, base: str, design_hits: list[dict], round_number: int
               ) -> tuple[list[dict], list[tuple[int, dict]], list[dict]]:
    """Preview pages of HITs whose sides name their media; returns the study's HIT entries, the batch rows
    (with their assignment counts) and the HITs whose prompt had 4-byte characters replaced."""
    hits, rows, replaced = [], [], []
    for hit in design_hits:
        sides = {side: hit[side] for side in ("left", "right")}
        chars = mturk_safe_html(hit["prompt"])[1]
        if chars:
            replaced.append({"item_id": hit["item_id"], "characters": chars})
        row = batch_row({"item_id": hit["item_id"], "prompt": hit["prompt"], **sides}, base)
        rows.append((hit["max_assignments"], row))
        local = dict(row, video_left=mturk_safe_html(f"../media/{sides['left']['media']}")[0],
                     video_right=mturk_safe_html(f"../media/{sides['right']['media']}")[0])
        page = preview_page(fill_layout(layout, local, hit["item_id"]), f"Preview of HIT {hit['item_id']}")
        (out / "preview" / f"{hit['item_id']}.html").write_text(page, encoding="utf-8")
        hits.append({**{k: hit[k] for k in ("item_id", "pair_id", "kind", "prompt", "seed", "max_assignments")},
                     "left": sides["left"], "right": sides["right"], "expected": hit.get("expected", {}),
                     "round": round_number})
    return hits, rows, replaced


def add_round(folder: Path, study: dict, units: list[tuple[str, int, str, str]], seed: int) -> dict:
    """Append a round of (prompt, seed, model_a, model_b) comparison pairs to a study folder: counterbalanced
    HITs with the study's raters, vigilance HITs re-showing its vigilance pairs at its vigilance fraction,
    previews and round_<k>_batch_input*.csv; study.json is rewritten atomically (its study_id is kept)."""
    folder = Path(folder)
    if "videos" not in study:
        raise StudyInputError(f"{folder / STUDY_FILE}: made before rounds existed (no 'videos'); create it again")
    number = max(r["round"] for r in study["rounds"]) + 1
    media = {(v["model"], v["prompt"], v["seed"]): v["media"] for v in study["videos"]}
    rng = np.random.default_rng([seed, number])
    first_pair = len(study["pairs"]) + 1
    pairs = []
    for prompt, video_seed, model_a, model_b in units:
        for model in (model_a, model_b):
            if (model, prompt, video_seed) not in media:
                raise StudyInputError(f"{folder}: no video of model {model!r} for prompt {prompt!r} seed {video_seed}")
        pairs.append({"pair_id": f"p{first_pair + len(pairs):04d}", "kind": "comparison", "prompt": prompt,
                      "seed": video_seed, "models": [model_a, model_b],
                      "media": [media[(model_a, prompt, video_seed)], media[(model_b, prompt, video_seed)]],
                      "records": [None, None]})
    checks = {h["pair_id"]: h for h in study["hits"] if h["kind"] == "vigilance"}
    sources = []
    if checks and study["options"]["vigilance"] > 0:
        fraction = study["options"]["vigilance"]
        shown = sorted(checks)
        for k in range(max(1, math.ceil(fraction * len(pairs) / (1.0 - fraction)))):
            hit = checks[shown[int(rng.integers(0, len(shown)))]]
            real, fake = (hit["left"], hit["right"]) if hit["left"]["model"] == "real" else (hit["right"], hit["left"])
            sources.append({"id": f"r{number}v{k + 1:03d}", "checks": list(hit["expected"])})
            pairs.append({"pair_id": f"p{first_pair + len(pairs):04d}", "kind": "vigilance", "prompt": hit["prompt"],
                          "seed": hit["seed"], "models": ["real", fake["model"]], "media": [real["media"], fake["media"]],
                          "records": [None, None], "source": sources[-1]["id"]})
    design_hits = pair_hits(pairs, sources, study["options"]["raters"], rng, first_number=len(study["hits"]) + 1)
    by_id = {p["pair_id"]: p for p in pairs}
    for hit in design_hits:
        pair = by_id[hit["pair_id"]]
        for side in ("left", "right"):
            slot = 1 if "vigilance" in hit[side] else pair["models"].index(hit[side]["model"])
            hit[side] = {"model": hit[side]["model"], "media": pair["media"][slot]}
    hits, rows, replaced = _hit_files(folder, (folder / "layout.html").read_text(encoding="utf-8"),
                                      study["options"]["base_url"], design_hits, number)
    batch_files = _write_batch_csvs(folder, rows, prefix=f"round_{number}_")
    study = dict(study)
    study["pairs"] = study["pairs"] + [{**{k: p[k] for k in ("pair_id", "kind", "prompt", "seed", "models")},
                                        "round": number} for p in pairs]
    study["hits"] = study["hits"] + hits
    study["batch_files"] = {**study["batch_files"], **batch_files}
    study["rounds"] = study["rounds"] + [{"round": number, "hits": len(hits), "batch_files": sorted(batch_files)}]
    study["replaced_characters"] = study["replaced_characters"] + replaced
    write_json_atomic(folder / STUDY_FILE, study)
    return study


def load_study(folder: Path) -> dict:
    """The study record of a folder made by `create_study`."""
    path = Path(folder) / STUDY_FILE
    if not path.is_file():
        raise StudyInputError(f"{folder}: not a study folder (no {STUDY_FILE}); run `lumiere-eval study create`")
    try:
        study = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise StudyInputError(f"{path}: not valid JSON ({err.msg})") from None
    for key in ("hits", "pairs", "options", "study_id"):
        if key not in study:
            raise StudyInputError(f"{path}: missing field {key!r}")
    return study


def write_json_atomic(path: Path, data) -> None:
    """Write JSON (indented, non-ASCII kept) atomically with the usual file permissions."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def batch_row(hit: dict, base_url: str) -> dict[str, str]:
    """The batch input row of a HIT record (MTurk-safe HTML values); results echo it as Input.<var>."""
    def url(name: str) -> str:
        return f"{base_url}/{name}" if base_url else f"media/{name}"

    return {"item_id": hit["item_id"], "video_left": mturk_safe_html(url(hit["left"]["media"]))[0],
            "video_right": mturk_safe_html(url(hit["right"]["media"]))[0],
            "prompt_html": mturk_safe_html(hit["prompt"])[0]}


def _copy_media(source: Path, media: Path) -> str:
    name = sha256_file(source)[:20] + source.suffix.lower()
    if not (media / name).exists():
        shutil.copyfile(source, media / name)
    return name


def _vigilance_video(source: Path, kind: str, media: Path, seed: int) -> str:
    """A frozen (first frame repeated) or frame-shuffled copy of `source`, stored under its content hash."""
    from lumiere_eval.video import read_video, write_video

    frames, fps = read_video(source)
    if kind == "frozen":
        degraded = np.repeat(frames[:1], len(frames), axis=0)
    else:
        rng = np.random.default_rng([seed, int(sha256_file(source)[:8], 16)])
        order = rng.permutation(len(frames))
        if len(frames) > 1 and np.array_equal(order, np.arange(len(frames))):
            order = np.roll(order, 1)
        degraded = frames[order]
    suffix = source.suffix.lower() if source.suffix.lower() in _WRITABLE_SUFFIXES else ".mp4"
    tmp = media / f".vigilance-tmp{suffix}"
    write_video(tmp, degraded, fps or 8.0)
    name = sha256_file(tmp)[:20] + suffix
    os.replace(tmp, media / name)
    return name


def _write_batch_csvs(out: Path, rows: list[tuple[int, dict]], prefix: str = "") -> dict[str, int]:
    """One batch CSV per assignments-per-HIT count (MTurk's batch form sets one count per batch)."""
    counts = sorted({n for n, _ in rows})
    files = {}
    for count in counts:
        name = prefix + ("batch_input.csv" if len(counts) == 1 else f"batch_input_{count}_assignments.csv")
        with (out / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(BATCH_VARIABLES))
            writer.writeheader()
            writer.writerows(row for n, row in rows if n == count)
        files[name] = count
    return files


def _write_media_manifest(path: Path, media: Path, base: str, records: list[VideoRecord],
                          record_media: dict[int, str], design: dict, vigilance_media: dict[str, str]) -> None:
    sources: dict[str, str] = {}
    for index, name in record_media.items():
        sources.setdefault(name, str(records[index].path))
    for source in design["vigilance_sources"]:
        sources.setdefault(vigilance_media[source["id"]],
                           f"{source['type']} copy of {records[source['degraded_from']].path}")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "sha256", "url", "source"])
        for name in sorted(sources):
            writer.writerow([neutralise_cell(cell) for cell in (
                f"media/{name}", sha256_file(media / name), f"{base}/{name}" if base else "", sources[name])])


def read_batch_inputs(folder: Path, study: dict) -> dict[str, dict[str, str]]:
    """The batch input rows of a study folder, by item_id (the Input.* values MTurk echoes in results)."""
    rows = {}
    for name in study.get("batch_files", {}):
        path = Path(folder) / name
        if Path(name).name != name or name in ("", ".", ".."):
            raise StudyInputError(f"{Path(folder) / STUDY_FILE}: batch file {name!r} is not a file name in the "
                                  f"study folder")
        if not path.is_file():
            raise StudyInputError(f"{path}: batch input file listed in {STUDY_FILE} is missing")
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows[row["item_id"]] = row
    return rows
