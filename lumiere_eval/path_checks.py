"""Why a path cannot be opened, in words: missing, a dangling symbolic link, a symbolic link loop."""
from __future__ import annotations

import errno
import os
from pathlib import Path


def why_missing(path: str | os.PathLike) -> str | None:
    """None when `path` can be reached; otherwise what is wrong with it (never raises)."""
    path = Path(path)
    try:
        os.stat(path)
        return None
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if os.path.islink(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            return f"is a dangling symbolic link (to {target})"
        if err.errno == errno.EACCES:
            return "cannot be read (permission denied)"
        return "does not exist"
