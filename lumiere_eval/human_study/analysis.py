"""Analyse a 2AFC study: vigilance filtering, win rates, tests, position bias, Bradley-Terry, agreement.

Everything is computed by model chosen, never by side; side only enters the position-bias check.
"""
from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from lumiere_eval.human_study.results import ReadResult, Vote, counted_votes
from lumiere_eval.human_study.stats import (
    bradley_terry, holm_adjust, krippendorff_alpha_nominal, sign_test, wilson_interval,
)
from lumiere_eval.metrics.bootstrap import cluster_bootstrap


def analyze_study(study: dict, results_paths, vigilance_threshold: float = 0.8,
                  num_resamples: int = 1000, bt_prior: float = 0.5, seed: int = 0) -> dict:
    """The full analysis of one or several results CSVs (or folders of them) for `study` as a JSON-ready
    dict (see `analyze_votes`); quantities without data (no votes) are None, never NaN."""
    counted = counted_votes(results_paths, study, vigilance_threshold)
    read = counted.read
    report = analyze_votes(study, read, vigilance_threshold, num_resamples, bt_prior, seed)
    report["counts"]["unused"] = counted.unused
    report["results_files"] = read.files
    report["warnings"] = read.warnings
    return json_ready(report)


def analyze_votes(study: dict, read: ReadResult, vigilance_threshold: float = 0.8, num_resamples: int = 1000,
                  bt_prior: float = 0.5, seed: int = 0) -> dict:
    """Vigilance filter, then per model pair and question: win rate, Wilson and prompt-bootstrap intervals,
    sign test with Holm correction; per question: position bias, Bradley-Terry with bootstrap, alpha.

    Workers are judged on all their vigilance answers, rejected assignments included (a requester rejects
    exactly the failed checks); only then are rejected assignments and failed workers left out.
    """
    workers = _vigilance_by_worker(read.votes, vigilance_threshold)
    failed = {w for w, info in workers.items() if info["failed"]}
    comparison = [v for v in read.votes if v.kind == "comparison"]
    votes = [v for v in comparison if v.worker_id not in failed and not v.rejected
             and v.side != "same"]  # "same" answers are ties: `study leaderboard` models them
    questions = study["options"]["questions"]
    models = sorted(study["models"])
    comparisons = []
    for question in questions:
        for model_a, model_b in itertools.combinations(models, 2):
            comparisons.append(_comparison([v for v in votes if v.question == question
                                            and {v.chosen, v.other} == {model_a, model_b}],
                                           question, model_a, model_b, num_resamples, seed))
    for comparison_row, adjusted in zip(comparisons, holm_adjust([c["sign_test_p"] for c in comparisons])):
        comparison_row["holm_p"] = adjusted
    return {
        "study_id": study["study_id"],
        "counts": {"assignments_read": len(read.assignments),
                   "votes_read": sum(1 for v in read.votes if not v.rejected),
                   "votes_in_rejected_assignments": sum(1 for v in read.votes if v.rejected),
                   "comparison_votes_used": len(votes), "dropped": dict(read.dropped)},
        "problems": read.problems,
        "vigilance": {
            "threshold": vigilance_threshold,
            "workers": len(workers),
            "workers_checked": sum(1 for info in workers.values() if info["checks"]),
            "failed_workers": sorted(failed),
            "votes_removed": sum(1 for v in comparison if v.worker_id in failed and not v.rejected),
            "by_worker": workers,
        },
        "comparisons": comparisons,
        "position_bias": [_position_bias([v for v in votes if v.question == q], q) for q in questions],
        "bradley_terry": [_bradley_terry([v for v in votes if v.question == q], q, models, bt_prior,
                                         num_resamples, seed) for q in questions],
        "agreement": [{"question": q, "krippendorff_alpha": _alpha([v for v in votes if v.question == q])}
                      for q in questions],
        "options": {"vigilance_threshold": vigilance_threshold, "num_resamples": num_resamples,
                    "bt_prior": bt_prior, "seed": seed, "confidence": 0.95},
    }


def json_ready(value):
    """`value` with NaN and infinities as None and numpy scalars as Python numbers (valid, strict JSON)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _vigilance_by_worker(votes: list[Vote], threshold: float) -> dict[str, dict]:
    """Per worker: vigilance checks answered, how many right, accuracy, and whether below `threshold`."""
    checks: dict[str, list[bool]] = defaultdict(list)
    for vote in votes:
        outcomes = checks[vote.worker_id]  # every worker gets an entry, checked or not
        if vote.correct is not None:
            outcomes.append(vote.correct)
    workers = {}
    for worker, outcomes in sorted(checks.items()):
        accuracy = float(np.mean(outcomes)) if outcomes else None
        workers[worker] = {"checks": len(outcomes), "correct": int(sum(outcomes)), "accuracy": accuracy,
                           "failed": accuracy is not None and accuracy < threshold}
    return workers


def _comparison(votes: list[Vote], question: str, model_a: str, model_b: str, num_resamples: int,
                seed: int) -> dict:
    wins = sum(1 for v in votes if v.chosen == model_a)
    total = len(votes)
    by_prompt: dict[str, list[int]] = defaultdict(list)
    for vote in votes:
        by_prompt[vote.prompt].append(int(vote.chosen == model_a))
    clusters = [np.asarray(x, dtype=np.float64) for _, x in sorted(by_prompt.items())]
    return {
        "question": question, "model_a": model_a, "model_b": model_b, "wins_a": wins, "votes": total,
        "prompts": len(clusters),
        "win_rate_a": wins / total if total else float("nan"),
        "wilson_ci": list(wilson_interval(wins, total)),
        "bootstrap_ci_over_prompts": list(cluster_bootstrap(clusters, np.mean, num_resamples, seed=seed)),
        "sign_test_p": sign_test(wins, total),
    }


def _position_bias(votes: list[Vote], question: str) -> dict:
    left = sum(1 for v in votes if v.side == "left")
    return {"question": question, "left_choices": left, "votes": len(votes),
            "left_rate": left / len(votes) if votes else float("nan"),
            "wilson_ci": list(wilson_interval(left, len(votes))), "sign_test_p": sign_test(left, len(votes))}


def _win_matrix(votes: list[Vote], index: dict[str, int]) -> np.ndarray:
    wins = np.zeros((len(index), len(index)))
    for vote in votes:
        wins[index[vote.chosen], index[vote.other]] += 1
    return wins


def _bradley_terry(votes: list[Vote], question: str, models: list[str], prior: float, num_resamples: int,
                   seed: int) -> dict:
    index = {m: i for i, m in enumerate(models)}
    if not votes:
        return {"question": question, "models": models, "log_strength": None, "bootstrap_ci": None}
    scores = bradley_terry(_win_matrix(votes, index), prior=prior)
    by_prompt: dict[str, list[Vote]] = defaultdict(list)
    for vote in votes:
        by_prompt[vote.prompt].append(vote)
    per_prompt = np.stack([_win_matrix(by_prompt[p], index) for p in sorted(by_prompt)])
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(num_resamples):
        picked = rng.integers(0, len(per_prompt), size=len(per_prompt))
        samples.append(bradley_terry(per_prompt[picked].sum(axis=0), prior=prior))
    low, high = np.quantile(np.asarray(samples), [0.025, 0.975], axis=0)
    return {"question": question, "models": models, "log_strength": scores.tolist(),
            "bootstrap_ci": [[float(a), float(b)] for a, b in zip(low, high)], "prior": prior}


def _alpha(votes: list[Vote]) -> float | None:
    units: dict[str, list[str]] = defaultdict(list)
    for vote in votes:
        units[vote.pair_id].append(vote.chosen)
    alpha = krippendorff_alpha_nominal(list(units.values()))
    return None if np.isnan(alpha) else alpha


def write_report(report: dict, out: Path) -> list[Path]:
    """Write analysis.json (strict JSON: no NaN), analysis.md and the plots (win rates, Bradley-Terry) into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "analysis.json", out / "analysis.md"]
    written[0].write_text(json.dumps(json_ready(report), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    written[1].write_text(markdown_report(report), encoding="utf-8")
    written += _plots(report, out)
    return written


def _fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def markdown_report(report: dict) -> str:
    """The analysis as Markdown tables."""
    vig = report["vigilance"]
    lines = [f"# 2AFC study {report['study_id']}", "",
             f"Votes read: {report['counts']['votes_read']} from {report['counts']['assignments_read']} "
             f"assignments; comparison votes used: {report['counts']['comparison_votes_used']}.",
             f"Dropped: {json.dumps(report['counts']['dropped']) or '{}'}.", "",
             "## Vigilance", "",
             f"Workers: {vig['workers']} ({vig['workers_checked']} answered vigilance pairs). A worker is "
             f"removed below {vig['threshold']:.0%} correct vigilance answers: {len(vig['failed_workers'])} "
             f"removed ({', '.join(vig['failed_workers']) or 'none'}), {vig['votes_removed']} votes dropped.", "",
             "## Win rates (model A chosen over model B)", "",
             "| question | model A | model B | votes | prompts | win rate A | Wilson 95% | bootstrap 95% (prompts) "
             "| sign test p | Holm p |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in report["comparisons"]:
        lines.append(f"| {c['question']} | {c['model_a']} | {c['model_b']} | {c['votes']} | {c['prompts']} | "
                     f"{_fmt(c['win_rate_a'])} | [{_fmt(c['wilson_ci'][0])}, {_fmt(c['wilson_ci'][1])}] | "
                     f"[{_fmt(c['bootstrap_ci_over_prompts'][0])}, {_fmt(c['bootstrap_ci_over_prompts'][1])}] | "
                     f"{_fmt(c['sign_test_p'], 4)} | {_fmt(c['holm_p'], 4)} |")
    lines += ["", "## Position bias (share of votes for the left video)", "",
              "| question | votes | left rate | Wilson 95% | sign test p |", "|---|---|---|---|---|"]
    for p in report["position_bias"]:
        lines.append(f"| {p['question']} | {p['votes']} | {_fmt(p['left_rate'])} | "
                     f"[{_fmt(p['wilson_ci'][0])}, {_fmt(p['wilson_ci'][1])}] | {_fmt(p['sign_test_p'], 4)} |")
    lines += ["", "## Bradley-Terry log-strength (mean 0; bootstrap over prompts)", "",
              "| question | model | log-strength | 95% interval |", "|---|---|---|---|"]
    for bt in report["bradley_terry"]:
        if bt["log_strength"] is None:
            continue
        for model, score, ci in zip(bt["models"], bt["log_strength"], bt["bootstrap_ci"]):
            lines.append(f"| {bt['question']} | {model} | {_fmt(score)} | [{_fmt(ci[0])}, {_fmt(ci[1])}] |")
    lines += ["", "## Agreement (Krippendorff's alpha, nominal, over raters of the same pair)", ""]
    lines += [f"- {a['question']}: {_fmt(a['krippendorff_alpha'])}" for a in report["agreement"]]
    if report.get("warnings"):
        lines += ["", "## Warnings about the results files", ""] + [f"- {w}" for w in report["warnings"]]
    if report["problems"]:
        lines += ["", "## Rows with problems (header is row 1)", ""]
        lines += [f"- {kind}: {values}" for kind, values in report["problems"].items()]
    return "\n".join(lines) + "\n"


def _plots(report: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    comps = [c for c in report["comparisons"] if c["votes"]]
    if comps:
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(comps)))
        y = np.arange(len(comps))
        rates = [c["win_rate_a"] for c in comps]
        errors = np.array([[r - c["wilson_ci"][0], c["wilson_ci"][1] - r] for r, c in zip(rates, comps)]).T
        ax.errorbar(rates, y, xerr=errors, fmt="o", capsize=3)
        ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_yticks(y, [f"{c['question']}: {c['model_a']} vs {c['model_b']}" for c in comps])
        ax.set_xlim(0, 1)
        ax.set_xlabel("win rate of the first model (Wilson 95%)")
        fig.tight_layout()
        paths.append(out / "win_rates.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    bts = [bt for bt in report["bradley_terry"] if bt["log_strength"] is not None]
    if bts:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        width = 0.8 / len(bts)
        for k, bt in enumerate(bts):
            x = np.arange(len(bt["models"])) + k * width
            ci = np.asarray(bt["bootstrap_ci"])
            score = np.asarray(bt["log_strength"])
            ax.bar(x, score, width, yerr=np.stack([score - ci[:, 0], ci[:, 1] - score]), capsize=3,
                   label=bt["question"])
        ax.set_xticks(np.arange(len(bts[0]["models"])) + 0.4 - width / 2, bts[0]["models"])
        ax.set_ylabel("Bradley-Terry log-strength")
        ax.legend()
        fig.tight_layout()
        paths.append(out / "bradley_terry.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths
