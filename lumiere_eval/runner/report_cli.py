"""`lumiere-eval report RUN... [--baseline RUN]`: one table of every run's metrics, for a paper."""
from __future__ import annotations

import argparse
from pathlib import Path

from lumiere_eval.runner.compare_cli import add_paired_test_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval report`."""
    p.add_argument("runs", type=Path, nargs="+", help="finished run folders, one row each")
    p.add_argument("--baseline", type=Path, default=None,
                   help="run folder every other run is compared with (paired test of `compare`); default: no marks")
    p.add_argument("--format", choices=("md", "latex", "csv", "json"), default="md", help="output format")
    p.add_argument("--out", type=Path, default=None, help="file to write the table to (default: print it)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated columns, in order (default: every core metric the runs hold)")
    add_paired_test_options(p)
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
