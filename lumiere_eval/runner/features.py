"""Stage 2: features of every video for every metric, from the content-keyed cache or computed once.

Each video is decoded once for all the extractors that still need it. A video that cannot be read is
reported (path and reason) and left out, or stops the run when `strict`.
"""
from __future__ import annotations

import multiprocessing
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.runner.cache import FeatureCache
from lumiere_eval.runner.decode_pool import (MIN_VIDEOS_FOR_POOL, DecodePool, decode_serial, decode_video,
                                             default_workers)
from lumiere_eval.runner.progress import PhaseProgress
from lumiere_eval.video import ClipSampling, VideoReadError
from lumiere_eval.limits import DEFAULT_MAX_VIDEO_MB

FEATURE_BLOCK = 4  # default videos per extractor call of both `metrics` and `ucf101`


@dataclass
class FeatureJob:
    """One extractor applied to one clip of every video.

    `kind` is "rows" (extractor.extract: one feature or probability row per clip), "frames"
    (extractor.frame_embeddings: one embedding per sampled frame, for CLIP similarity) or "frame_rows" (a
    per-frame extractor's rows grouped per clip, `[F, D]`, for frame FID). `frames` picks clip frames first.
    """

    name: str
    extractor: object
    sampling: ClipSampling | None
    kind: str = "rows"
    frames: tuple[int, ...] | None = None

    @property
    def config(self) -> dict:
        """What the cached rows depend on besides the video's content."""
        ex = self.extractor
        return {"extractor": ex.id, "weights_sha256": ex.weights.sha256, "protocol": ex.protocol,
                "clip": self.sampling.id if self.sampling else "whole", "kind": self.kind,
                **({"frames": list(self.frames)} if self.frames is not None else {})}

    def compute(self, clips: np.ndarray) -> np.ndarray:
        """Rows for a batch of clips `[B, T, H, W, 3]`: `[B, D]` or `[B, F, D]`."""
        if self.frames is not None:
            clips = clips[:, list(self.frames)]
        if self.kind == "frames":
            return self.extractor.frame_embeddings(clips)
        rows = self.extractor.extract(clips)
        return rows.reshape(len(clips), -1, rows.shape[-1]) if self.kind == "frame_rows" else rows


@dataclass(frozen=True)
class VideoItem:
    """A video to featurise: path, content hash, and the key that seeds its random clip offset."""

    path: Path
    sha256: str
    key: str


def compute_features(items: list[VideoItem], jobs: list[FeatureJob], cache: FeatureCache, block_size: int,
                     owns_block: Callable[[int], bool] = lambda block: True, strict: bool = False,
                     progress: bool = True, desc: str = "features",
                     on_skip: Callable[[VideoItem, str], None] | None = None,
                     max_video_mb: float = DEFAULT_MAX_VIDEO_MB, decode_workers: int | None = None,
                     decode: Callable = decode_video) -> dict[str, list[np.ndarray | None]]:
    """Per job, one row block per item (None where the video was unusable or the block is not ours).

    A video that is unreadable, truncated, too short for a clip, above `max_video_mb` of decoded frames, whose
    decoder process died, or whose features come out NaN/infinite is passed to `on_skip` with the reason, or
    stops the run when `strict`.

    Items are processed in fixed blocks `[k * block_size, (k + 1) * block_size)` of the item list, and a block
    with any missing row is recomputed whole. A row is therefore always computed in the same batch, so
    float round-off cannot differ between a single-process run, a sharded run and a resumed one; the block
    size is part of the cache key, so rows computed in other blocks are never mixed in.

    `decode_workers` processes (None: decode_pool.default_workers; 0: in this process) decode the videos of
    the next blocks while the extractors run the current one; clips arrive in item order, so the rows are the
    same for any number of workers. `decode` is the per-video decoder every worker runs.
    """
    keys = {job.name: [cache.key(item.sha256, _key_config(job, item, block_size)) for item in items] for job in jobs}
    out = cached_features(items, jobs, cache, block_size)
    blocks = [range(start, min(start + block_size, len(items))) for start in range(0, len(items), block_size)]
    todo = [(k, block) for k, block in enumerate(blocks) if owns_block(k) and
            any(out[job.name][i] is None for job in jobs for i in block)]
    tasks = [(i, str(items[i].path), items[i].key) for _, block in todo for i in block]
    if not tasks:
        return out
    bar = PhaseProgress(len(tasks), desc, enabled=progress)

    def skip(i: int, reason: str) -> None:
        if strict:
            raise LumiereEvalError(f"{items[i].path}: {reason}")
        if on_skip is not None:
            on_skip(items[i], reason)

    with _decoded_stream(tasks, jobs, int(max_video_mb * 10**6), block_size, decode_workers, decode) as stream:
        for _, block in todo:
            start = time.perf_counter()
            decoded: dict[int, dict[str, np.ndarray]] = {}
            for i in block:
                _, (clips, err) = next(stream)
                if err is None:
                    decoded[i] = clips
                elif strict or not isinstance(err, VideoReadError):
                    raise err  # the decoder's own error, naming the video
                else:
                    skip(i, err.reason)
            network_start = time.perf_counter()
            for job in jobs:
                if all(out[job.name][i] is not None for i in decoded):
                    continue
                clips = {i: parts[job.name] for i, parts in decoded.items()}
                for shape in dict.fromkeys(c.shape for c in clips.values()):  # clips of one batch must stack
                    members = [i for i, c in clips.items() if c.shape == shape]
                    members, rows = finite_rows(job, members, clips, skip)
                    for i, row in zip(members, rows, strict=True):
                        cache.put(keys[job.name][i], row)
                        out[job.name][i] = row
            bar.update(len(block), network_start - start, time.perf_counter() - network_start)
    bar.close()
    return out


def cached_features(items: list[VideoItem], jobs: list[FeatureJob], cache: FeatureCache,
                    block_size: int) -> dict[str, list[np.ndarray | None]]:
    """Per job, the cached row block of every item (None where absent or of the wrong shape, which is named in a
    CacheEntryWarning): what `compute_features` starts from, without decoding or extracting anything."""
    out: dict[str, list[np.ndarray | None]] = {}
    for job in jobs:
        keys = [cache.key(item.sha256, _key_config(job, item, block_size)) for item in items]
        out[job.name] = [cache.get(k) for k in keys]
        cache.drop_misshapen(out[job.name], keys, 1 if job.kind == "rows" else 2)
    return out


@contextmanager
def _decoded_stream(tasks: list, jobs: list[FeatureJob], max_bytes: int, block_size: int, workers: int | None,
                    decode: Callable):
    """`(index, (clips, error))` of every task in order: from a DecodePool, or in this process."""
    samplings = {job.name: job.sampling for job in jobs}
    if workers is None:
        device = str(getattr(jobs[0].extractor, "device", "cpu")) if jobs else "cpu"
        workers = default_workers(device) if len(tasks) >= MIN_VIDEOS_FOR_POOL else 0
    if workers and multiprocessing.current_process().daemon:
        workers = 0  # a daemonic process (a generation worker of `--workers`) may not start decode processes
    if workers == 0:
        yield iter(decode_serial(tasks, samplings, max_bytes, decode))
        return
    with DecodePool(workers, samplings, max_bytes, prefetch_depth(block_size, workers), decode) as pool:
        yield iter(pool.results(tasks))


def prefetch_depth(block_size: int, workers: int) -> int:
    """Videos decoded ahead at most: the next two blocks and one per worker."""
    return 2 * block_size + workers


def _key_config(job: FeatureJob, item: VideoItem, block_size: int) -> dict:
    """What a cached row depends on besides the video's content: the job, the block size and, for a random clip
    (its offset is seeded by the video's key), the key."""
    config = job.config | {"block": block_size}
    if job.sampling is not None and job.sampling.strategy == "random":
        config["video_key"] = item.key
    return config


def finite_rows(job: FeatureJob, members: list[int], clips: dict[int, np.ndarray],
                skip: Callable[[int, str], None]) -> tuple[list[int], np.ndarray]:
    """Rows of `members` computed as one batch; a clip whose features are NaN or infinite is found by itself,
    passed to `skip` and the batch recomputed without it (so the other rows never depend on it)."""
    from lumiere_eval.extractors.base import ExtractorInputError

    try:
        rows = job.compute(np.stack([clips[i] for i in members]))
        bad = [i for i, row in zip(members, rows, strict=True) if not np.isfinite(row).all()]
    except ExtractorInputError as err:
        if "NaN" not in str(err):
            raise
        if len(members) == 1:
            bad = members
        else:
            bad = [i for i in members if not _finite_alone(job, clips[i])]
    if not bad:
        return members, rows
    for i in bad:
        skip(i, f"{job.name}: extractor {job.extractor.id} gave NaN or infinite features")
    good = [i for i in members if i not in bad]
    return finite_rows(job, good, clips, skip) if good else ([], np.zeros((0,)))


def _finite_alone(job: FeatureJob, clip: np.ndarray) -> bool:
    from lumiere_eval.extractors.base import ExtractorInputError

    try:
        return bool(np.isfinite(job.compute(clip[None])).all())
    except ExtractorInputError:
        return False
