"""A model-free check of text control of motion, usable before the in-domain classifier exists.

For the four direction classes (MoveLeft/Right/Up/Down) the object's centre of mass (pixels that differ from
the clip's per-pixel temporal median) is tracked; its mean displacement names the direction. The same
estimator applied to real clips gives the ceiling; chance is 25%.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from lumiere_eval.datasets.synthetic import SyntheticDomain

DIRECTIONS = {"MoveLeft": (-1, 0), "MoveRight": (1, 0), "MoveUp": (0, -1), "MoveDown": (0, 1)}


def centroid_track(frames: np.ndarray) -> np.ndarray:
    """Per-frame (x, y) centre of mass of |frame - temporal median| for uint8 [T, H, W, 3]."""
    diff = np.abs(frames.astype(np.float64) - np.median(frames, axis=0)).sum(-1)
    ys, xs = np.mgrid[: frames.shape[1], : frames.shape[2]]
    mass = diff.sum((1, 2)) + 1e-9
    return np.stack([(diff * xs).sum((1, 2)) / mass, (diff * ys).sum((1, 2)) / mass], 1)


def direction_of(frames: np.ndarray) -> str:
    """The direction class whose unit vector best matches the track's overall displacement."""
    track = centroid_track(frames)
    half = len(track) // 2
    move = track[half:].mean(0) - track[:half].mean(0)
    return max(DIRECTIONS, key=lambda name: float(np.dot(DIRECTIONS[name], move)))


def direction_clips(per_class: int) -> list[tuple[int, str, str]]:
    """(test index, class, caption) of `per_class` test clips of each direction class, one group after another."""
    domain = SyntheticDomain(16, 16, 16)
    out = []
    for name in DIRECTIONS:
        picked = sorted(((i, s) for i, s in enumerate(domain.specs("test")) if s.action == name),
                        key=lambda pair: (pair[1].clip, pair[1].group))[:per_class]
        out += [(i, name, s.caption) for i, s in picked]
    return out


def direction_accuracy(generate: Callable[[Sequence[str], Sequence[int]], list[np.ndarray]] | None,
                       per_class: int = 8) -> float:
    """Share of videos whose tracked direction matches the prompt; `generate=None` scores the real 16x16 clips.

    `generate(captions, seeds)` returns uint8 videos [T, H, W, 3]; seeds are 0, 1, 2, ...
    """
    clips = direction_clips(per_class)
    if generate is None:
        domain = SyntheticDomain(16, 16, 16)
        videos = [domain.sample(i, "test")[0] for i, _, _ in clips]
    else:
        videos = generate([caption for _, _, caption in clips], list(range(len(clips))))
    return float(np.mean([direction_of(v) == name for v, (_, name, _) in zip(videos, clips)]))
