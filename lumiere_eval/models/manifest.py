"""Manifests and prompt lists: which video file holds which (prompt, seed), in CSV or JSONL.

A manifest has one row per video with the fields `prompt`, `path` (relative to the manifest's folder, or
absolute) and optionally `seed` (an integer); other fields (num_frames, fps, ...) are kept but not needed.
A prompt list has one prompt per line (`.txt`), or rows with a `prompt` field and optionally `seed`
(`.csv`, `.jsonl`). `lumiere-eval generate` writes manifests that the `folder` generator reads back.

Where no seed is recorded, the k-th row of a prompt (counting from 0) is taken as seed k: the same rule the
`{prompt}-{i}.mp4` naming scheme follows, so every way of naming videos maps to (prompt, seed) alike.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from lumiere_eval import LumiereEvalError
from lumiere_eval.jsonl import JsonlLineError, iter_jsonl_objects
from lumiere_eval.output_files import atomic_output

MANIFEST_NAMES = ("manifest.jsonl", "manifest.csv")


class ManifestError(LumiereEvalError):
    """A manifest or prompt list that cannot be read: missing, malformed row, missing field, bad seed."""


@dataclass(frozen=True)
class ManifestEntry:
    """One video: the prompt and seed it was made from, and where it is; `extra` holds any other fields."""

    prompt: str
    seed: int
    path: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PromptRow:
    """One line of a prompt list; `seed` is None where the list does not fix one."""

    prompt: str
    seed: int | None = None


def slugify(text: str, max_length: int = 120) -> str:
    """File-name form of a prompt: ASCII, lower case, each run of other characters becomes one `_`.

    `"A Dog, running!"` -> `"a_dog_running"`. Used both to name files and to match names to prompts, so a
    file named with the raw prompt, with spaces replaced by `_` or `-`, or in another case, all match.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return slug[:max_length].rstrip("_")


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row dict) of a CSV (header row) or JSONL file."""
    if not path.is_file():
        raise ManifestError(f"{path}: file does not exist")
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        try:
            return list(iter_jsonl_objects(text.splitlines()))
        except JsonlLineError as err:
            reason = (f"not valid JSON ({err.json_error})" if err.json_error
                      else f"expected a JSON object, got {err.type_name}")
            raise ManifestError(f"{path}:{err.line}: {reason}") from None
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None:
            raise ManifestError(f"{path}: empty CSV (no header row)")
        rows = []
        for row in reader:
            if None in row:
                raise ManifestError(f"{path}:{reader.line_num}: more values than header fields")
            rows.append((reader.line_num, row))
        return rows
    raise ManifestError(f"{path}: unknown format {suffix!r}; use .csv or .jsonl")


def _seed(value: Any, where: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        seed = int(value)
    except (TypeError, ValueError):
        raise ManifestError(f"{where}: field 'seed' must be an integer, got {value!r}") from None
    if isinstance(value, float) and seed != value:
        raise ManifestError(f"{where}: field 'seed' must be an integer, got {value!r}")
    return seed


def _prompt(row: dict[str, Any], where: str) -> str:
    prompt = row.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ManifestError(f"{where}: missing or empty field 'prompt'")
    return prompt


def fill_seeds(prompts: Iterable[str], seeds: Iterable[int | None]) -> list[int]:
    """Seeds with each missing one replaced by the prompt's occurrence index (0 for its first row, ...)."""
    seen: Counter[str] = Counter()
    filled = []
    for prompt, seed in zip(prompts, seeds, strict=True):
        filled.append(seen[prompt] if seed is None else seed)
        seen[prompt] += 1
    return filled


def read_manifest(path: str | os.PathLike) -> list[ManifestEntry]:
    """Rows of a CSV or JSONL manifest; relative paths stay relative to the manifest's folder."""
    path = Path(path)
    parsed = []
    for number, row in _rows(path):
        where = f"{path}:{number}"
        video = row.get("path")
        if not isinstance(video, str) or not video.strip():
            raise ManifestError(f"{where}: missing or empty field 'path'")
        parsed.append((_prompt(row, where), _seed(row.get("seed"), where), video, row))
    seeds = fill_seeds([p for p, *_ in parsed], [s for _, s, *_ in parsed])
    return [ManifestEntry(prompt, seed, video, {k: v for k, v in row.items() if k not in ("prompt", "seed", "path")})
            for (prompt, _, video, row), seed in zip(parsed, seeds)]


def write_manifest(path: str | os.PathLike, entries: Sequence[ManifestEntry]) -> Path:
    """Write entries as CSV or JSONL (by suffix), atomically: a reader never sees half a manifest."""
    path = Path(path)
    rows = [{"prompt": e.prompt, "seed": e.seed, "path": e.path, **e.extra} for e in entries]
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    elif suffix == ".csv":
        fields = list(dict.fromkeys(k for row in rows for k in row)) or ["prompt", "seed", "path"]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    else:
        raise ManifestError(f"{path}: unknown manifest format {suffix!r}; use .csv or .jsonl")
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def read_prompt_list(path: str | os.PathLike) -> list[PromptRow]:
    """Prompts from a `.txt` file (one per non-blank line) or a `.csv` / `.jsonl` with `prompt` [and `seed`]."""
    path = Path(path)
    if path.suffix.lower() in (".csv", ".jsonl"):
        rows = [PromptRow(_prompt(row, f"{path}:{n}"), _seed(row.get("seed"), f"{path}:{n}")) for n, row in _rows(path)]
    else:
        if not path.is_file():
            raise ManifestError(f"{path}: prompt file does not exist")
        rows = [PromptRow(line.strip()) for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    if not rows:
        raise ManifestError(f"{path}: no prompts")
    return rows
