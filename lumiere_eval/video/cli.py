"""`lumiere-eval video-info`: decode videos and print what the harness sees in them."""
from __future__ import annotations

import argparse
import json

from lumiere_eval.video.io import read_video


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `video-info`."""
    parser.add_argument("paths", nargs="+", help="video files to decode")


def run(args: argparse.Namespace) -> int:
    """Print one JSON line per video: path, frames, height, width, fps (a bad file stops with its reason)."""
    for path in args.paths:
        frames, fps = read_video(path)
        print(json.dumps({"path": path, "frames": int(frames.shape[0]), "height": int(frames.shape[1]),
                          "width": int(frames.shape[2]), "fps": round(fps, 4)}))
    return 0
