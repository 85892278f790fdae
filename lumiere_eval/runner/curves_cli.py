"""`lumiere-eval curves RUN`: each set metric at increasing sample counts, with intervals and a settled check."""
from __future__ import annotations

import argparse
from pathlib import Path

from lumiere_eval.cli_types import int_range


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval curves`."""
    p.add_argument("run", type=Path, help="a finished run folder")
    p.add_argument("--bootstrap", type=int_range(4), default=50, help="bootstrap draws per sample size (>= 4)")
    p.add_argument("--start", type=int_range(4), default=64, help="smallest sample size (then doubled up to all)")
    p.add_argument("--draws", type=int_range(1), default=5,
                   help="random subsets per size averaged for the extrapolation to infinite N (FVD, KVD, cd-FVD, FID)")
    p.add_argument("--seed", type=int_range(0), default=0, help="seed of the subsets and draws")
    p.add_argument("--rescore", action="store_true",
                   help="featurise sample videos changed after the run as they are now, instead of refusing")


def run(args: argparse.Namespace) -> int:
    """Write RUN/sample_size.json and RUN/sample_size.png and print the warnings; exit 0 either way."""
    from lumiere_eval.metrics.intervals import interval_text
    from lumiere_eval.runner.compare import CURVES_FILE, run_curves

    result = run_curves(args.run, args.bootstrap, args.seed, args.start, rescore=args.rescore,
                        draws=args.draws)
    for name, m in result["metrics"].items():
        points = ", ".join(f"N={p['n']}: {p['value']:.4g}{interval_text(p['value'], p['ci_low'], p['ci_high'], '.4g')}"
                           for p in m["points"])
        print(f"{name}: {points}")
        if "extrapolation" in m:
            e = m["extrapolation"]
            print(f"{name} at infinite N: {e['value']:.4g}{interval_text(e['value'], e['ci_low'], e['ci_high'], '.4g')} "
                  f"(slope {e['slope']:.4g} per 1/N; {e['label']})")
    for warning in result["warnings"]:
        print(f"WARNING: {warning}")
    print(f"written: {args.run / CURVES_FILE}, {args.run / 'sample_size.png'}")
    return 0
