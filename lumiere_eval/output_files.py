"""Output files under faults: disk errors named clearly, temporaries of killed processes cleaned up.

Files are written through `lumiere_eval.files.atomic_path` (a temporary `.<stem>.<pid>.<hex>.tmp<suffix>`
beside the target, usual permissions, then a rename). `atomic_output` adds one thing: a write that fails
for lack of space or permission becomes `OutputWriteError`, naming the path and the cause. A process killed
mid-write leaves only such a temporary; `clean_stale_temporaries` removes the ones whose process is gone.
"""
from __future__ import annotations

import errno
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import atomic_path

# The temporary names of lumiere_eval.files.atomic_path: `.<stem>.<pid>.<6 hex>.tmp<suffix>`.
_TEMPORARY = re.compile(r"^\..*\.(\d+)\.[0-9a-f]{6}\.tmp(\.[^.]*)?$")


class OutputWriteError(LumiereEvalError):
    """An output file that could not be written: disk full, read-only folder, no permission."""

    def __init__(self, path: str | os.PathLike, err: OSError):
        self.path, self.errno = str(path), err.errno
        cause = {errno.ENOSPC: "disk full (no space left on device)",
                 errno.EDQUOT: "disk quota exceeded",
                 errno.EROFS: "read-only file system",
                 errno.EACCES: "permission denied (read-only folder?)",
                 errno.EPERM: "operation not permitted"}.get(err.errno, err.strerror or str(err))
        super().__init__(f"cannot write {self.path}: {cause}; what was finished before is kept, rerun to resume")


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """`files.atomic_path`, with an OSError (disk full, read-only folder) raised as OutputWriteError."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            yield tmp
    except OSError as err:
        raise OutputWriteError(path, err) from err


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporaries in `folder` whose writing process no longer runs; returns them.

    Temporaries of live processes (another shard writing now) are left alone.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match and int(match[1]) != os.getpid() and not _pid_alive(int(match[1])):
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass  # cannot clean (read-only folder): the write that follows reports it
    return removed
