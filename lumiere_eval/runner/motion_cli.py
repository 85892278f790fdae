"""`lumiere-eval motion RUN | VIDEO...`: the weight-free motion tier (OpenCV flow, VBench's rules)."""
from __future__ import annotations

import argparse
from pathlib import Path

from lumiere_eval.cli_types import int_range


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval motion`."""
    p.add_argument("paths", type=Path, nargs="+", help="a run folder (writes RUN/motion.json), or video files")
    p.add_argument("--bootstrap", type=int_range(0), default=200,
                   help="bootstrap resamples for the intervals (0: none)")
    p.add_argument("--seed", type=int_range(0), default=0, help="seed of the bootstrap")
    p.add_argument("--out", type=Path, default=None, help="JSON file for the scores of video files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Score the run or the videos and print the summary."""
    from lumiere_eval import LumiereEvalError
    from lumiere_eval.runner.motion_tier import MOTION_FILE, run_motion, score_paths

    if len(args.paths) == 1 and args.paths[0].is_dir():
        result = run_motion(args.paths[0], args.bootstrap, args.seed, progress=not args.no_progress)
        written = args.paths[0] / MOTION_FILE
    else:
        missing = [str(p) for p in args.paths if not p.is_file()]
        if missing:
            raise LumiereEvalError(f"not a video file or run folder: {', '.join(missing)}")
        result = score_paths(args.paths, None, args.bootstrap, args.seed, progress=not args.no_progress)
        written = args.out
        if args.out:
            from lumiere_eval.files import atomic_write_json

            atomic_write_json(args.out, result)
    for name, m in result["summary"].items():
        interval = "" if m["ci_low"] is None else f" [{m['ci_low']:.4f}, {m['ci_high']:.4f}]"
        reading = {True: "higher is better", False: "lower is better", None: "compare with real clips"}
        print(f"{name}: {m['value']:.4f}{interval} ({reading[m['higher_is_better']]}, n={m['n']})")
    for path in result.get("left_out", []):
        print(f"left out (unreadable, or under 3 frames): {path}")
    if written:
        print(f"written: {written}")
    return 0
