"""`lumiere-eval motion RUN | FOLDER | VIDEO...`: the weight-free motion tier (OpenCV flow, VBench's rules).

What a folder is (a run folder, or a plain folder of videos as `metrics` takes) is `video.folders.folder_kind`."""
from __future__ import annotations

import argparse
from pathlib import Path

from lumiere_eval.cli_types import int_range


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval motion`."""
    p.add_argument("paths", type=Path, nargs="+",
                   help="a run folder (writes RUN/motion.json), a plain folder of videos, or video files")
    p.add_argument("--bootstrap", type=int_range(0), default=200,
                   help="bootstrap resamples for the intervals (0: none)")
    p.add_argument("--seed", type=int_range(0), default=0, help="seed of the bootstrap")
    p.add_argument("--out", type=Path, default=None, help="JSON file for the scores of video files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--rescore", action="store_true",
                   help="run folder: score sample videos changed after the run as they are now, instead of refusing")


def run(args: argparse.Namespace) -> int:
    """Score the run or the videos and print the summary."""
    from lumiere_eval import LumiereEvalError
    from lumiere_eval.runner.motion_tier import MOTION_FILE, run_motion, score_paths
    from lumiere_eval.video.folders import folder_kind, folder_videos

    folder = args.paths[0] if len(args.paths) == 1 and args.paths[0].is_dir() else None
    if folder is not None and folder_kind(folder) == "run":
        from lumiere_eval.runner.run_features import run_features

        embeddings = run_features(folder, rescore=args.rescore).fake.get("clipsim")
        result = run_motion(folder, args.bootstrap, args.seed, progress=not args.no_progress,
                            frame_embeddings=embeddings, rescore=args.rescore)
        written = folder / MOTION_FILE
    else:
        if folder is not None:
            paths, unusable = folder_videos(folder)
            if not paths and not unusable:
                raise LumiereEvalError(f"{folder}: neither a run folder (no samples.jsonl) nor a folder of videos")
        else:
            dirs = [str(p) for p in args.paths if p.is_dir()]
            if dirs:
                raise LumiereEvalError(f"give one folder, or video files: {', '.join(dirs)} is a folder")
            paths, unusable = args.paths, {}
        result = score_paths(paths, None, args.bootstrap, args.seed, progress=not args.no_progress,
                             unusable=unusable)
        written = args.out
        if args.out:
            from lumiere_eval.files import atomic_write_json

            atomic_write_json(args.out, result)
    for name, m in result["summary"].items():
        interval = "" if m["ci_low"] is None else f" [{m['ci_low']:.4f}, {m['ci_high']:.4f}]"
        reading = {True: "higher is better", False: "lower is better", None: "compare with real clips"}
        print(f"{name}: {m['value']:.4f}{interval} ({reading[m['higher_is_better']]}, n={m['n']})")
    for left in result.get("left_out", []):
        print(f"left out: {left['path'] if 'path' in left else 'sample ' + str(left['sample'])}: {left['reason']}")
    if written:
        print(f"written: {written}")
    return 0
