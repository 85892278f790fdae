"""Resumable, checksum-checked downloads: stream to `<dest>.part`, resume it with an HTTP Range request,
check the SHA-256, then rename atomically. A half-downloaded file never takes the final name."""
from __future__ import annotations

import http.client
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import sha256_file

CHUNK_BYTES = 1 << 20


class DownloadError(LumiereEvalError):
    """A download that could not complete (no network, server error, connection cut too often)."""


class ChecksumMismatchError(LumiereEvalError):
    """A file whose SHA-256 is not the published one."""


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _fetch_once(url: str, part: Path, timeout: float, progress: bool) -> None:
    """One HTTP request that appends to `part` (Range from its current size) or restarts it."""
    from tqdm import tqdm

    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "lumiere-eval"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to send: the part file is already complete
            return
        raise
    with response:
        if have and response.status != 206:  # the server ignored the Range header: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with open(part, "ab" if have else "wb") as out, \
                tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=part.name[:-5],
                     disable=not progress) as bar:
            while block := response.read(CHUNK_BYTES):
                out.write(block)
                bar.update(len(block))
        if total is not None and part.stat().st_size < total:
            raise http.client.IncompleteRead(b"", total - part.stat().st_size)


def download(url: str, dest: str | os.PathLike, sha256: str | None = None, timeout: float = 10.0,
             attempts: int = 3, progress: bool = True) -> Path:
    """Download `url` to `dest`, resuming an earlier `.part` file; check `sha256` (if given) before renaming.

    `timeout` bounds every connect and read, so an offline machine fails within seconds. A cut connection
    is retried up to `attempts` times in all, each retry resuming where the last one stopped.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    last_error: Exception | None = None
    for _ in range(attempts):
        try:
            _fetch_once(url, part, timeout, progress)
            break
        except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError) as err:
            last_error = err  # keep the part file; the next attempt resumes it
        except urllib.error.HTTPError as err:
            raise DownloadError(f"{url}: server answered HTTP {err.code} {err.reason}") from err
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise DownloadError(f"{url}: cannot connect ({reason})") from err
    else:
        raise DownloadError(f"{url}: connection cut {attempts} times ({last_error}); "
                            f"{part} keeps the bytes received so far and the next try resumes it")
    if sha256 is not None:
        got = sha256_file(part)
        if got != sha256.lower():
            part.unlink()
            raise ChecksumMismatchError(f"{url}: downloaded file has SHA-256 {got}, expected {sha256}; "
                                        "the partial file was deleted")
    os.replace(part, dest)
    return dest
