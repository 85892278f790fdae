"""`lumiere-eval video-info`: what the harness sees in videos, read from their headers and index."""
from __future__ import annotations

import argparse
import json
import sys

from lumiere_eval.video.io import VideoReadError, probe_video


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `video-info`."""
    parser.add_argument("paths", nargs="+", help="video files to inspect")


def run(args: argparse.Namespace) -> int:
    """One JSON line per video: path, decodable frames, declared frames, truncated, size, decode size, fps, fps_declared.

    A video that cannot be read prints its reason on stderr; the exit code is 1 if any could not be read.
    Nothing is decoded at full size: memory stays small whatever the frame size.
    """
    failed = 0
    for path in args.paths:
        try:
            info = probe_video(path)
        except VideoReadError as err:
            print(f"lumiere-eval video-info: error: {err}", file=sys.stderr)
            failed += 1
            continue
        if info.truncated:
            print(f"lumiere-eval video-info: warning: {path}: truncated file: the container declares "
                  f"{info.declared_frames} frames, only {info.num_frames} can be decoded", file=sys.stderr)
        if info.fps_note:
            print(f"lumiere-eval video-info: warning: {path}: {info.fps_note}", file=sys.stderr)
        print(json.dumps({"path": path, "frames": info.num_frames, "declared_frames": info.declared_frames,
                          "truncated": info.truncated, "height": info.height, "width": info.width,
                          "decode_size": list(info.decode_size), "fps": round(info.fps, 4),
                          "fps_declared": info.fps_note is None}))
    return 1 if failed else 0
