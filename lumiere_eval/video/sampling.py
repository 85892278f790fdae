"""Clip sampling: which frames of a video make the clip an extractor sees. Named, seeded, frame-accurate."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.video.io import VideoReadError, probe_video, read_frames

STRATEGIES = ("first", "center", "random")


@dataclass(frozen=True)
class ClipSampling:
    """Take `num_frames` frames `stride` apart: from the start, the centre, or a seeded random offset.

    The random offset depends on `seed` and on a per-video `key` (e.g. its path relative to the data root),
    never on the order in which videos are visited, so shards and reruns agree.
    """

    strategy: str
    num_frames: int
    stride: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise LumiereEvalError(f"clip sampling strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}")
        if self.num_frames < 1 or self.stride < 1:
            raise LumiereEvalError(f"clip sampling needs num_frames >= 1 and stride >= 1, got "
                                   f"num_frames={self.num_frames}, stride={self.stride}")

    @property
    def span(self) -> int:
        """How many consecutive source frames the clip covers."""
        return (self.num_frames - 1) * self.stride + 1

    @property
    def id(self) -> str:
        """A name that changes whenever the chosen frames can change, e.g. `random16s1seed0`."""
        name = f"{self.strategy}{self.num_frames}s{self.stride}"
        return name + (f"seed{self.seed}" if self.strategy == "random" else "")

    def start(self, length: int, path: str | os.PathLike = "", key: str = "") -> int:
        """First frame index of the clip in a video of `length` frames; too short a video is an error."""
        if length < self.span:
            raise VideoReadError(path or "<video>", f"has {length} frames; clip {self.id} needs at least {self.span}")
        room = length - self.span
        if self.strategy == "first":
            return 0
        if self.strategy == "center":
            return room // 2
        # the key as the file system's bytes: a non-UTF-8 file name (surrogate escapes) hashes too, others as before
        digest = hashlib.sha256(f"{self.seed}:".encode() + os.fsencode(key)).digest()
        return int(np.random.default_rng(int.from_bytes(digest[:8], "little")).integers(0, room + 1))

    def indices(self, length: int, path: str | os.PathLike = "", key: str = "") -> np.ndarray:
        """Frame indices of the clip in a video of `length` frames."""
        return self.start(length, path, key) + self.stride * np.arange(self.num_frames)


def parse_clip_sampling(text: str) -> ClipSampling:
    """Parse an id such as `first16s1`, `center16s2` or `random16s1seed0` back into a ClipSampling."""
    import re

    match = re.fullmatch(r"(first|center|random)(\d+)s(\d+)(?:seed(\d+))?", text)
    if not match:
        raise LumiereEvalError(f"clip sampling {text!r} is not of the form "
                               "first16s1 | center16s1 | random16s1seed0")
    strategy, n, stride, seed = match.groups()
    return ClipSampling(strategy, int(n), int(stride), int(seed or 0))


def read_clip(path: str | os.PathLike, sampling: ClipSampling, key: str = "") -> np.ndarray:
    """Decode only the frames of the clip: uint8 `[num_frames, H, W, 3]`."""
    length = probe_video(path).num_frames
    return read_frames(path, sampling.indices(length, path, key or str(path)))
