"""`lumiere-eval compare RUN_A RUN_B`: paired differences of every metric, significance with a correction."""
from __future__ import annotations

import argparse
from pathlib import Path

from lumiere_eval.cli_types import float_range, int_range


def add_paired_test_options(p: argparse.ArgumentParser) -> None:
    """The paired test's options (`compare`, and `report`'s significance marks)."""
    p.add_argument("--alpha", type=float_range(0, 1, low_open=True, high_open=True), default=0.05,
                   help="significance level after the correction, in (0, 1)")
    p.add_argument("--correction", choices=("holm", "bh", "none"), default="holm",
                   help="multiple-comparison adjustment over all metrics (Holm, Benjamini-Hochberg, none)")
    p.add_argument("--bootstrap", type=int_range(100, 100000), default=1000,
                   help="paired bootstrap resamples, 100..100000")
    p.add_argument("--seed", type=int_range(0), default=0, help="seed of the resampling")
    p.add_argument("--no-motion", action="store_true", help="leave out the motion tier (computed on first use)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval compare`."""
    p.add_argument("run_a", type=Path, help="first run folder (A); differences are A - B")
    p.add_argument("run_b", type=Path, help="second run folder (B), same prompts and seeds as A")
    add_paired_test_options(p)
    p.add_argument("--rescore", action="store_true",
                   help="recompute what depends on sample videos changed after their run (features, per-sample and "
                        "motion scores) from the files as they are now, instead of refusing")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for compare.json and compare.md (default: print only)")


def run(args: argparse.Namespace) -> int:
    """Compare, print the table, and write it when --out is given."""
    from lumiere_eval.files import atomic_write_json, atomic_write_text
    from lumiere_eval.runner.compare import COMPARE_FILE, compare_markdown, compare_runs

    result = compare_runs(args.run_a, args.run_b, args.alpha, args.bootstrap, args.seed,
                          motion=not args.no_motion, correction=args.correction,
                          rescore=args.rescore)
    text = compare_markdown(result)
    print(text)
    if args.out:
        atomic_write_json(args.out / COMPARE_FILE, result)
        atomic_write_text(args.out / "compare.md", text)
        print(f"written: {args.out / COMPARE_FILE}, {args.out / 'compare.md'}")
    return 0
