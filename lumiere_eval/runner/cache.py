"""A feature cache keyed by content: video SHA-256, extractor id, weight checksum, preprocessing and clip.

One `.npy` file per (video, extractor configuration), written atomically (temporary name, then rename), so
two runs sharing the cache never see half a file and a killed run loses at most the entry it was writing.
Keys never use folder or file names, except a random clip's key (its offset is seeded by the video's key):
a renamed video hits, an edited one misses. A damaged entry, or
one of the wrong shape (CacheEntryWarning names it), counts as absent and is recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import atomic_write_json, lumiere_home, sha256_file
from lumiere_eval.output_files import atomic_output


def default_cache_dir() -> Path:
    """`$LUMIERE_EVAL_HOME/features` (default ~/.cache/lumiere-eval/features); never inside the package."""
    return lumiere_home() / "features"


class FileHashes:
    """SHA-256 of files, remembered by (path, size, mtime) in a JSON file so a rerun does not reread them."""

    def __init__(self, path: Path):
        self.path = path
        self._known: dict[str, str] = {}
        if path.is_file():
            try:
                self._known = json.loads(path.read_text())
            except json.JSONDecodeError:
                self._known = {}  # a damaged memo only costs rehashing

    def sha256(self, file: str | os.PathLike) -> str:
        """The file's SHA-256 (memoised while its size and modification time are unchanged)."""
        stat = os.stat(file)
        key = f"{os.path.abspath(file)}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in self._known:
            self._known[key] = sha256_file(file)
        return self._known[key]

    def save(self) -> None:
        """Write the memo atomically."""
        atomic_write_json(self.path, self._known, indent=None)


class CacheEntryWarning(UserWarning):
    """A feature cache entry that cannot be used as stored (wrong shape): named, then recomputed."""


class FeatureCache:
    """Rows computed for one video by one extractor configuration, stored under a content key."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @staticmethod
    def key(video_sha256: str, config: dict) -> str:
        """The cache key of a video under an extractor configuration (id, weights, protocol, clip, kind)."""
        payload = json.dumps({"video": video_sha256, **config}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """The stored rows, or None when absent (a corrupt entry counts as absent and is recomputed)."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return None

    def drop_misshapen(self, rows: list[np.ndarray | None], keys: list[str], ndim: int) -> list[int]:
        """Set to None (so they are recomputed) the entries whose number of axes is not `ndim` or whose last axis
        differs from the most common one among `rows`; each is named in a CacheEntryWarning. Returns their indices."""
        last = Counter(r.shape[-1] for r in rows if r is not None and r.ndim == ndim).most_common(1)
        bad = [i for i, r in enumerate(rows) if r is not None and (r.ndim != ndim or r.shape[-1] != last[0][0])]
        for i in bad:
            warnings.warn(f"feature cache entry {self._path(keys[i])} has shape {list(rows[i].shape)}, expected "
                          f"{ndim} axes ending in {last[0][0] if last else '?'}; recomputing it", CacheEntryWarning,
                          stacklevel=2)
            rows[i] = None
        return bad

    def put(self, key: str, rows: np.ndarray) -> None:
        """Store rows atomically; NaN or infinite rows are refused (they would poison every later run)."""
        rows = np.asarray(rows)
        if not np.isfinite(rows).all():
            raise LumiereEvalError(f"refusing to cache non-finite features under {key[:12]}")
        with atomic_output(self._path(key)) as tmp:  # a full disk: OutputWriteError naming the entry
            np.save(tmp, rows)
