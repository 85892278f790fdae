"""The ground floor: file checksums, atomic writes, the home folder and the names of a run folder's files.

Atomic writes go to a temporary name beside the target, then `os.replace`: a reader never sees half a file
and a killed process leaves at most a `.<name>.<pid>.<random>.tmp<suffix>` behind. Written files get the
permissions any file gets under the current umask (usually 0644), not mkstemp's 0600.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from lumiere_eval import LumiereEvalError

HOME_VARIABLE = "LUMIERE_EVAL_HOME"

# The files of a run folder (`lumiere-eval ucf101 --out RUN`).
CONFIG_FILE = "config.json"
IDENTITY_FILE = "identity.json"
RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"
SUMMARY_FILE = "summary.md"
SKIPPED_FILE = "skipped.json"
LOCK_FILE = ".lock"
SAMPLES_DIR = "samples"
ERRORS_DIR = "errors"
SHARDS_DIR = "shards"
COMPARISON_FILE = "comparison.json"
METRICS_FILE = "metrics.json"  # default --out of `lumiere-eval metrics`


def lumiere_home() -> Path:
    """`$LUMIERE_EVAL_HOME`, or ~/.cache/lumiere-eval when it is unset or empty."""
    value = os.environ.get(HOME_VARIABLE, "")
    return Path(value) if value else Path.home() / ".cache" / "lumiere-eval"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _usual_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix, so writers that pick a format by suffix work); when the
    block ends without error it gets the usual permissions and replaces `path`, else it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{secrets.token_hex(3)}.tmp{path.suffix}")
    try:
        yield tmp
        os.chmod(tmp, _usual_mode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(path: str | os.PathLike, payload: Any, indent: int | None = 2) -> Path:
    """Write JSON atomically (keys sorted; non-JSON values such as paths as strings)."""
    return atomic_write_text(path, json.dumps(payload, indent=indent, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike, error: type[Exception] = LumiereEvalError, where: str | None = None) -> Any:
    """The JSON in `path`; a missing, unreadable or malformed file raises `error` naming `where` (default: the
    path)."""
    where = where or str(path)
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise error(f"{where}: file not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{where}: cannot read ({err})") from err
    except json.JSONDecodeError as err:
        raise error(f"{where}: malformed or partial JSON (line {err.lineno}: {err.msg})") from err


def decode_text(data: bytes, path: str | os.PathLike) -> tuple[str, str | None]:
    """Text typed by people (prompts, manifests, results CSVs): UTF-8 (a byte-order mark dropped), else
    Windows-1252, else Latin-1, with a warning naming the file, the first bad byte and the encoding used."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        bad = f"byte 0x{data[err.start]:02x} at offset {err.start}"
    for encoding, name in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            return data.decode(encoding), f"{path}: not UTF-8 ({bad}); decoded as {name}"
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")
