"""The `folder` generator: videos made elsewhere (Gen-2, Pika, a closed model, your own) put into the protocol.

Videos are matched to (prompt, seed) pairs by one of three schemes:

- `manifest`: a `manifest.jsonl` / `manifest.csv` in the folder (or the file given as `manifest=`) with the
  fields prompt, path and optionally seed (what `lumiere-eval generate` writes).
- `prompt-index`: files named `{prompt}-{i}.mp4`, the prompt raw or slugified (`a_dog_running-0.mp4`);
  sample i is seed `seed_offset + i`. A file `{prompt}.mp4` without an index is sample 0.
- `prompt-order`: files named `0000.mp4`, `0001.mp4`, ... in the order of a prompt list (`prompts=FILE`);
  where the list gives no seeds, the k-th line of a prompt is seed k.

`auto` picks `manifest` if a manifest exists, `prompt-order` if every file name is a number, otherwise
`prompt-index`. Before any frame is used, every requested video is checked (present, unique, decodable,
enough frames, fps, size) and all problems are reported together in one `FolderValidationError`.

Videos are then brought to the protocol by two named steps, recorded in `describe()`:

- temporal (`temporal=`): `fps` re-times to the protocol's fps by taking, for output frame k, the source
  frame floor(k * source_fps / fps) (frames repeat when the source is slower), then keeps the first
  `num_frames`; `first` / `center` take `num_frames` consecutive frames from the start / the middle;
  `uniform` takes `num_frames` frames spread evenly over the whole video (round(linspace(0, T-1, n))).
  Modes other than `fps` keep the source timing, so a source fps more than 1% off the protocol's is a
  problem unless `check_fps=false`.
- spatial (`spatial=`): `resize-crop` scales the shorter side (bilinear, antialiased) so the video covers
  height x width, then crops the centre; `resize` stretches to height x width (bilinear, antialiased,
  aspect ratio not kept); `none` requires every video to be height x width already.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import sha256_file
from lumiere_eval.models.base import GeneratedVideo, VideoGenerator
from lumiere_eval.models.manifest import MANIFEST_NAMES, fill_seeds, read_manifest, read_prompt_list, slugify
from lumiere_eval.video import VideoInfo, VideoReadError, VideoWarning, probe_video, read_frames
from lumiere_eval.video.clips import heavy_repetition

SCHEMES = ("auto", "manifest", "prompt-index", "prompt-order")
TEMPORAL_MODES = ("fps", "first", "center", "uniform")
SPATIAL_MODES = ("resize-crop", "resize", "none")
VIDEO_SUFFIXES = (".mp4", ".avi", ".gif", ".webm", ".mkv", ".mov")
_MAX_LISTED = 20  # problems of one kind listed one by one before the rest are counted


class FolderError(LumiereEvalError):
    """A folder generator that cannot be set up: missing folder, unknown scheme or mode, no prompt list."""


class FolderValidationError(FolderError):
    """Requested videos that are missing, duplicated, unreadable or do not fit the protocol; `.problems` lists all."""

    def __init__(self, root: Path, problems: list[str]):
        self.problems = problems
        shown = problems[:_MAX_LISTED] + ([f"... and {len(problems) - _MAX_LISTED} more"]
                                          if len(problems) > _MAX_LISTED else [])
        super().__init__(f"{root}: {len(problems)} problem(s):\n  - " + "\n  - ".join(shown))


@dataclass(frozen=True)
class _Source:
    """A file in the index and how it was matched."""

    path: Path
    label: str  # what the scheme read: the manifest row or the file name


def temporal_indices(mode: str, num_frames: int, length: int, source_fps: float, fps: float) -> np.ndarray:
    """Source frame indices for `num_frames` output frames under a temporal mode (may exceed `length`)."""
    steps = np.arange(num_frames)
    if mode == "first":
        return steps
    if mode == "center":
        return max(0, (length - num_frames) // 2) + steps
    if mode == "uniform":
        return np.round(np.linspace(0, length - 1, num_frames)).astype(np.int64) if length >= num_frames else steps
    if mode == "fps":
        return np.floor(steps * (source_fps / fps) + 1e-9).astype(np.int64)
    raise FolderError(f"unknown temporal mode {mode!r}; use one of {', '.join(TEMPORAL_MODES)}")


def resize_frames(frames: np.ndarray, height: int, width: int, mode: str) -> np.ndarray:
    """uint8 `[T, H, W, 3]` -> uint8 `[T, height, width, 3]` by a spatial mode (bilinear, antialiased)."""
    import torch
    import torch.nn.functional as F

    h, w = frames.shape[1:3]
    if (h, w) == (height, width) or mode == "none":
        return frames
    if mode == "resize":
        new_h, new_w = height, width
    elif mode == "resize-crop":
        scale = max(height / h, width / w)
        new_h, new_w = max(height, math.ceil(h * scale - 1e-6)), max(width, math.ceil(w * scale - 1e-6))
    else:
        raise FolderError(f"unknown spatial mode {mode!r}; use one of {', '.join(SPATIAL_MODES)}")
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()  # t c h w
    x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    x = x[..., top:top + height, left:left + width]
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def _utf8_name(path: Path) -> bool:
    """False for a file name that is not valid UTF-8 (Python holds its bytes as surrogate escapes)."""
    try:
        path.name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


class FolderGenerator(VideoGenerator):
    """Serve pre-made videos from `path`, matched to (prompt, seed) and resampled to the protocol (see module doc)."""

    name = "folder"

    def __init__(self, path: str, scheme: str = "auto", manifest: str | None = None, prompts: str | None = None,
                 seed_offset: int = 0, temporal: str = "fps", spatial: str = "resize-crop", check_fps: bool = True):
        self.root = Path(path).expanduser()
        if not self.root.is_dir():
            raise FolderError(f"video folder {self.root} does not exist or is not a folder")
        for value, allowed, what in ((scheme, SCHEMES, "scheme"), (temporal, TEMPORAL_MODES, "temporal mode"),
                                     (spatial, SPATIAL_MODES, "spatial mode")):
            if value not in allowed:
                raise FolderError(f"unknown {what} {value!r}; use one of {', '.join(allowed)}")
        self.temporal, self.spatial, self.check_fps = temporal, spatial, bool(check_fps)
        self.seed_offset = int(seed_offset)
        self.manifest_path = Path(manifest).expanduser() if manifest else self._find_manifest()
        self.prompts_path = Path(prompts).expanduser() if prompts else None
        self.scheme = self._pick_scheme(scheme)
        self.problems: list[str] = []  # problems of the folder itself, found while indexing
        self.index: dict[tuple[str, int], _Source] = {}
        self.duplicates: dict[tuple[str, int], list[str]] = {}  # keys matched by more than one file
        {"manifest": self._index_manifest, "prompt-index": self._index_names,
         "prompt-order": self._index_order}[self.scheme]()
        self._probes: dict[Path, VideoInfo | VideoReadError] = {}
        self.seed_match = "recorded"  # or "order", after match_by_order

    # ---- indexing -------------------------------------------------------------------------------------
    def _find_manifest(self) -> Path | None:
        return next((self.root / n for n in MANIFEST_NAMES if (self.root / n).is_file()), None)

    def _video_files(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                      and not p.name.startswith("."))

    def _pick_scheme(self, scheme: str) -> str:
        if scheme == "manifest" and self.manifest_path is None:
            raise FolderError(f"{self.root}: scheme 'manifest' but no {' or '.join(MANIFEST_NAMES)} found "
                              "(or pass manifest=FILE)")
        if scheme == "prompt-order" and self.prompts_path is None:
            raise FolderError(f"{self.root}: scheme 'prompt-order' (files 0000.mp4, ...) needs prompts=FILE, "
                              "the prompt list in the order the videos were made")
        if scheme != "auto":
            return scheme
        if self.manifest_path is not None:
            return "manifest"
        files = self._video_files()
        if not files:
            raise FolderError(f"{self.root}: no manifest and no video files ({', '.join(VIDEO_SUFFIXES)})")
        if all(p.stem.isdigit() for p in files):
            if self.prompts_path is None:
                raise FolderError(f"{self.root}: files are numbered ({files[0].name}, ...), which needs "
                                  "prompts=FILE, the prompt list in the order the videos were made")
            return "prompt-order"
        return "prompt-index"

    def _add(self, key: tuple[str, int], source: _Source) -> None:
        if key in self.index:
            self.duplicates.setdefault(key, [self.index[key].label]).append(source.label)
        else:
            self.index[key] = source

    def _index_manifest(self) -> None:
        assert self.manifest_path is not None
        base = self.manifest_path.parent
        for entry in read_manifest(self.manifest_path):
            label = f"{self.manifest_path.name} row {entry.path!r}"
            self._add((entry.prompt, entry.seed), _Source(base / entry.path, label))

    def _index_names(self) -> None:
        fallback: dict[tuple[str, int], _Source] = {}
        for path in self._video_files():
            match = re.fullmatch(r"(.+)-(\d+)", path.stem)
            if match:
                self._add((slugify(match[1]), int(match[2]) + self.seed_offset), _Source(path, path.name))
            fallback.setdefault((slugify(path.stem), self.seed_offset), _Source(path, path.name))
        for key, source in fallback.items():  # `{prompt}.mp4`, or a prompt that itself ends in -<digits>
            self.index.setdefault(key, source)

    def _index_order(self) -> None:
        assert self.prompts_path is not None
        rows = read_prompt_list(self.prompts_path)
        seeds = fill_seeds([r.prompt for r in rows], [r.seed for r in rows])
        for path in self._video_files():
            if not path.stem.isdigit():
                self.problems.append(f"{path.name}: not a numbered file, but the folder uses scheme prompt-order")
            elif int(path.stem) >= len(rows):
                self.problems.append(f"{path.name}: number {int(path.stem)} has no prompt "
                                     f"({self.prompts_path} has {len(rows)})")
            else:
                n = int(path.stem)
                self._add((rows[n].prompt, seeds[n]), _Source(path, path.name))

    def _key(self, prompt: str, seed: int) -> tuple[str, int]:
        return (slugify(prompt), int(seed)) if self.scheme == "prompt-index" else (prompt, int(seed))

    def match_by_order(self, prompts: Sequence[str], seeds: Sequence[int]) -> None:
        """Match a whole plan whose seeds are not the folder's (e.g. hashed protocol seeds) by order instead.

        The k-th (prompt, seed) of each prompt in the plan gets the prompt's video with the k-th smallest
        seed in the folder (its sample k under `{prompt}-{k}.mp4` or an unseeded manifest). Call it once with
        the full plan before `validate` / `generate`; `describe()` then says `seed_match: order`.
        """
        by_name: dict[str, list[int]] = defaultdict(list)
        for name, seed in self.index:
            by_name[name].append(seed)
        occurrence: Counter[str] = Counter()
        index, duplicates = {}, {}
        for prompt, seed in zip(prompts, seeds, strict=True):
            name = self._key(prompt, 0)[0]
            k = occurrence[name]
            occurrence[name] += 1
            available = sorted(by_name.get(name, []))
            if k < len(available):
                old = (name, available[k])
                index[(name, int(seed))] = self.index[old]
                if old in self.duplicates:
                    duplicates[(name, int(seed))] = self.duplicates[old]
        self.index, self.duplicates, self.seed_match = index, duplicates, "order"

    # ---- validation -----------------------------------------------------------------------------------
    def _probe(self, path: Path) -> VideoInfo | VideoReadError:
        if path not in self._probes:
            try:
                self._probes[path] = probe_video(path)
            except VideoReadError as err:
                self._probes[path] = err
        return self._probes[path]

    def _check_video(self, source: _Source, info: VideoInfo, num_frames: int, fps: float, height: int,
                     width: int) -> list[str]:
        problems = []
        name = source.path.name
        if self.temporal == "fps" and info.fps <= 0:
            problems.append(f"{name}: frame rate unknown, cannot re-time with temporal=fps")
        else:
            indices = temporal_indices(self.temporal, num_frames, info.num_frames, info.fps, fps)
            if indices.max() >= info.num_frames:
                need = int(indices.max()) + 1
                problems.append(f"{name}: {info.num_frames} frames at {info.fps:g} fps, temporal={self.temporal} "
                                f"needs {need} for {num_frames} frames at {fps:g} fps")
        if self.check_fps and self.temporal != "fps" and abs(info.fps - fps) > 0.01 * fps:
            problems.append(f"{name}: {info.fps:g} fps but the protocol wants {fps:g} fps; use temporal=fps to "
                            "re-time, or check_fps=false to keep the source timing")
        if info.truncated:
            problems.append(f"{name}: truncated file: the container declares {info.declared_frames} frames, only "
                            f"{info.num_frames} can be decoded")
        if self.spatial == "none" and (info.height, info.width) != (height, width):
            problems.append(f"{name}: {info.width}x{info.height} but the protocol wants {width}x{height} "
                            "(spatial=none does not resize)")
        return problems

    def _problems(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float, height: int,
                  width: int) -> list[str]:
        if len(prompts) != len(seeds):
            return [f"{len(prompts)} prompts but {len(seeds)} seeds"]
        problems = list(self.problems)
        seen: dict[tuple[str, int], str] = {}
        missing, unreadable = [], []
        for prompt, seed in zip(prompts, seeds):
            key = self._key(prompt, seed)
            if key in seen:
                problems.append(f"prompt {prompt!r} seed {seed} is requested twice" if seen[key] == prompt else
                                f"prompts {seen[key]!r} and {prompt!r} have the same file name {key[0]!r}")
                continue
            seen[key] = prompt
            source = self.index.get(key)
            if source is not None and not _utf8_name(source.path):
                problems.append(f"{os.fsencode(source.path.name)!r}: file name is not valid UTF-8; rename the file")
                continue
            if key in self.duplicates:
                problems.append(f"duplicate video for prompt {key[0]!r} seed {key[1]}: "
                                + " and ".join(self.duplicates[key]))
            elif source is None:
                missing.append(f"no video for prompt {prompt!r} seed {seed}")
                continue
            info = self._probe(source.path)
            if isinstance(info, VideoReadError):
                unreadable.append(f"unreadable video {source.label}: {info.reason}")
            else:
                problems.extend(self._check_video(source, info, num_frames, fps, height, width))
        if missing:
            problems.insert(0, f"{len(missing)} of {len(seen)} requested videos missing "
                               f"(folder has {len(self.index)}, scheme {self.scheme})")
        return problems + missing + unreadable

    def validate(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float, height: int,
                 width: int) -> list[str]:
        """Every problem that stops these videos from being used, as one line each (empty list: all fine).

        When there is none, one VideoWarning names the videos whose clips repeat source frames heavily.
        """
        problems = self._problems(prompts, seeds, num_frames, fps, height, width)
        if not problems:
            self._warn_repetition(prompts, seeds, num_frames, fps)
        return problems

    def _warn_repetition(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float) -> None:
        """One VideoWarning for the requested videos whose clips repeat source frames heavily (slow sources)."""
        repeated = []
        for prompt, seed in dict.fromkeys(zip(prompts, seeds)):
            source = self.index.get(self._key(prompt, seed))
            info = self._probes.get(source.path) if source is not None else None
            if isinstance(info, VideoInfo) and (self.temporal != "fps" or info.fps > 0):
                how = heavy_repetition(temporal_indices(self.temporal, num_frames, info.num_frames, info.fps, fps))
                if how:
                    repeated.append(f"{source.path.name}: {how} ({info.fps:g} fps source, protocol {fps:g} fps)")
        if repeated:
            warnings.warn(f"{self.root}: heavy frame repetition in {len(repeated)} of {len(set(zip(prompts, seeds)))} "
                          f"requested video(s), e.g. {repeated[0]}", VideoWarning, stacklevel=3)

    # ---- generation -----------------------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float,
                 height: int, width: int) -> list[GeneratedVideo]:
        """Validate every requested video first (all problems in one error), then decode and resample each."""
        problems = self._problems(prompts, seeds, num_frames, fps, height, width)
        if problems:
            raise FolderValidationError(self.root, problems)
        videos = []
        for prompt, seed in zip(prompts, seeds):
            source = self.index[self._key(prompt, seed)]
            info = self._probes[source.path]
            assert isinstance(info, VideoInfo)
            indices = temporal_indices(self.temporal, num_frames, info.num_frames, info.fps, fps)
            frames = resize_frames(read_frames(source.path, indices), height, width, self.spatial)
            videos.append(GeneratedVideo(frames=frames, fps=fps, meta={
                "prompt": prompt, "seed": int(seed), "source": os.path.relpath(source.path, self.root),
                "source_sha256": sha256_file(source.path), "source_frames": info.num_frames,
                "source_fps": info.fps, "source_size": [info.height, info.width],
                "resample": self.resample_id}))
        return videos

    @property
    def resample_id(self) -> str:
        """The named resampling, e.g. `fps/resize-crop-bilinear-aa`."""
        spatial = self.spatial if self.spatial == "none" else f"{self.spatial}-bilinear-aa"
        return f"{self.temporal}/{spatial}"

    def describe(self) -> dict[str, Any]:
        """Folder, scheme, resampling, and a fingerprint of the index (matched names and file sizes)."""
        digest = hashlib.sha256()
        for key in sorted(self.index):
            source = self.index[key]
            size = source.path.stat().st_size if source.path.is_file() else -1
            digest.update(f"{key[0]}\0{key[1]}\0{source.path.name}\0{size}\n".encode("utf-8", "surrogateescape"))
        return {"name": self.name, "path": str(self.root.resolve()), "scheme": self.scheme,
                "manifest": str(self.manifest_path) if self.scheme == "manifest" else None,
                "prompts": str(self.prompts_path) if self.scheme == "prompt-order" else None,
                "seed_offset": self.seed_offset, "seed_match": self.seed_match, "resample": self.resample_id, "check_fps": self.check_fps,
                "num_videos": len(self.index), "index_sha256": digest.hexdigest()}
