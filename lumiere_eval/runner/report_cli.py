"""`lumiere-eval report RUN... [--baseline RUN]`: one table of every run's metrics, for a paper."""
from __future__ import annotations

import argparse
from pathlib import Path

from lumiere_eval.cli_types import float_range, int_range


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval report`."""
    p.add_argument("runs", type=Path, nargs="+", help="finished run folders, one row each")
    p.add_argument("--baseline", type=Path, default=None,
                   help="run folder every other run is compared with (paired test of `compare`); default: no marks")
    p.add_argument("--format", choices=("md", "latex", "csv", "json"), default="md", help="output format")
    p.add_argument("--out", type=Path, default=None, help="file to write the table to (default: print it)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated columns, in order (default: every core metric the runs hold)")
    p.add_argument("--alpha", type=float_range(0, 1, low_open=True, high_open=True), default=0.05,
                   help="significance level of the marks after the correction, as `compare`")
    p.add_argument("--correction", choices=("holm", "bh", "none"), default="holm",
                   help="multiple-comparison adjustment over each pair's metrics, as `compare`")
    p.add_argument("--bootstrap", type=int_range(100, 100000), default=1000,
                   help="paired resamples of the test, as `compare`")
    p.add_argument("--seed", type=int_range(0), default=0, help="seed of the paired resampling, as `compare`")
    p.add_argument("--no-motion", action="store_true",
                   help="leave the motion tier out of each pair's test family (as `compare --no-motion`)")
    p.add_argument("--no-published", action="store_true", help="leave out the paper's published Table 1 rows")


def run(args: argparse.Namespace) -> int:
    """Build the table, print it or write it to --out."""
    from lumiere_eval.files import atomic_write_text
    from lumiere_eval.runner.results_table import build_table
    from lumiere_eval.runner.table_formats import render

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    table = build_table(args.runs, args.baseline, metrics, args.alpha, args.correction, args.bootstrap, args.seed,
                        motion=not args.no_motion, published=not args.no_published)
    text = render(table, args.format)
    if args.out:
        atomic_write_text(args.out, text)
        print(f"written: {args.out}")
    else:
        print(text, end="")
    return 0
