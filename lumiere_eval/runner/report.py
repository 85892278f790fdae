"""Markdown summary of a run, placed beside the paper's published Table 1 (labelled published, not re-measured)."""
from __future__ import annotations

from pathlib import Path

from lumiere_eval.files import atomic_write_text
from lumiere_eval.metrics.intervals import interval_text
from lumiere_eval.runner.evaluation import shortfall_text
from lumiere_eval.runner.skips import warning_text

# Lumiere (Bar-Tal et al. 2024), Table 1: zero-shot UCF101. FVD lower is better, IS higher is better.
PUBLISHED_TABLE_1 = [
    ("MagicVideo", 655.00, None), ("Emu Video", 606.20, 42.70), ("Video LDM", 550.61, 33.45),
    ("Show-1", 394.46, 35.42), ("Make-A-Video", 367.23, 33.00), ("PYoCo", 355.19, 47.76),
    ("SVD", 242.02, None), ("Lumiere", 332.49, 37.54),
]


def _fmt(metric: dict | None) -> str:
    if not metric:
        return "-"
    text = f"{metric['value']:.2f}" + interval_text(metric["value"], metric.get("ci_low"), metric.get("ci_high"))
    if metric.get("std_over_splits") is not None:
        text += f" (± {metric['std_over_splits']:.2f} over {metric['splits']} splits)"
    return text


def write_summary(path: Path, results: dict) -> None:
    """Write `summary.md`: this run's numbers with 95% intervals, provenance, and the published rows."""
    m = results["metrics"]
    synthetic = results["domain"] != "ucf101"
    lines = [f"# {results['model']['name']} on {results['protocol_id']}", ""]
    if synthetic:
        lines += ["> **SYNTHETIC DOMAIN.** These numbers come from the embedded synthetic action domain with",
                  "> in-domain evaluators trained by this project. They are NOT UCF101 numbers and cannot be",
                  "> compared with the published rows below.", ""]
    if results["unverified_weights"]:
        lines += [f"> Computed with unverified weights: {', '.join(results['unverified_weights'])}.", ""]
    lines += ["| metric | value [95% interval] | better | extractor |", "|---|---|---|---|"]
    better = {True: "higher", False: "lower", None: "neither"}
    for name, metric in m.items():
        source = (f"{metric['extractor']['id']} ({metric['clip']})" if "extractor" in metric else metric["protocol"])
        lines.append(f"| {name.upper()} | {_fmt(metric)} | {better[metric['higher_is_better']]} | {source} |")
    methods = {name: metric["interval_method"] for name, metric in m.items() if metric.get("interval_method")}
    if methods:
        lines += ["", "Interval methods (docs/statistics.md): "
                  + "; ".join(f"{name.upper()} {method}" for name, method in methods.items()) + "."]
    if results.get("short_of_protocol"):
        lines += ["", f"> **Short of protocol: {shortfall_text(results['short_of_protocol'])}.**"]
    s = results["samples"]
    lines += ["", f"Samples: {s['generated']} of {s['planned']} generated; real clips: {results['real_set']['clips']} "
                  f"({results['real_set']['split']}, {results['real_set']['sampling']}, hash "
                  f"{results['real_set']['hash']}); prompts: {results['prompt_suite']['name']} "
                  f"({results['prompt_suite']['hash']}); commit {results['provenance']['git_commit']}.", ""]
    if results["skipped_videos"]:
        lines += [f"Skipped {len(results['skipped_videos'])} unreadable video(s): see skipped.json.", ""]
    if warning_text(results.get("skipped_fraction", {})):
        lines += [f"> **{warning_text(results['skipped_fraction'])}.**", ""]
    lines += ["## Published zero-shot UCF101 results (Lumiere paper, Table 1; published, not re-measured)", "",
              "| method | FVD (lower is better) | IS (higher is better) |", "|---|---|---|"]
    lines += [f"| {name} | {fvd:.2f} | {'-' if is_ is None else f'{is_:.2f}'} |" for name, fvd, is_ in
              PUBLISHED_TABLE_1]
    if not synthetic:
        lines.append(f"| **this run: {results['model']['name']}** | {_fmt(m.get('fvd'))} | {_fmt(m.get('is'))} |")
    lines += ["", "Published numbers used about 10k generated videos, FVD on I3D (16 frames), IS on C3D; a run "
                  "with fewer samples has a larger FVD (FVD is biased upward at small N)."]
    atomic_write_text(path, "\n".join(lines) + "\n")
