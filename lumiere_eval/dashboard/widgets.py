"""Streamlit pieces every dashboard page uses: plain text for Markdown elements, error cards, cached reads of
records, samples and video bytes (each keyed on the file's mtime and size), and video and image players.

Every file is read through `paths.resolve_under`, so nothing outside the results root is served.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from lumiere_eval import LumiereEvalError
from lumiere_eval.dashboard import records
from lumiere_eval.dashboard.paths import read_bytes_under, resolve_under

# Characters that open Markdown syntax in Streamlit: images and links, autolinks and HTML, emphasis, code,
# headings, tables, strike-through, entities, `:directive[...]` and `$math$`; ":" only before "/" (URL schemes
# such as http://, `:material/...:` icons), so paths and messages like "file.json: line 3" stay readable.
_MARKDOWN_SYNTAX = frozenset("\\`*_{}[]()<>#+!|~$&")


def plain(text: str) -> str:
    """`text` for a Streamlit element that renders Markdown, shown as the same characters: each character that
    opens Markdown syntax is backslash-escaped (CommonMark allows it for every ASCII punctuation character), so
    no image, link, HTML, emphasis, `:directive[...]`, `$math$` or scheme autolink (http://...) can form (a
    bare `www.` name may still become a link, which fetches nothing until clicked)."""
    text = str(text)
    return "".join("\\" + ch if ch in _MARKDOWN_SYNTAX or text.startswith(":/", i) else ch
                   for i, ch in enumerate(text))


def error_card(err: Exception) -> None:
    """A red card with the error message (which names the file), shown as plain text."""
    st.error(f"Could not read a result file: {plain(str(err))}")


def file_stamp(root: Path, relative: str | Path) -> tuple[int, int]:
    """(mtime_ns, size) of a file under root, so cached reads refresh when the file changes."""
    try:
        stat = resolve_under(root, relative).stat()
    except (OSError, LumiereEvalError):
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


@st.cache_data(ttl=30, show_spinner=False)
def find_cached(root: str, name: str | tuple[str, ...]) -> list[str]:
    """`records.find_files` as POSIX strings, cached for 30 s."""
    return [p.as_posix() for p in records.find_files(Path(root), name)]


@st.cache_data(show_spinner=False, max_entries=256)
def _run(root: str, relative: str, stamp: tuple[int, int]) -> dict:
    return records.load_run(Path(root), relative)


@st.cache_data(show_spinner=False, max_entries=64)
def _samples(root: str, run_path: str, stamp: tuple[int, int]) -> pd.DataFrame:
    return records.load_samples(Path(root), run_path)


@st.cache_data(show_spinner=False, max_entries=128)
def _video_bytes(root: str, relative: str, stamp: tuple[int, int]) -> bytes:
    return read_bytes_under(Path(root), relative)


def load_runs(root: Path) -> list[dict]:
    """Every readable result record under root (runs, `metrics` results); an error card for each unreadable one."""
    runs = []
    for relative in find_cached(str(root), records.RESULT_NAMES):
        try:
            runs.append(_run(str(root), relative, file_stamp(root, relative)))
        except LumiereEvalError as err:
            error_card(err)
    return runs


def samples_of(root: Path, run: dict) -> pd.DataFrame | None:
    """The run's samples table (cached on the file's mtime), or None (a `metrics` result has none, else after an
    error card)."""
    if run.get("kind") == "metrics":
        return None
    relative = Path(run["_path"]) / records.SAMPLES_FILE
    try:
        samples = _samples(str(root), run["_path"], file_stamp(root, relative))
        stamps = tuple(file_stamp(root, Path(run["_path"]) / p) for p in samples.get("path", []))
        _checked(str(root), run["_path"], file_stamp(root, relative), stamps)
        return samples
    except LumiereEvalError as err:
        error_card(err)
        return None


@st.cache_data(show_spinner=False, max_entries=64)
def _checked(root: str, run_path: str, stamp: tuple[int, int], video_stamps: tuple) -> bool:
    """The run's sample videos checked against samples.jsonl (cached on every file's mtime and size)."""
    records.check_sample_videos(Path(root), run_path, records.load_samples(Path(root), run_path))
    return True


def show_video(root: Path, relative: str, autoplay: bool = False, alt: str | None = None) -> None:
    """Play a video from under root (bytes read through the path guard), or an error card; `alt` (the player's
    description) also tells apart autoplaying players of identical videos on one page."""
    try:
        data = _video_bytes(str(root), relative, file_stamp(root, relative))
    except LumiereEvalError as err:
        error_card(err)
        return
    fmt = "image/gif" if relative.endswith(".gif") else "video/mp4"
    if fmt == "image/gif":
        st.image(data)
    else:
        st.video(data, format=fmt, loop=True, muted=True, autoplay=autoplay, alt=alt)


def show_image(root: Path, relative: str | Path, caption: str) -> None:
    """An image from under root with a caption, or an error card."""
    try:
        st.image(_video_bytes(str(root), str(relative), file_stamp(root, relative)), caption=plain(caption))
    except LumiereEvalError as err:
        error_card(err)
