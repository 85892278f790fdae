"""The embedded default's set-metric intervals before (the old percentile bootstrap) and after (the registered
methods), on one finished run's cached features; the values must be unchanged bit for bit.

For every model folder of a `lumiere-eval ucf101` output (the embedded default), the run's cached feature rows
(`run_features`, nothing re-extracted) go through each set metric's registered compute function twice: with the
old `percentile_bootstrap` hook and with the metric's registered hook, both at the run's `--bootstrap` and
`--seed`. The registered interval must equal the one in the run's results.json, and both values the recorded
value exactly (==, not approximately).

Run: python benchmarks/bench_default_intervals.py OUT_DIR [--name default_intervals]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine  # noqa: E402

from lumiere_eval.metrics import registry  # noqa: E402
from lumiere_eval.runner.run_features import run_features  # noqa: E402


def _rows(blocks) -> np.ndarray:
    return np.stack([b for b in blocks if b is not None]).astype(np.float64)


def measure(folder: Path) -> list[dict]:
    """One row per set metric of the run at `folder`: recorded value and interval, old and new intervals."""
    run = run_features(folder, extract=False)
    protocols = run.config.protocols()
    rows = []
    for name, entry in run.results["metrics"].items():
        metric = registry.METRICS.get(name)
        if metric is None or metric.kind != "set" or metric.tier != "core":
            continue
        need = metric.features[0]
        real = _rows(run.real[need.job]) if "real" in need.sides else None
        fake = _rows(run.fake[need.job])
        compute = metric.compute_function()
        args = (real, fake, protocols.of_job(need.job), run.config.bootstrap, run.config.seed)
        old = compute(*args, registry.percentile_bootstrap)
        new = compute(*args, registry.interval_hook(name))
        rows.append({"model": folder.name, "metric": name, "n": len(fake), "value": entry["value"],
                     "value_unchanged": old["value"] == new["value"] == entry["value"],
                     "old_low": old["ci_low"], "old_high": old["ci_high"],
                     "old_contains": bool(old["ci_low"] <= entry["value"] <= old["ci_high"]),
                     "new_method": registry.INTERVAL_METHOD_NAMES[metric.interval],
                     "new_low": new["ci_low"], "new_high": new["ci_high"],
                     "recorded_equals_new": (entry["ci_low"], entry["ci_high"]) == (new["ci_low"], new["ci_high"])})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the output folder of `lumiere-eval ucf101` (embedded default)")
    parser.add_argument("--name", default="default_intervals")
    args = parser.parse_args()
    rows = [r for folder in sorted(p.parent for p in args.out.glob("*/results.json")) for r in measure(folder)]
    lines = [f"# {args.name}", "", f"Set-metric intervals of the embedded default ({args.out}), old percentile "
             "bootstrap against the registered method on the same cached features, the run's resamples and seed.",
             "", "| model | metric | N | value | old percentile | contains? | method | new interval | value unchanged "
             "| new = recorded |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['metric']} | {r['n']} | {r['value']:.2f} | [{r['old_low']:.2f}, "
                     f"{r['old_high']:.2f}] | {'yes' if r['old_contains'] else 'NO'} | {r['new_method']} | "
                     f"[{r['new_low']:.2f}, {r['new_high']:.2f}] | {r['value_unchanged']} | "
                     f"{r['recorded_equals_new']} |")
    lines += ["", f"Machine: {json.dumps(machine())}"]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps({"out": str(args.out), "rows": rows}, indent=1))
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
