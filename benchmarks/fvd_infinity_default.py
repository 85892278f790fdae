"""FVD at each curve point and extrapolated to infinite N, on the embedded default's runs; do the rankings agree?

    lumiere-eval curves RUNS/lumiere   (and the other models; writes RUN/sample_size.json)
    python benchmarks/fvd_infinity_default.py RUNS/lumiere RUNS/keyframe-cascade RUNS/per-frame-t2i \
        --out reports/demo/fvd_infinity.md

Reads each run's sample_size.json (written by `lumiere-eval curves`) and tabulates, per model: FVD at each curve
size (the curve's value: the first N of one permutation, with its half-sampling interval), the mean over the
extrapolation's random subsets at that size, and FVD-infinity with its interval; then the model ranking at each N
and at infinity.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def table(runs: list[Path], metric: str = "fvd") -> str:
    """The Markdown report for `runs`."""
    data = {}
    for run in runs:
        curves = json.loads((run / "sample_size.json").read_text())["metrics"][metric]
        data[run.name] = curves
    sizes = [p["n"] for p in next(iter(data.values()))["points"]]
    lines = [f"# {metric.upper()} at each sample size and extrapolated to infinite N (embedded default, SYNTHETIC domain)",
             "", "Cells: the curve's value [95% half-sampling interval] / the mean over the extrapolation's random "
             "subsets of that size. FVD-infinity: least-squares fit of the subset means against 1/N, intercept "
             "[95% half-sampling interval of the whole procedure]; an extrapolation, not the protocol's number.", "",
             "| model | " + " | ".join(f"N={n}" for n in sizes) + " | infinite N (extrapolated) | slope |",
             "|" + "---|" * (len(sizes) + 3)]
    for name, m in data.items():
        e = m["extrapolation"]
        cells = [f"{p['value']:.2f} [{p['ci_low']:.2f}, {p['ci_high']:.2f}] / {q['mean_value']:.2f}"
                 for p, q in zip(m["points"], e["points"])]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {e['value']:.2f} [{e['ci_low']:.2f}, {e['ci_high']:.2f}]"
                     f" | {e['slope']:.0f} |")
    lines += ["", "Ranking (lower is better):", ""]
    for k, n in enumerate(sizes):
        for source, key in (("curve value", "points"), ("subset mean", "extrapolation")):
            pts = {name: (m[key] if key == "points" else m[key]["points"])[k] for name, m in data.items()}
            order = sorted(pts, key=lambda name: pts[name]["value" if key == "points" else "mean_value"])
            lines.append(f"- N={n} ({source}): {' < '.join(order)}")
    order = sorted(data, key=lambda name: data[name]["extrapolation"]["value"])
    lines.append(f"- infinite N (extrapolated): {' < '.join(order)}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--metric", default="fvd")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    text = table(args.runs, args.metric)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
