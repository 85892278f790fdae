"""VBench's standard prompt suite, read from the installed vbench package or from the user's copy, never downloaded
and never copied into this repository.

Sources (`load_suite(path)`):
- `VBench_full_info.json` (default: the one in the installed `vbench` package, found without importing it): a
  list of entries `{"prompt_en": str, "dimension": [str, ...], "auxiliary_info": {dimension: {...}}}` (the last
  optional); a prompt listed in two entries (vbench 0.1.5 has 2 such) is one prompt with both entries' dimensions;
- VBench's `prompts/` folder (or its `prompts_per_dimension/`): `prompts_per_dimension/<suite>.txt`, one prompt per
  line, where a dimension's suite file is the one of VBench's `prompts/README.md` table (`PROMPT_FILES`);
- one `.txt` file: `<suite>.txt` gives its prompts the dimensions that use that suite; any other name (e.g.
  `all_dimension.txt`) gives prompts without dimensions, which can only be taken whole.
In vbench 0.1.5 the per-dimension text files hold exactly the JSON's prompts of each dimension, in the same order.

A suite records its source, the source's SHA-256, the dimensions selected and `hash`, a hash of its prompts and
their dimensions whatever their order (vbench 0.1.5's JSON and its repository's text files give the same hash).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumiere_eval import LumiereEvalError

FULL_INFO_NAME = "VBench_full_info.json"
# vbench 0.1.5 `VBench.build_full_dimension_list()`, in its order
DIMENSIONS = ("subject_consistency", "background_consistency", "aesthetic_quality", "imaging_quality", "object_class",
              "multiple_objects", "color", "spatial_relationship", "scene", "temporal_style", "overall_consistency",
              "human_action", "temporal_flickering", "motion_smoothness", "dynamic_degree", "appearance_style")
# VBench `prompts/README.md`, "Evaluation Setting": the prompt file (prompts_per_dimension/<name>.txt) of each dimension
PROMPT_FILES = {"subject_consistency": "subject_consistency", "background_consistency": "scene",
                "temporal_flickering": "temporal_flickering", "motion_smoothness": "subject_consistency",
                "dynamic_degree": "subject_consistency", "aesthetic_quality": "overall_consistency",
                "imaging_quality": "overall_consistency", "object_class": "object_class",
                "multiple_objects": "multiple_objects", "human_action": "human_action", "color": "color",
                "spatial_relationship": "spatial_relationship", "scene": "scene", "temporal_style": "temporal_style",
                "appearance_style": "appearance_style", "overall_consistency": "overall_consistency"}


class PromptSuiteError(LumiereEvalError):
    """A VBench prompt file that is missing or malformed, or a dimension it does not have."""


@dataclass(frozen=True)
class SuitePrompt:
    """One prompt of the suite, the VBench dimensions it serves and VBench's `auxiliary_info` (dimension -> info)."""

    prompt: str
    dimensions: tuple[str, ...]
    auxiliary_info: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class VBenchSuite:
    """The prompts of the selected dimensions (all when `dimensions` is empty), in the source's order."""

    source: str
    source_sha256: str
    dimensions: tuple[str, ...]
    prompts: tuple[SuitePrompt, ...]
    name: str = "vbench"

    @property
    def hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the name and the sorted (prompt, sorted dimensions) pairs: the same for
        the same prompts whatever file and order they came from."""
        pairs = sorted([p.prompt, sorted(p.dimensions)] for p in self.prompts)
        payload = json.dumps({"name": self.name, "prompts": pairs}, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def describe(self) -> dict:
        """What a manifest or record keeps of the suite: name, source, its SHA-256, selection, count and hash."""
        return {"name": self.name, "source": self.source, "source_sha256": self.source_sha256,
                "dimensions": list(self.dimensions) or "all", "num_prompts": len(self.prompts), "hash": self.hash}


def installed_full_info() -> Path:
    """`VBench_full_info.json` of the installed vbench package (located without importing vbench)."""
    spec = importlib.util.find_spec("vbench")
    if spec is None or not spec.submodule_search_locations:
        raise PromptSuiteError("the vbench package is not installed; give VBench's prompt suite by path (its "
                               f"{FULL_INFO_NAME}, its prompts/ folder or a prompts .txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / FULL_INFO_NAME
    if not path.is_file():
        raise PromptSuiteError(f"{path}: the installed vbench package has no {FULL_INFO_NAME}")
    return path


def _merge(found: list[tuple[str, Sequence[str], dict]]) -> list[SuitePrompt]:
    """One SuitePrompt per distinct prompt (first appearance order), its dimensions and auxiliary info united."""
    merged: dict[str, tuple[list[str], dict]] = {}
    for prompt, dimensions, aux in found:
        dims, info = merged.setdefault(prompt, ([], {}))
        dims.extend(d for d in dimensions if d not in dims)
        info.update(aux)
    return [SuitePrompt(p, tuple(d), info) for p, (d, info) in merged.items()]


def read_full_info(path: str | os.PathLike) -> list[SuitePrompt]:
    """The prompts of a `VBench_full_info.json`; a malformed entry is an error naming its index and field."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PromptSuiteError(f"{path}: file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PromptSuiteError(f"{path}: not a JSON file ({err})") from None
    if not isinstance(entries, list) or not entries:
        raise PromptSuiteError(f"{path}: expected a non-empty JSON list of entries with 'prompt_en' and 'dimension'")
    found = []
    for i, entry in enumerate(entries):
        where = f"{path}: entry {i}"
        if not isinstance(entry, dict):
            raise PromptSuiteError(f"{where}: expected an object, got {type(entry).__name__}")
        prompt, dimensions, aux = entry.get("prompt_en"), entry.get("dimension"), entry.get("auxiliary_info", {})
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptSuiteError(f"{where}: field 'prompt_en' must be a non-empty string, got {prompt!r}")
        if (not isinstance(dimensions, list) or not dimensions
                or not all(isinstance(d, str) and d for d in dimensions)):
            raise PromptSuiteError(f"{where}: field 'dimension' must be a non-empty list of dimension names, "
                                   f"got {dimensions!r}")
        if not isinstance(aux, dict):
            raise PromptSuiteError(f"{where}: field 'auxiliary_info' must be an object, got {type(aux).__name__}")
        found.append((prompt, dimensions, aux))
    return _merge(found)


def _text_prompts(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PromptSuiteError(f"{path}: file not found") from None
    except UnicodeDecodeError as err:
        raise PromptSuiteError(f"{path}: not UTF-8 text ({err})") from None
    prompts = [line.strip() for line in text.splitlines() if line.strip()]
    if not prompts:
        raise PromptSuiteError(f"{path}: no prompts")
    return prompts


def _dimensions_of_file(stem: str) -> tuple[str, ...]:
    return tuple(d for d in DIMENSIONS if PROMPT_FILES[d] == stem)


def read_prompt_texts(path: str | os.PathLike, dimensions: Sequence[str] = ()) -> list[SuitePrompt]:
    """The prompts of VBench's text files: a `prompts/` or `prompts_per_dimension/` folder (the files of
    `dimensions`, all when empty) or one `.txt` (dimensions from its name when it is a suite file's)."""
    path = Path(path)
    if path.is_file():
        return _merge([(p, _dimensions_of_file(path.stem), {}) for p in _text_prompts(path)])
    if not path.is_dir():
        raise PromptSuiteError(f"{path}: no such file or folder")
    folder = path / "prompts_per_dimension" if (path / "prompts_per_dimension").is_dir() else path
    files = dict.fromkeys(PROMPT_FILES[d] for d in (dimensions or DIMENSIONS))
    missing = [f"{name}.txt" for name in files if not (folder / f"{name}.txt").is_file()]
    if missing:
        raise PromptSuiteError(f"{folder}: no {', '.join(missing)} (VBench's prompts_per_dimension files)")
    return _merge([(p, _dimensions_of_file(name), {}) for name in files for p in _text_prompts(folder / f"{name}.txt")])


def _folder_sha256(folder: Path, names: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + b"\0" + hashlib.sha256((folder / name).read_bytes()).digest())
    return digest.hexdigest()


def check_dimensions(dimensions: Sequence[str]) -> None:
    """An error naming every one of `dimensions` that is not one of VBench's."""
    unknown = [d for d in dimensions if d not in DIMENSIONS]
    if unknown:
        raise PromptSuiteError(f"unknown VBench dimension {', '.join(map(repr, unknown))}; VBench's dimensions: "
                               f"{', '.join(DIMENSIONS)}")


def select(prompts: Sequence[SuitePrompt], dimensions: Sequence[str], source: str) -> list[SuitePrompt]:
    """The prompts serving any of `dimensions` (all when empty), each with only those of its dimensions; an unknown
    dimension, or one the source has no prompt for, is an error naming the source."""
    check_dimensions(dimensions)
    if not dimensions:
        return list(prompts)
    absent = [d for d in dimensions if not any(d in p.dimensions for p in prompts)]
    if absent:
        raise PromptSuiteError(f"{source}: no prompt for dimension {', '.join(absent)}"
                               + ("" if any(p.dimensions for p in prompts) else
                                  " (a plain prompt list names no dimensions: take it whole, or give VBench's "
                                  f"{FULL_INFO_NAME} or prompts/ folder)"))
    return [SuitePrompt(p.prompt, tuple(d for d in p.dimensions if d in dimensions),
                        {d: info for d, info in p.auxiliary_info.items() if d in dimensions})
            for p in prompts if set(dimensions) & set(p.dimensions)]


def load_suite(path: str | os.PathLike | None = None, dimensions: Sequence[str] = ()) -> VBenchSuite:
    """VBench's prompt suite from `path` (a `VBench_full_info.json`, VBench's `prompts/` folder or a `.txt`;
    default the installed vbench package's JSON), restricted to `dimensions` (all when empty)."""
    path = Path(path) if path is not None else installed_full_info()
    dimensions = tuple(dict.fromkeys(dimensions))
    check_dimensions(dimensions)
    if path.is_dir():
        prompts = read_prompt_texts(path, dimensions)
        folder = path / "prompts_per_dimension" if (path / "prompts_per_dimension").is_dir() else path
        files = sorted({f"{PROMPT_FILES[d]}.txt" for d in DIMENSIONS} & {p.name for p in folder.iterdir()})
        sha = _folder_sha256(folder, files)
    elif path.suffix.lower() == ".json":
        prompts, sha = read_full_info(path), hashlib.sha256(path.read_bytes()).hexdigest()
    elif path.is_file():
        prompts, sha = read_prompt_texts(path), hashlib.sha256(path.read_bytes()).hexdigest()
    else:
        raise PromptSuiteError(f"{path}: no such file or folder (VBench's {FULL_INFO_NAME}, prompts/ or a .txt)")
    return VBenchSuite(str(path), sha, dimensions, tuple(select(prompts, dimensions, str(path))))


def appearance_styles(path: str | os.PathLike | None = None) -> tuple[dict[str, str], str]:
    """(prompt -> style phrase of VBench's appearance-style prompts, from their `auxiliary_info`; where they were
    read): from `path` (a `VBench_full_info.json`), else the installed vbench package's. Text suites carry no style
    phrases, and without vbench or a path there is no table: ({}, why)."""
    try:
        suite = load_suite(path, ("appearance_style",))
    except PromptSuiteError as err:
        return {}, f"none ({err})"
    styles = {p.prompt: p.auxiliary_info["appearance_style"]["appearance_style"] for p in suite.prompts
              if isinstance(p.auxiliary_info.get("appearance_style"), dict)
              and isinstance(p.auxiliary_info["appearance_style"].get("appearance_style"), str)}
    return styles, suite.source if styles else f"none ({suite.source} has no appearance-style phrases)"


def parse_suite_spec(spec: str) -> tuple[str, ...]:
    """`vbench` -> () (every dimension), `vbench:all` -> (), `vbench:scene,color` -> ('scene', 'color')."""
    name, _, rest = spec.partition(":")
    if name.strip().lower() != "vbench":
        raise PromptSuiteError(f"prompt suite {spec!r}: the known suite is 'vbench' (vbench[:dimension,...])")
    dims = tuple(d.strip() for d in rest.split(",") if d.strip())
    return () if dims in ((), ("all",)) else dims
