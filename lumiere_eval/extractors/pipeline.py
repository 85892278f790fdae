"""One decode pass feeds every requested extractor: each video is decoded once, each extractor gets its own
clip of it (its ClipSampling, or the whole video), and clips are batched per extractor."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from lumiere_eval.video import ClipSampling, read_video


@dataclass
class Request:
    """What one consumer wants from every video.

    `run(clips uint8 [b, T, H, W, 3], items: indices of those videos) -> rows [b or b*frames, D]`;
    `sampling=None` hands over the whole decoded video.
    """

    run: Callable[[np.ndarray, list[int]], np.ndarray]
    sampling: ClipSampling | None
    batch_size: int = 4


def extract_videos(paths: Sequence[str | os.PathLike], requests: dict[str, Request], keys: Sequence[str] | None = None,
                   progress: bool = True) -> dict[str, np.ndarray]:
    """Rows of every request for every video, in video order. `keys` seed the random clip offsets per video
    (default: the paths), so results do not depend on visiting order or batching."""
    from tqdm import tqdm

    keys = [str(p) for p in paths] if keys is None else list(keys)
    pending: dict[str, tuple[list[np.ndarray], list[int]]] = {name: ([], []) for name in requests}
    rows: dict[str, list[np.ndarray]] = {name: [] for name in requests}

    def flush(name: str) -> None:
        clips, items = pending[name]
        if clips:
            rows[name].append(np.asarray(requests[name].run(np.stack(clips), list(items))))
            pending[name] = ([], [])

    for item, path in enumerate(tqdm(paths, desc="decode+extract", unit="video", disable=not progress)):
        frames, _fps = read_video(path)
        for name, request in requests.items():
            sampling = request.sampling
            clip = frames if sampling is None else frames[sampling.indices(len(frames), path, keys[item])]
            clips, _ = pending[name]
            if clips and clips[0].shape != clip.shape:  # clips of one batch must stack
                flush(name)
            pending[name][0].append(clip)
            pending[name][1].append(item)
            if len(pending[name][0]) >= request.batch_size:
                flush(name)
    for name in requests:
        flush(name)
    return {name: np.concatenate(parts) if parts else np.zeros((0, 0)) for name, parts in rows.items()}
