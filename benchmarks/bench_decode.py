"""Decode throughput of 16-frame clips: decord (frame-accurate batch access) against PyAV (decode and keep).

Run: python benchmarks/bench_decode.py  (uses the real UCF101 clips in ../shared when present)
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, record  # noqa: E402

from lumiere_eval.video import ClipSampling, read_clip, write_video  # noqa: E402
from lumiere_eval.video.io import _decord_reader  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucf101"


def pyav_clip(path: Path, indices: np.ndarray) -> np.ndarray:
    """Decode from the start with PyAV until the last wanted frame, keeping the wanted ones."""
    wanted, last, frames = set(indices.tolist()), int(indices.max()), []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames.append(frame.to_ndarray(format="rgb24"))
            if i >= last:
                break
    return np.stack(frames)


def decord_clip(path: Path, indices: np.ndarray) -> np.ndarray:
    """decord's get_batch on exactly the wanted frames."""
    return _decord_reader(path).get_batch(indices.tolist()).asnumpy()


def main() -> None:
    files = sorted(SHARED.glob("*.avi"))
    if not files:
        rng = np.random.default_rng(0)
        tmp = Path(tempfile.gettempdir()) / "lumiere_eval_bench_decode.mp4"
        write_video(tmp, rng.integers(0, 256, (120, 240, 320, 3), dtype=np.uint8), 25)
        files = [tmp]
    rows = []
    for sampling in (ClipSampling("first", 16), ClipSampling("center", 16), ClipSampling("random", 16, 3, seed=0)):
        clips = [(f, sampling.indices(len(_decord_reader(f)), key=f.name)) for f in files]
        reps = 5
        t_decord = best_time(lambda: [decord_clip(f, i) for f, i in clips for _ in range(reps)])
        t_pyav = best_time(lambda: [pyav_clip(f, i) for f, i in clips for _ in range(reps)])
        t_ours = best_time(lambda: [read_clip(f, sampling, key=f.name) for f, _ in clips for _ in range(reps)])
        mismatch = max(float(np.abs(decord_clip(f, i).astype(int) - pyav_clip(f, i)).mean()) for f, i in clips)
        n = len(clips) * reps
        rows.append({"clip": sampling.id, "decord_clips_per_s": n / t_decord, "pyav_clips_per_s": n / t_pyav,
                     "read_clip_clips_per_s": n / t_ours, "decord_over_pyav": t_pyav / t_decord,
                     "mean_abs_pixel_diff": mismatch})
    record("decode", rows, f"16-frame clips from {', '.join(f.name for f in files)} (320x240 XviD AVI); "
                           "mean_abs_pixel_diff compares the two decoders' frames (0..255 scale); "
                           "read_clip = probe + decord get_batch.")


if __name__ == "__main__":
    main()
