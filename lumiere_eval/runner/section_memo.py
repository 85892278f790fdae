"""Report sections of the default run recomputed only when what they are made from changes.

A section's key is the SHA-256 of its inputs (the models' sample lists and metric entries, the real clips,
the options) and of every source file of the package, so new code recomputes it as well; the text is kept
in the run folder under `.sections/<name>.json`, beside the files the section wrote.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from lumiere_eval.files import atomic_write_json

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def package_fingerprint() -> str:
    """SHA-256 over the names and contents of the package's Python source files."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def memo_section(folder: Path, name: str, inputs: dict[str, Any], compute: Callable[[], str],
                 outputs: tuple[Path, ...] = ()) -> str:
    """The text of section `name`: kept from the last run when `inputs` and the code are unchanged and every
    file in `outputs` is still there, else `compute()`d and kept."""
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode() + b"\0"
                         + package_fingerprint().encode()).hexdigest()
    memo = Path(folder) / ".sections" / f"{name}.json"
    try:
        saved = json.loads(memo.read_text(encoding="utf-8"))
        if saved.get("key") == key and all(Path(p).exists() for p in outputs):
            return saved["text"]
    except (OSError, ValueError, AttributeError):
        pass  # no memo yet, or an unreadable one: compute the section again
    text = compute()
    atomic_write_json(memo, {"key": key, "text": text})
    return text
