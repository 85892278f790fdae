"""Every clip one video has to give, decoded in one pass of only the frames they need.

Whatever makes a video unusable for its clips (missing, corrupt, truncated, too large for the memory
bound, too short for a clip) is raised as one VideoReadError naming the video and the reason, so a caller
can list it in skipped.json and go on.
"""
from __future__ import annotations

import os

import numpy as np

from lumiere_eval.limits import DEFAULT_MAX_VIDEO_MB
from lumiere_eval.video.io import probe_video, read_frames, read_video
from lumiere_eval.video.sampling import ClipSampling


def read_clips(path: str | os.PathLike, samplings: dict[str, ClipSampling | None], key: str,
               strict_truncation: bool = True,
               max_bytes: int | None = DEFAULT_MAX_VIDEO_MB * 10**6) -> dict[str, np.ndarray]:
    """The clip of each named sampling (None: the whole video), uint8 `[T, H, W, 3]` each.

    Only the union of the clips' frames is decoded (the whole video when a sampling is None). A truncated
    file is an error when `strict_truncation` (a warning otherwise); more than `max_bytes` of frames is refused.
    """
    if any(s is None for s in samplings.values()):
        frames = read_video(path, strict_truncation, max_bytes)[0]
        return {name: frames if s is None else frames[s.indices(len(frames), path, key)]
                for name, s in samplings.items()}
    length = probe_video(path).num_frames
    indices = {name: s.indices(length, path, key) for name, s in samplings.items()}
    union = np.unique(np.concatenate(list(indices.values()))) if indices else np.zeros(0, np.int64)
    frames = read_frames(path, union, strict_truncation, max_bytes)
    position = {int(frame): k for k, frame in enumerate(union)}
    return {name: frames[[position[int(i)] for i in idx]] for name, idx in indices.items()}


def heavy_repetition(indices: np.ndarray) -> str | None:
    """How a clip repeats its source frames, when fewer than half of its frames are distinct; else None.

    A 0.5 fps source re-timed to 16 fps repeats each source frame 32 times: the clip is then a still.
    """
    indices = np.asarray(indices)
    distinct = len(np.unique(indices))
    if len(indices) < 2 or 2 * distinct >= len(indices):
        return None
    top = int(np.bincount(indices - indices.min()).max())
    return f"{len(indices)} frames from only {distinct} source frame(s), one repeated {top} times"
