"""What a set metric's interval costs at the protocols' sizes: pooled-t (R halves and 20 halves of each) against
half-sampling (R halves), one process, one thread, random features of the protocol's shape.

For each metric the statistic the run uses (`lumiere_eval.metrics.values.*_statistic`) goes through
`intervals.set_metric_interval` with a few halves (`--halves`, default 4) under each method; the time per
evaluation gives the projected time at the default `--bootstrap 200`. pooled-t evaluates the metric on halves of
halves (N/4 rows), which are cheaper than halves when the distance's cost falls with the row count (the Gram form
of the Frechet distance below D rows).

Run: OMP_NUM_THREADS=1 python benchmarks/bench_interval_cost.py [--halves 4]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine  # noqa: E402

from lumiere_eval.metrics import intervals, values  # noqa: E402
from lumiere_eval.metrics.protocols import get_fvd_protocol, get_is_protocol, get_jedi_protocol  # noqa: E402

DEFAULT_HALVES = 200  # the commands' --bootstrap default
# (metric, statistic, protocol, feature dim or classes, generated N, real N): the protocols' sizes
CASES = [("fvd", values.fvd_statistic, get_fvd_protocol("fvd2048_16f"), 400, 2048, 2048),
         ("kvd", values.kvd_statistic, get_fvd_protocol("fvd2048_16f"), 400, 2048, 2048),
         ("cdfvd", values.fvd_statistic, get_fvd_protocol("cdfvd2048_16f"), 1408, 2048, 2048),
         ("jedi", values.jedi_statistic, get_jedi_protocol("jedi5000_16f"), 1280, 5000, 5000),
         ("is", values.inception_statistic, get_is_protocol("is10k_tgan_ucf"), 101, 10000, 0)]


def measure(name, make_statistic, protocol, dim: int, n: int, n_real: int, halves: int) -> dict:
    """Seconds of each method's interval with `halves` halves, and projected to DEFAULT_HALVES."""
    rng = np.random.default_rng(0)
    if name == "is":
        logits = rng.normal(size=(n, dim)) * 2
        fake, real = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), None
    else:
        real, fake = rng.normal(size=(n_real, dim)), 0.2 + 1.1 * rng.normal(size=(n, dim))
    statistic = make_statistic(real, fake, protocol)
    estimate = statistic(np.arange(n))
    row = {"metric": name, "dim": dim, "n": n, "halves": halves}
    for method in (intervals.HALF_SAMPLING, intervals.POOLED_T):
        start = time.process_time()
        intervals.set_metric_interval(n, statistic, estimate, halves, method=method)
        seconds = time.process_time() - start
        row[method] = seconds
        row[f"{method} at {DEFAULT_HALVES}"] = seconds * DEFAULT_HALVES / halves
    row["ratio"] = row[intervals.POOLED_T] / row[intervals.HALF_SAMPLING]
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halves", type=int, default=4)
    args = parser.parse_args()
    rows = [measure(*case, args.halves) for case in CASES]
    lines = ["# interval_cost", "",
             f"Process time of one interval at the protocols' sizes (random features; {args.halves} halves "
             f"measured, projected linearly to --bootstrap {DEFAULT_HALVES}; one thread).", "",
             f"| metric | D | N | half-sampling at {DEFAULT_HALVES} | pooled-t at {DEFAULT_HALVES} | ratio |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['metric']} | {r['dim']} | {r['n']} | {r[f'half-sampling at {DEFAULT_HALVES}']:.1f} s | "
                     f"{r[f'pooled-t at {DEFAULT_HALVES}']:.1f} s | {r['ratio']:.1f} |")
    lines += ["", f"Machine: {json.dumps(machine())}"]
    (RESULTS / "interval_cost.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "interval_cost.json").write_text(json.dumps({"rows": rows, "machine": machine()}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
