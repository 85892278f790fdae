"""The feature stage's decode pipeline on real-size clips: decode throughput with 0 (in-process), 1 and 2 decode
workers, a whole `lumiere-eval metrics` FVD run with the real-size I3D serial against pipelined, peak memory of each,
and the decode cost as the work grows (50, 200, 800 videos).

Clips: the shared UCF101 clips re-encoded at 320x240 (MPEG-4 Part 2 in AVI, as UCF101's XviD), each from another
crop window resized back to 320x240, 48 frames. Decoding takes a random 16-frame clip of each, as the FVD protocol.
Every configuration runs in its own process; peak RSS is that process's (ru_maxrss) and, separately, the largest of
its decode workers (RUSAGE_CHILDREN). Load averages are recorded before and after each row (2 cores shared).

Run: python benchmarks/bench_feature_pipeline.py [--work DIR] [--sizes 50,200,800] [--i3d-videos 12]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucf101"  # ../shared beside the repo
FRAMES = 48


def make_clips(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """`n` 320x240 AVI clips, each a different crop of one of the shared UCF101 clips (reused if present)."""
    import cv2
    import numpy as np

    from lumiere_eval.video import read_video, write_video

    folder.mkdir(parents=True, exist_ok=True)
    sources = [read_video(p)[0][:FRAMES] for p in sorted(SHARED.glob("*.avi"))]
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"clip{i:04d}.avi"
        if not path.exists():
            frames = sources[i % len(sources)]
            h, w = frames.shape[1:3]
            ch, cw = int(h * rng.uniform(0.7, 0.95)), int(w * rng.uniform(0.7, 0.95))
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            crops = np.stack([cv2.resize(f[y:y + ch, x:x + cw], (320, 240), interpolation=cv2.INTER_AREA)
                              for f in frames])
            write_video(path, crops, fps=25.0)
        paths.append(path)
    return paths


def child_decode(folder: Path, n: int, workers: int) -> dict:
    """Decode a random 16-frame clip of the first `n` clips with `workers` decode processes (0: in-process)."""
    from lumiere_eval.runner.decode_pool import DecodePool, decode_serial
    from lumiere_eval.runner.features import prefetch_depth
    from lumiere_eval.video import ClipSampling

    paths = sorted(folder.glob("clip*.avi"))[:n]
    tasks = [(i, str(p), p.name) for i, p in enumerate(paths)]
    samplings = {"fvd": ClipSampling("random", 16)}
    errors = []

    def consume(stream) -> None:  # each clip dropped once taken, as the feature stage does after its block
        for _, (clips, err) in stream:
            if err is not None:
                errors.append(err)

    start = time.perf_counter()
    if workers == 0:
        consume(decode_serial(tasks, samplings, 2048 * 10**6))
    else:
        with DecodePool(workers, samplings, 2048 * 10**6, prefetch_depth(4, workers)) as pool:
            consume(pool.results(tasks))
    seconds = time.perf_counter() - start
    assert not errors, errors
    return {"seconds": seconds, "clips_per_s": n / seconds, **_peaks()}


def _peaks() -> dict:
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def metrics_run(work: Path, fake: Path, real: Path, weights: Path, workers: int) -> dict:
    """`lumiere-eval metrics` FVD with the real-size I3D (random weights, `i3d-native`) on a fresh cache."""
    cache = Path(tempfile.mkdtemp(dir=work, prefix="cache"))
    argv = [sys.executable, "-c", "import resource, sys, runpy; sys.argv = ['lumiere-eval'] + sys.argv[1:]; "
            "code = 0\ntry:\n    runpy.run_module('lumiere_eval', run_name='__main__')\nexcept SystemExit as e:\n"
            "    code = e.code or 0\nprint('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(code)",
            "metrics", "--fake", str(fake), "--real", str(real), "--metrics", "fvd", "--fvd-extractor", "i3d-native",
            "--i3d", str(weights), "--device", "cpu", "--bootstrap", "0", "--no-download", "--no-progress",
            "--cache-dir", str(cache), "--decode-workers", str(workers), "--out", str(cache / "metrics.json")]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    peak = next(line for line in proc.stdout.splitlines() if line.startswith("PEAK")).split()
    fvd = json.loads((cache / "metrics.json").read_text())["metrics"]["fvd"]["value"]
    return {"seconds": seconds, "peak_rss_mb": int(peak[1]) / 1024, "worker_peak_rss_mb": "not measured", "fvd": fvd}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--sizes", default="50,200,800")
    parser.add_argument("--i3d-videos", type=int, default=12)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_decode(Path(args.child[0]), int(args.child[1]), int(args.child[2]))))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_feature_pipeline_"))
    sizes = [int(s) for s in args.sizes.split(",")]
    clips = work / "clips"
    make_clips(clips, max(sizes + [200]))
    rows = []
    for n, workers in [(200, 0), (200, 1), (200, 2)] + [(n, w) for n in sizes if n != 200 for w in (0, 2)]:
        before = _load()
        row = run_child(str(clips), str(n), str(workers))
        rows.append({"part": "decode only", "videos": n, "decode_workers": workers, **row,
                     "load_before": before, "load_after": _load()})
        print(rows[-1], flush=True)
    import torch

    from lumiere_eval.extractors.i3d import InceptionI3d

    torch.manual_seed(0)
    weights = work / "i3d_random.pt"
    torch.save(InceptionI3d().state_dict(), weights)
    fake, real = work / "fake", work / "real"
    for side, offset in ((fake, 0), (real, args.i3d_videos)):
        side.mkdir(exist_ok=True)
        for p in sorted(clips.glob("clip*.avi"))[offset:offset + args.i3d_videos]:
            if not (side / p.name).exists():
                (side / p.name).symlink_to(p)
    for workers in (0, 1):
        before = _load()
        row = metrics_run(work, fake, real, weights, workers)
        rows.append({"part": "metrics fvd, I3D", "videos": 2 * args.i3d_videos, "decode_workers": workers,
                     "clips_per_s": 2 * args.i3d_videos / row["seconds"], **row, "load_before": before,
                     "load_after": _load()})
        print(rows[-1], flush=True)
    record("feature_pipeline", rows,
           "Decode only: a random 16-frame clip of each 320x240 AVI (48 frames; crops of the two shared UCF101 clips), "
           "decode_workers 0 = in the main process; one process per row. Metrics: `lumiere-eval metrics --metrics fvd "
           "--fvd-extractor i3d-native` (InceptionI3d, random weights, 16x224x224, 2 torch threads) on the first "
           f"{args.i3d_videos} clips as generated and the next {args.i3d_videos} as real, fresh cache, whole process "
           "wall time. peak_rss_mb: the main process; worker_peak_rss_mb (decode rows): the largest decode worker. Load averages "
           "(1, 5, 15 min) before and after each row: the 2 cores are shared with other sessions. No GPU here.")


if __name__ == "__main__":
    main()
