"""The default run's statistics: the motion tier on every model and on the real held-out clips, paired
comparisons between the models, and sample-size curves; the claims of the report are read from them.

Writes, under the default run's folder: `<model>/motion.json`, `<model>/sample_size.json|png`,
`paired/<a>_vs_<b>/compare.json|md`, and `statistics.json` / `statistics.md` (the section the report shows).
A claim ("moves most", "flickers least", "most consistent") names the leading model and says whether
its paired difference to every other model is significant after the Holm correction of that comparison.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from lumiere_eval.files import atomic_write_json, atomic_write_text
from lumiere_eval.metrics.intervals import interval_text
from lumiere_eval.runner.compare import compare_markdown, compare_runs, run_curves
from lumiere_eval.runner.motion_tier import run_motion, score_paths
from lumiere_eval.runner.run_features import run_features

# What the report claims, from which motion-tier score, and the reading of a larger value.
CLAIMS = [("moves most", "motion_magnitude_dis", True), ("flickers least", "temporal_flickering", True),
          ("is most temporally consistent (warping error)", "warping_error_dis", False),
          ("has the smoothest motion", "motion_smoothness_flowinterp", True)]
TABLE = ["dynamic_degree_dis", "motion_magnitude_dis", "camera_motion_dis", "object_motion_dis",
         "temporal_flickering", "motion_smoothness_flowinterp", "warping_error_dis",
         "clip_consistency_consecutive", "clip_consistency_first"]
# The paired tables the report shows: lumiere against each baseline (every pair is in statistics.json).
REPORTED_PAIRS = ("lumiere", ("keyframe-cascade", "per-frame-t2i"))


def _cell(metric: dict | None, digits: int = 4) -> str:
    if not metric:
        return "-"
    return f"{metric['value']:.{digits}f}" + interval_text(metric["value"], metric.get("ci_low"),
                                                          metric.get("ci_high"), f".{digits}f")


def write_statistics(out: Path, models: list[str], real_paths: list[Path], bootstrap: int = 1000,
                     seed: int = 0, alpha: float = 0.05) -> str:
    """Run the motion tier, the paired comparisons and the curves for the default run; return statistics.md."""
    out = Path(out)
    features = {m: run_features(out / m) for m in models}
    tiers = {m: run_motion(out / m, seed=seed, frame_embeddings=features[m].fake.get("clipsim")) for m in models}
    motion = {m: tier["summary"] for m, tier in tiers.items()}
    real = score_paths([Path(p) for p in real_paths], features[models[0]].config.cache_dir, seed=seed)
    paired = {}
    for a, b in itertools.combinations(models, 2):
        result = compare_runs(out / a, out / b, alpha, bootstrap, seed, features=(features[a], features[b]))
        folder = out / "paired" / f"{a}_vs_{b}"
        atomic_write_json(folder / "compare.json", result)
        atomic_write_text(folder / "compare.md", compare_markdown(result))
        paired[(a, b)] = result
    curves = {m: run_curves(out / m, num_resamples=50, seed=seed, features=features[m]) for m in models}
    stats = {"motion": motion, "real_test_motion": real["summary"], "claims": claims(motion, paired, alpha),
             "clip_consistency": tiers[models[0]]["clip_consistency"],
             "paired": {f"{a}_vs_{b}": r for (a, b), r in paired.items()},
             "sample_size_warnings": {m: c["warnings"] for m, c in curves.items()}}
    atomic_write_json(out / "statistics.json", stats)
    text = statistics_markdown(stats, models, len(real_paths))
    atomic_write_text(out / "statistics.md", text)
    return text


def _pair(paired: dict, a: str, b: str, metric: str) -> dict | None:
    """The comparison row of `metric` oriented as a - b, from whichever order it was computed in."""
    if (a, b) in paired:
        return paired[(a, b)]["metrics"].get(metric)
    row = paired.get((b, a), {}).get("metrics", {}).get(metric)
    if row is None:
        return None
    flipped = {"A": "B", "B": "A"}
    return row | {"difference": -row["difference"], "ci_low": -row["ci_high"], "ci_high": -row["ci_low"],
                  "better": flipped.get(row["better"], row["better"])}


def claims(motion: dict, paired: dict, alpha: float = 0.05) -> list[dict]:
    """Per claim: the leading model and, against each other model, the paired difference and its significance."""
    out = []
    for claim, metric, higher in CLAIMS:
        values = {m: s[metric]["value"] for m, s in motion.items() if metric in s}
        if len(values) < 2:
            continue
        leader = max(values, key=values.get) if higher else min(values, key=values.get)
        against = {}
        for other in values:
            if other != leader and (row := _pair(paired, leader, other, metric)) is not None:
                against[other] = {k: row[k] for k in ("difference", "ci_low", "ci_high", "p_adjusted", "significant")}
        out.append({"claim": claim, "metric": metric, "leader": leader, "value": values[leader], "against": against,
                    "alpha": alpha,
                    "holds": bool(against) and all(r["significant"] for r in against.values())})
    return out


def statistics_markdown(stats: dict, models: list[str], num_real: int) -> str:
    """The report section: motion-tier table beside the real clips, the claims, paired comparisons, warnings."""
    lines = ["## Motion tier (weight-free: OpenCV DIS flow and VBench's rules; our numbers, not VBench's)", "",
             "Mean per video with a 95% bootstrap interval. Motion magnitudes are in percent of the frame side per "
             "frame step; temporal_flickering and motion_smoothness: higher is steadier/smoother; warping_error: "
             "lower is more consistent. See docs/motion.md for the definitions and the calibration.", "",
             "| model | " + " | ".join(TABLE) + " |", "|---|" + "---|" * len(TABLE)]
    for name, summary in list(stats["motion"].items()) + [(f"real held-out clips ({num_real})",
                                                           stats["real_test_motion"])]:
        lines.append(f"| {name} | " + " | ".join(_cell(summary.get(k)) for k in TABLE) + " |")
    if not any("clip_consistency_first" in summary for summary in stats["motion"].values()):
        lines += ["", f"clip_consistency_*: not available ({stats['clip_consistency']})."]
    lines += ["", "### Claims (paired, Holm-corrected)", ""]
    for c in stats["claims"]:
        parts = [f"vs {o}: {r['difference']:+.4f}{interval_text(r['difference'], r['ci_low'], r['ci_high'], '+.4f')}, "
                 f"p_adj {r['p_adjusted']:.3g}{'' if r['significant'] else ' (not significant)'}"
                 for o, r in c["against"].items()]
        verdict = "holds" if c["holds"] else f"does not hold against every model at alpha {c['alpha']}"
        real = stats["real_test_motion"].get(c["metric"], {}).get("value")
        beside = "" if real is None else f", real clips {real:.4f}"
        lines.append(f"- **{c['leader']}** {c['claim']} ({c['metric']} {c['value']:.4f}{beside}); {verdict}: "
                     + "; ".join(parts))
    lead, others = REPORTED_PAIRS
    lines += ["", "### Paired comparisons (same prompts and seeds; A - B, 95% paired bootstrap, Holm over all "
                  "metrics)", ""]
    for key, result in stats["paired"].items():
        a, b = key.split("_vs_")
        if lead not in (a, b) or not ({a, b} & set(others)):
            continue
        lines += [f"**{a} (A) vs {b} (B)**", "", *compare_markdown(result).splitlines()[4:], ""]
    warnings = [f"- {m}: {w}" for m, ws in stats["sample_size_warnings"].items() for w in ws]
    lines += ["### Sample size", "", "A metric has settled when it moved from N/2 to N by at most the half-width of "
              "its interval at N (`lumiere-eval curves`; curves in each model's sample_size.png).", ""]
    lines += warnings or ["- every set metric settled at the N used"]
    return "\n".join(lines) + "\n"
