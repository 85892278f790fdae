"""Serve only files under the results root: every path is resolved (symlinks, `..`) and checked."""
from __future__ import annotations

from pathlib import Path

from lumiere_eval import LumiereEvalError


class OutsideResultsRootError(LumiereEvalError):
    """A requested path resolves outside the dashboard's results root."""


class ResultFileError(LumiereEvalError):
    """A result file is missing, malformed or partial."""


def resolve_under(root: Path, path: str | Path) -> Path:
    """`path` (relative to `root`, or absolute) resolved with symlinks followed; raises
    `OutsideResultsRootError` unless the result lies inside the resolved `root`."""
    root = Path(root).resolve()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        raise OutsideResultsRootError(f"{path}: outside the results root {root}; not served")
    return resolved


def read_bytes_under(root: Path, path: str | Path) -> bytes:
    """The bytes of a file under `root` (see `resolve_under`); a missing file raises `ResultFileError`."""
    resolved = resolve_under(root, path)
    try:
        return resolved.read_bytes()
    except OSError as err:
        raise ResultFileError(f"{path}: cannot read ({err.strerror or err})") from err
