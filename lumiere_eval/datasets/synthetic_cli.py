"""`lumiere-eval synthetic ROOT`: write the synthetic action domain to disk in the UCF101 layout."""
from __future__ import annotations

import argparse

from lumiere_eval.cli_types import float_range, int_range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval synthetic`."""
    parser.add_argument("root", type=str, help="output folder (gets UCF-101/ and ucfTrainTestlist/)")
    parser.add_argument("--height", type=int_range(4), default=32, help="frame height in pixels (>= 4)")
    parser.add_argument("--width", type=int_range(4), default=32, help="frame width in pixels (>= 4)")
    parser.add_argument("--frames", type=int_range(2), default=16, help="frames per clip (>= 2)")
    parser.add_argument("--fps", type=float_range(0, low_open=True), default=8.0,
                        help="frame rate written into the files")
    parser.add_argument("--groups", type=int_range(2), default=25, help="groups per class (each fixes an appearance)")
    parser.add_argument("--clips-per-group", type=int_range(1), default=4, help="clips per group (motion parameters)")
    parser.add_argument("--test-groups", type=int_range(1), default=7, help="the first N groups form the test split")
    parser.add_argument("--extension", type=str, default=".avi", choices=(".avi", ".mp4", ".gif"),
                        help="video container to write")


def run(args: argparse.Namespace) -> int:
    """Render and write every clip of both splits, plus classInd/trainlist01/testlist01 and captions."""
    from lumiere_eval.datasets.synthetic import SyntheticDomain, write_ucf_layout

    domain = SyntheticDomain(args.height, args.width, args.frames, args.fps, args.groups, args.clips_per_group,
                             args.test_groups)
    root = write_ucf_layout(args.root, domain, extension=args.extension, progress=True)
    print(f"wrote {domain.split_size('train')} train and {domain.split_size('test')} test clips under {root}")
    return 0
