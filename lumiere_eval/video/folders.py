"""What a folder given to a command is: a run folder (the runner's `samples.jsonl` / `config.json`) or a plain
folder of video files, and which of a plain folder's entries are videos, with each unusable entry's own reason.

`metrics` and `motion` both read folders through here, so a directory named `x.mp4`, a symbolic link loop or an
empty file is skipped and listed by both, with the same words.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from lumiere_eval.files import CONFIG_FILE, SAMPLES_FILE
from lumiere_eval.video.io import unusable_reason

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".gif", ".webm", ".mkv", ".mov"})


def folder_kind(folder: str | os.PathLike) -> Literal["run", "videos"]:
    """"run" when `folder` holds the runner's samples.jsonl or config.json, else "videos" (a plain folder)."""
    folder = Path(folder)
    return "run" if (folder / SAMPLES_FILE).exists() or (folder / CONFIG_FILE).exists() else "videos"


def split_usable(paths: list[Path]) -> tuple[list[Path], dict[str, str]]:
    """`paths` that may be videos, and the others (`{path: reason}`: missing, link loop, directory, empty)."""
    usable, unusable = [], {}
    for path in paths:
        reason = unusable_reason(path)
        if reason is None:
            usable.append(path)
        else:
            unusable[str(path)] = reason
    return usable, unusable


def folder_videos(folder: str | os.PathLike) -> tuple[list[Path], dict[str, str]]:
    """The entries of a plain folder with a video suffix, sorted by name: those that may be videos, and the
    unusable ones with their reasons."""
    entries = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    return split_usable(entries)


def shared_content(real: list[tuple[str, str]], fake: list[tuple[str, str]]) -> str | None:
    """A warning when generated videos are also in the real set (`(source, sha256)` pairs of each side: the same
    folder given twice, or copies), else None: a set compared with itself has an FVD of about 0 that means nothing."""
    real_hashes = {sha for _, sha in real}
    shared = sum(sha in real_hashes for _, sha in fake)
    if not shared:
        return None
    sources = {str(Path(src).resolve()) for src, _ in real} & {str(Path(src).resolve()) for src, _ in fake}
    where = f"--real and --fake are the same folder ({min(sources)}); " if sources else ""
    return (f"{where}{shared} of {len(fake)} generated video(s) are also in the real set (same content): the "
            "distances compare those videos with themselves and mean nothing")


def undeclared_rates(paths: list[Path]) -> tuple[list[str], str | None]:
    """The files whose container declares 0 fps (read as 25 fps by FFmpeg), and a warning naming the first."""
    from lumiere_eval.video.io import undeclared_rate

    found = [str(p) for p in paths if undeclared_rate(p)]
    if not found:
        return found, None
    return found, (f"{len(found)} video(s) whose container declares 0 fps, read as 25 fps (FFmpeg's default), "
                   f"first: {found[0]}; clip sampling counts frames, so FVD/IS/CLIPSIM do not depend on it")
