"""Stage 2: features of every video for every metric, from the content-keyed cache or computed once.

Each video is decoded once for all the extractors that still need it. A video that cannot be read is
reported (path and reason) and left out, or stops the run when `strict`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from lumiere_eval.runner.cache import FeatureCache
from lumiere_eval.video import ClipSampling, VideoReadError, read_video


@dataclass
class FeatureJob:
    """One extractor applied to one clip of every video.

    `kind` is "rows" (extractor.extract: one feature or probability row per clip) or "frames"
    (extractor.frame_embeddings: one embedding per sampled frame, for CLIP similarity).
    """

    name: str
    extractor: object
    sampling: ClipSampling | None
    kind: str = "rows"

    @property
    def config(self) -> dict:
        """What the cached rows depend on besides the video's content."""
        ex = self.extractor
        return {"extractor": ex.id, "weights_sha256": ex.weights.sha256, "protocol": ex.protocol,
                "clip": self.sampling.id if self.sampling else "whole", "kind": self.kind}

    def compute(self, clips: np.ndarray) -> np.ndarray:
        """Rows for a batch of clips `[B, T, H, W, 3]`: `[B, D]` or `[B, F, D]`."""
        if self.kind == "frames":
            return self.extractor.frame_embeddings(clips)
        return self.extractor.extract(clips)


@dataclass(frozen=True)
class VideoItem:
    """A video to featurise: path, content hash, and the key that seeds its random clip offset."""

    path: Path
    sha256: str
    key: str


def compute_features(items: list[VideoItem], jobs: list[FeatureJob], cache: FeatureCache, block_size: int,
                     owns_block: Callable[[int], bool] = lambda block: True, strict: bool = False,
                     progress: bool = True, desc: str = "features",
                     on_skip: Callable[[VideoItem, str], None] | None = None) -> dict[str, list[np.ndarray | None]]:
    """Per job, one row block per item (None where the video was unreadable or the block is not ours).

    Items are processed in fixed blocks `[k * block_size, (k + 1) * block_size)` of the item list, and a block
    with any missing row is recomputed whole. A row is therefore always computed in the same batch, so
    float round-off cannot differ between a single-process run, a sharded run and a resumed one.
    """
    from tqdm import tqdm

    keys = {job.name: [cache.key(item.sha256, job.config) for item in items] for job in jobs}
    out: dict[str, list[np.ndarray | None]] = {job.name: [cache.get(k) for k in keys[job.name]] for job in jobs}
    blocks = [range(start, min(start + block_size, len(items))) for start in range(0, len(items), block_size)]
    todo = [(k, block) for k, block in enumerate(blocks) if owns_block(k) and
            any(out[job.name][i] is None for job in jobs for i in block)]
    bar = tqdm(total=sum(len(b) for _, b in todo), desc=desc, unit="video", disable=not progress or not todo)
    for _, block in todo:
        decoded: dict[int, np.ndarray] = {}
        for i in block:
            try:
                decoded[i] = read_video(items[i].path)[0]
            except VideoReadError as err:
                if strict:
                    raise
                if on_skip is not None:
                    on_skip(items[i], err.reason)
        for job in jobs:
            if all(out[job.name][i] is not None for i in decoded):
                continue
            clips = {i: frames if job.sampling is None else
                     frames[job.sampling.indices(len(frames), items[i].path, items[i].key)]
                     for i, frames in decoded.items()}
            for shape in dict.fromkeys(c.shape for c in clips.values()):  # clips of one batch must stack
                members = [i for i, c in clips.items() if c.shape == shape]
                rows = job.compute(np.stack([clips[i] for i in members]))
                for i, row in zip(members, rows, strict=True):
                    cache.put(keys[job.name][i], row)
                    out[job.name][i] = row
        bar.update(len(block))
    bar.close()
    return out
