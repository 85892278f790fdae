"""The zero-shot UCF101 text-to-video protocol: split files, video lookup, prompt suites, sample allocation.

A UCF101 tree is `UCF-101/<Class>/v_<Class>_gXX_cYY.avi`; the official split files (classInd.txt,
trainlist0N.txt, testlist0N.txt) have CRLF line endings and one quirk: class `HandstandPushups` has files
named `v_HandStandPushups_...`, so file lookup is case-insensitive. The synthetic demo domain is written in
the same layout, so everything here reads it unchanged.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from lumiere_eval import LumiereEvalError
from lumiere_eval.path_checks import why_missing


class ProtocolDataError(LumiereEvalError):
    """A split file, class folder, video path or prompt file that does not fit the protocol."""


class MissingVideoError(ProtocolDataError):
    """A video listed in a split file that cannot be found or opened; `.path` and `.reason` name it."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


class SplitFileWarning(UserWarning):
    """A split file that is used after a repair, such as a repeated line counted once."""


@dataclass(frozen=True)
class SplitEntry:
    """One line of a split file: the video's path relative to the data root, its class and 0-based label."""

    relpath: str
    class_name: str
    label: int


@dataclass(frozen=True)
class SampleSpec:
    """One video the generator must produce: its index, class, prompt and seed (a function of the index)."""

    index: int
    class_name: str
    prompt: str
    seed: int


def _lines(path: Path) -> list[tuple[int, str]]:
    problem = why_missing(path)
    if problem:
        raise ProtocolDataError(f"{path}: split file {'not found' if problem == 'does not exist' else problem}")
    if not path.is_file():
        raise ProtocolDataError(f"{path}: split file is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[:err.start].count(b"\n") + 1
        raise ProtocolDataError(f"{path}, line {line}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at "
                                f"offset {err.start}); split files are plain text") from None
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def read_class_index(splits_dir: str | os.PathLike) -> list[str]:
    """Class names in label order from classInd.txt (`<1-based id> <Class>` per line)."""
    path = Path(splits_dir) / "classInd.txt"
    classes: list[str] = []
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ProtocolDataError(f"{path}, line {number}: expected '<id> <ClassName>', got {line!r}")
        if int(parts[0]) != len(classes) + 1:
            raise ProtocolDataError(f"{path}, line {number}: class id {parts[0]} out of order "
                                    f"(expected {len(classes) + 1})")
        classes.append(parts[1])
    if not classes:
        raise ProtocolDataError(f"{path}: no classes")
    return classes


def read_split(splits_dir: str | os.PathLike, split: str = "train", fold: int = 1) -> list[SplitEntry]:
    """Entries of `trainlist0{fold}.txt` or `testlist0{fold}.txt`, checked against classInd.txt."""
    if split not in ("train", "test"):
        raise ProtocolDataError(f"split must be 'train' or 'test', got {split!r}")
    classes = read_class_index(splits_dir)
    by_lower = {c.lower(): i for i, c in enumerate(classes)}
    path = Path(splits_dir) / f"{split}list0{fold}.txt"
    entries = []
    first_line: dict[str, int] = {}
    repeated = []
    for number, line in _lines(path):
        parts = line.split()
        relpath = parts[0]
        folder = relpath.split("/")[0]
        if "/" not in relpath or folder.lower() not in by_lower:
            raise ProtocolDataError(f"{path}, line {number}: {relpath!r} is not '<Class>/<file>' with a class "
                                    f"from classInd.txt")
        label = by_lower[folder.lower()]
        if len(parts) > 1 and (not parts[1].isdigit() or int(parts[1]) != label + 1):
            raise ProtocolDataError(f"{path}, line {number}: label {parts[1]!r} does not match class "
                                    f"{classes[label]} (id {label + 1})")
        if relpath.lower() in first_line:
            repeated.append(f"line {number} repeats line {first_line[relpath.lower()]} ({relpath})")
            continue
        first_line[relpath.lower()] = number
        entries.append(SplitEntry(relpath, classes[label], label))
    if not entries:
        raise ProtocolDataError(f"{path}: no entries")
    if repeated:
        warnings.warn(f"{path}: {len(repeated)} repeated line(s) counted once: " + "; ".join(repeated[:5])
                      + (" ..." if len(repeated) > 5 else ""), SplitFileWarning, stacklevel=2)
    return entries


class VideoIndex:
    """Case-insensitive lookup of split entries in a data root (`UCF-101/` itself or the folder holding it)."""

    def __init__(self, data_root: str | os.PathLike):
        root = Path(data_root)
        problem = why_missing(root)
        if problem or not root.is_dir():
            raise ProtocolDataError(f"{root}: data root {problem or 'is not a folder'}")
        self.root = root / "UCF-101" if (root / "UCF-101").is_dir() else root
        entries = list(self.root.iterdir())
        self._folders = {p.name.lower(): p for p in entries if p.is_dir()}
        self._broken = {p.name.lower(): f"{p} {why_missing(p)}" for p in entries if why_missing(p)}
        self._files: dict[str, dict[str, Path]] = {}

    def class_folder(self, class_name: str) -> Path:
        """The folder of `class_name`; a missing one is an error naming it and the root."""
        folder = self._folders.get(class_name.lower())
        if folder is None:
            if class_name.lower() in self._broken:
                raise ProtocolDataError(f"class folder {self._broken[class_name.lower()]}")
            raise ProtocolDataError(f"{self.root}: class folder {class_name!r} is missing")
        return folder

    def _files_in(self, folder: Path) -> dict[str, Path]:
        key = folder.name.lower()
        if key not in self._files:  # listed once per folder (setdefault would list it again on every call)
            self._files[key] = {p.name.lower(): p for p in folder.iterdir()}
        return self._files[key]

    def resolve(self, entry: SplitEntry) -> Path:
        """The file for `entry`, matched case-insensitively (HandstandPushups / v_HandStandPushups_...).

        A file that is missing, in another class folder, a dangling symbolic link or a link loop is an error
        naming it.
        """
        folder = self.class_folder(entry.relpath.split("/")[0])
        name = entry.relpath.split("/")[-1]
        path = self._files_in(folder).get(name.lower())
        if path is None:
            elsewhere = [other.name for other in self._folders.values()
                         if other != folder and name.lower() in self._files_in(other)]
            where = f" (found in the wrong class folder {', '.join(elsewhere)}/)" if elsewhere else ""
            raise MissingVideoError(folder / name, f"listed in the split file but missing{where}")
        problem = why_missing(path)
        if problem:
            raise MissingVideoError(path, f"listed in the split file but {problem}")
        return path


# --- prompt suites ---------------------------------------------------------------------------------------


def plain_words(class_name: str) -> str:
    """`ApplyEyeMakeup` -> `apply eye makeup` (the plain-word class names of openai/CLIP's prompts, lowercased)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", class_name).lower()


@dataclass(frozen=True)
class PromptSuite:
    """A named, versioned class -> prompt mapping; `hash` changes whenever any prompt changes."""

    name: str
    prompts: dict[str, str]

    @property
    def hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the name and the sorted mapping."""
        payload = json.dumps({"name": self.name, "prompts": self.prompts}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def prompt(self, class_name: str) -> str:
        """The prompt of `class_name`."""
        try:
            return self.prompts[class_name]
        except KeyError:
            raise ProtocolDataError(f"prompt suite {self.name!r} has no prompt for class {class_name!r}") from None


BUILTIN_SUITES = {
    "classname-v1": lambda c: plain_words(c),
    "person-template-v1": lambda c: f"a video of a person {plain_words(c)}.",
}


def builtin_suite(name: str, classes: list[str]) -> PromptSuite:
    """A built-in suite over `classes`: `classname-v1` (plain words) or `person-template-v1`."""
    if name not in BUILTIN_SUITES:
        raise ProtocolDataError(f"unknown prompt suite {name!r}; built-in: {', '.join(BUILTIN_SUITES)}, "
                                "or a path to a CSV/JSON file mapping class -> prompt")
    return PromptSuite(name, {c: BUILTIN_SUITES[name](c) for c in classes})


def load_prompt_file(path: str | os.PathLike, classes: list[str]) -> PromptSuite:
    """A user suite from JSON (`{"Class": "prompt"}`) or CSV/TSV (`class,prompt` header); every class needed."""
    path = Path(path)
    if not path.is_file():
        raise ProtocolDataError(f"{path}: prompt file not found")
    if path.suffix.lower() == ".json":
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ProtocolDataError(f"{path}: not valid JSON ({err})") from err
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ProtocolDataError(f"{path}: expected a JSON object mapping class name to prompt string")
    else:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            if reader.fieldnames is None or not {"class", "prompt"} <= set(reader.fieldnames):
                raise ProtocolDataError(f"{path}: header must have columns 'class' and 'prompt', "
                                        f"got {reader.fieldnames}")
            mapping = {}
            for number, row in enumerate(reader, start=2):
                if not row["class"] or not row["prompt"]:
                    raise ProtocolDataError(f"{path}, line {number}: empty class or prompt")
                mapping[row["class"]] = row["prompt"]
    by_lower = {c.lower(): c for c in classes}
    unknown = [k for k in mapping if k.lower() not in by_lower]
    if unknown:
        raise ProtocolDataError(f"{path}: unknown class(es) {', '.join(unknown[:5])}")
    prompts = {by_lower[k.lower()]: v for k, v in mapping.items()}
    missing = [c for c in classes if c not in prompts]
    if missing:
        raise ProtocolDataError(f"{path}: no prompt for {len(missing)} class(es): {', '.join(missing[:5])}"
                                + (" ..." if len(missing) > 5 else ""))
    return PromptSuite(f"file:{path.name}", prompts)


def prompt_suite(spec: str, classes: list[str]) -> PromptSuite:
    """A built-in suite by name, or a user file by path."""
    return builtin_suite(spec, classes) if spec in BUILTIN_SUITES else load_prompt_file(spec, classes)


# --- allocation ------------------------------------------------------------------------------------------


def allocate(num_samples: int, class_counts: dict[str, int]) -> dict[str, int]:
    """Split `num_samples` over classes in proportion to `class_counts` (largest-remainder rounding).

    Ties in the remainders go to the class listed first, so the result is deterministic.
    """
    total = sum(class_counts.values())
    if num_samples < 0 or total <= 0:
        raise ProtocolDataError(f"cannot allocate {num_samples} samples over {total} reference clips")
    quotas = {c: num_samples * n / total for c, n in class_counts.items()}
    result = {c: int(q) for c, q in quotas.items()}
    order = sorted(class_counts, key=lambda c: -(quotas[c] - result[c]))  # stable: ties keep class order
    for c in order[: num_samples - sum(result.values())]:
        result[c] += 1
    return result


def sample_seed(protocol_id: str, index: int) -> int:
    """The seed of sample `index`: a hash of the protocol id and the index (31 bits), never of batch or rank."""
    digest = hashlib.sha256(f"{protocol_id}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def sample_plan(protocol_id: str, allocation: dict[str, int], suite: PromptSuite) -> list[SampleSpec]:
    """Every sample of the protocol, classes in order, each with its prompt and index-derived seed."""
    plan = []
    for class_name, count in allocation.items():
        for _ in range(count):
            index = len(plan)
            plan.append(SampleSpec(index, class_name, suite.prompt(class_name), sample_seed(protocol_id, index)))
    return plan
