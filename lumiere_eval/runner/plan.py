"""Sample sizes from a pilot: how many samples per model a paired comparison needs to detect a difference.

From two paired runs (same prompts and seeds): per metric, the standard deviation of the paired difference at
several N (compare's own tests: `paired.paired_set_interval` on nested subsets for set metrics, the per-sample
differences for per-sample scores), fitted to the 1/N variance scaling (`power.sd_per_sample`); for set metrics
the two models' bias in N (the slopes of their fits in 1/N, `extrapolation`), so the expected difference at N is
delta + (slope_A - slope_B) / N. That slope difference is reported, but used only with `use_bias`: from one
pilot it is mostly noise (tests/test_plan.py: -20.3 fitted where the truth is about 0, enough to move the planned N
by half). From one run and a target difference: the run's own standard deviations, times
sqrt(2) for a difference of two independent runs (pairing usually does better: this plans conservatively), and no
bias difference (the two models are assumed to share the run's slope). `power.samples_needed` turns that into N.
"""
from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.metrics import curves, extrapolation, paired, power
from lumiere_eval.runner.compare import (
    _usable,
    check_paired,
    per_sample_scores,
    set_statistics,
)
from lumiere_eval.runner.run_features import run_features
from lumiere_eval.runner.run_folder import load_records

_Z95 = NormalDist().inv_cdf(0.975)


def _sd(row: dict) -> float:
    return (row["ci_high"] - row["ci_low"]) / (2 * _Z95)


def _row(name: str, kind: str, n: int, delta: float | None, source: str, s: float, bias: float, alpha: float,
         target: float, n_min: int, extra: dict, use_bias: bool = False) -> dict:
    if delta is None or delta == 0:
        return {"metric": name, "kind": kind, "pilot_n": n, "planned_n": None, "delta": delta,
                "reason": "no difference to detect (give --difference NAME=VALUE)", **extra}
    used = bias if use_bias else 0.0
    planned = power.samples_needed(delta, s, alpha, target, used, n_min=n_min)
    return {"metric": name, "kind": kind, "pilot_n": n, "delta": delta, "delta_source": source,
            "sd_per_sample": s, "bias_slope_difference": bias, "bias_used": use_bias, "planned_n": planned,
            "power_at_pilot_n": float(power.power(n, delta, s, alpha, used)), **extra}


def plan_samples(run_a: Path, run_b: Path | None = None, differences: dict[str, float] | None = None,
                 alpha: float = 0.05, target: float = 0.8, num_resamples: int = 200, seed: int = 0,
                 start: int = 16, draws: int = 5, use_bias: bool = False) -> dict:
    """Per metric, the samples per model needed to detect `differences[name]` (A - B at infinite N; default the
    pilot's own) at level `alpha` with probability `target`; see the module docstring."""
    differences = dict(differences or {})
    if run_b is None and not differences:
        raise LumiereEvalError("a plan from one run needs --difference NAME=VALUE for each metric to plan")
    a = run_features(Path(run_a))
    b = None
    if run_b is not None:
        check_paired(load_records(Path(run_a)), load_records(Path(run_b)), str(run_a), str(run_b))
        b = run_features(Path(run_b))
    keep = np.flatnonzero(_usable(a) & (_usable(b) if b else True))
    sizes = [n for n in curves.curve_sizes(len(keep), start) if 4 * n >= len(keep)]  # where 1/N scaling holds
    sizes = sizes if len(sizes) >= 2 else [len(keep) // 2, len(keep)]
    order = np.random.default_rng(seed).permutation(len(keep))
    stats_a = set_statistics(a, keep)
    stats_b = set_statistics(b, keep) if b else {}
    rows = []
    for name, sa in stats_a.items():
        if b is None and name not in differences or b is not None and name not in stats_b:
            continue
        if b is not None:
            sb = stats_b[name]
            sds = [_sd(paired.paired_set_interval(n, lambda i, f=order[:n], g=sa: g(f[i]), lambda i, f=order[:n], g=sb: g(f[i]),
                                                  num_resamples, seed=seed)) for n in sizes]
            ea = extrapolation.extrapolate(len(keep), sa, sizes, draws, 0, seed=seed)
            eb = extrapolation.extrapolate(len(keep), sb, sizes, draws, 0, seed=seed)
            s, bias = power.sd_per_sample(sizes, sds), ea["slope"] - eb["slope"]
            pilot, source = ea["value"] - eb["value"], "pilot (extrapolated to infinite N)"
        else:
            points = curves.sample_size_curve(len(keep), sa, sizes, num_resamples, seed=seed)
            sds = [_sd(p) for p in points]
            s, bias, pilot, source = np.sqrt(2) * power.sd_per_sample(sizes, sds), 0.0, None, "given"
        delta = differences.get(name, pilot)
        rows.append(_row(name, "set", len(keep), delta, "given" if name in differences else source, s, bias, alpha,
                         target, sizes[0], {"sizes": sizes, "sds": sds}, use_bias))
    scores_a = per_sample_scores(Path(run_a), a.records, False, a)
    scores_b = per_sample_scores(Path(run_b), b.records, False, b) if b else {}
    for name, x in scores_a.items():
        if b is None and name not in differences or b is not None and name not in scores_b:
            continue
        if b is not None:
            y = scores_b[name]
            d = (x - y)[np.isfinite(x) & np.isfinite(y)]
            s, pilot = float(np.std(d, ddof=1)), float(d.mean())
        else:
            d = x[np.isfinite(x)]
            s, pilot = float(np.sqrt(2) * np.std(d, ddof=1)), None
        delta = differences.get(name, pilot)
        rows.append(_row(name, "per-sample", len(d), delta, "given" if name in differences else "pilot", s, 0.0,
                         alpha, target, 2, {}))
    unknown = sorted(set(differences) - {r["metric"] for r in rows})
    if unknown:
        raise LumiereEvalError(f"--difference names {', '.join(unknown)}, which the pilot run(s) do not hold")
    return {"run_a": str(run_a), "run_b": None if run_b is None else str(run_b), "alpha": alpha, "power": target,
            "paired": b is not None, "bias_used": use_bias, "metrics": rows}


def plan_markdown(plan: dict) -> str:
    """The plan as a Markdown table."""
    lines = [f"# Samples per model to detect a difference (power {plan['power']}, two-sided alpha {plan['alpha']})",
             "", "Pilot: " + (f"paired runs A = {plan['run_a']}, B = {plan['run_b']}" if plan["paired"] else
                             f"one run {plan['run_a']} (sd x sqrt(2) for two independent runs; equal bias assumed)"),
             "", "| metric | kind | difference A - B (at infinite N) | source | sd per sample | bias slope A - B | "
                 "power at pilot N | samples per model |", "|---|---|---|---|---|---|---|---|"]
    for r in plan["metrics"]:
        if r["planned_n"] is None and "reason" in r:
            lines.append(f"| {r['metric']} | {r['kind']} | - | - | - | - | - | {r['reason']} |")
            continue
        planned = r["planned_n"] if r["planned_n"] is not None else "> 10,000,000"
        lines.append(f"| {r['metric']} | {r['kind']} | {r['delta']:.4g} | {r['delta_source']} | "
                     f"{r['sd_per_sample']:.4g} | {r['bias_slope_difference']:.4g} | "
                     f"{r['power_at_pilot_n']:.2f} (N={r['pilot_n']}) | {planned} |")
    lines += ["", "A test at N rejects when |D_N| / (sd / sqrt N) > z; D_N has mean difference + bias slope / N. "
                  + ("The fitted bias slopes are used." if plan["bias_used"] else
                     "The fitted bias slopes (set metrics) are shown, not used: from one pilot they are mostly noise "
                     "(--bias fitted uses them).")
                  + " Plan at alpha / m for a Holm family of m metrics (compare's correction)."]
    return "\n".join(lines) + "\n"
