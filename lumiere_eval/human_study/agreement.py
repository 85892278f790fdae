"""Would an automatic metric have told you what people said? Metric-human agreement on the user's own study.

Two figures per metric and question, each with a bootstrap interval over prompts:
- pairwise accuracy: the share of compared video pairs (or, for a set metric, model pairs) where the metric
  prefers the model the human majority preferred (pairs without a majority are left out; a metric tie
  counts one half);
- Kendall's tau (tau-b) between the metric's ranking of the models (the mean of a per-video metric over the
  study's videos, or the set metric's value) and the people's Bradley-Terry (Davidson) ranking.
Per-video metrics are the per-sample fields of a run's samples.jsonl (CLIPSIM, the IS probability of the
prompted class) and the motion tier's per-sample scores (motion.json, with their directions); set metrics
(FVD, IS, ...) come from results.json, one value per model.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lumiere_eval.files import SAMPLES_FILE
from lumiere_eval.human_study.leaderboard import PairedVotes, fit
from lumiere_eval.human_study.sources import StudyInputError, load_run_folder
from lumiere_eval.metrics.record import read_samples
from lumiere_eval.metrics.registry import per_sample_directions

# per-sample fields of samples.jsonl whose direction the metric registry knows; others need --metric NAME=higher|lower
PER_VIDEO_DIRECTIONS = per_sample_directions()
_NOT_METRICS = {"index", "seed"}


@dataclass
class MetricTable:
    """Metric values of the study's models: per video {metric: {(model, prompt, seed): value}} and per model
    {metric: {model: value}}, with each metric's direction (True = higher is better)."""

    per_video: dict[str, dict[tuple[str, str, int], float]] = field(default_factory=dict)
    per_model: dict[str, dict[str, float]] = field(default_factory=dict)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def load_metrics(specs: list[str], directions: dict[str, bool] | None = None) -> MetricTable:
    """Metric values of run folders given as PATH or NAME=PATH (the names the study knows the models by)."""
    known = {**PER_VIDEO_DIRECTIONS, **(directions or {})}
    table = MetricTable()
    skipped: set[str] = set()
    for spec in specs:
        name, _, path_text = spec.rpartition("=") if "=" in spec else ("", "", spec)
        folder = Path(path_text)
        model = load_run_folder(folder, name or None)[0].model
        by_index: dict[int, dict] = {}
        for row in read_samples(folder / SAMPLES_FILE):  # checked by load_run_folder's read already
            by_index[row["index"]] = row
            for key, value in row.items():
                if key in _NOT_METRICS or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                if key not in known:
                    skipped.add(key)
                    continue
                table.per_video.setdefault(key, {})[(model, row["prompt"], row["seed"])] = float(value)
                table.higher_is_better[key] = known[key]
        skipped |= _motion_scores(folder, model, by_index, known, table)
        results = folder / "results.json"
        if results.is_file():
            try:
                metrics = json.loads(results.read_text(encoding="utf-8")).get("metrics", {})
            except json.JSONDecodeError as err:
                raise StudyInputError(f"{results}: not valid JSON ({err.msg})") from None
            for metric, entry in metrics.items():
                if isinstance(entry, dict) and isinstance(entry.get("value"), (int, float)):
                    direction = entry.get("higher_is_better", known.get(metric))
                    if direction is None:
                        skipped.add(metric)
                        continue
                    table.per_model.setdefault(metric, {})[model] = float(entry["value"])
                    table.higher_is_better[metric] = bool(direction)
    table.skipped = sorted(skipped - set(table.higher_is_better))
    return table


def _motion_scores(folder: Path, model: str, by_index: dict[int, dict], known: dict[str, bool],
                   table: MetricTable) -> set[str]:
    """Per-video motion-tier scores of a run (motion.json: per_sample by sample index, summary with each
    score's direction); returns the scores without a direction."""
    path = folder / "motion.json"
    if not path.is_file():
        return set()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise StudyInputError(f"{path}: not valid JSON ({err.msg})") from None
    directions = {name: entry.get("higher_is_better") for name, entry in data.get("summary", {}).items()
                  if isinstance(entry, dict)}
    directions = {name: known.get(name, d) for name, d in directions.items()}
    for index, scores in (data.get("per_sample") or {}).items():
        row = by_index.get(int(index))
        for name, value in (scores or {}).items():
            if row is None or directions.get(name) is None or not isinstance(value, (int, float)):
                continue
            table.per_video.setdefault(name, {})[(model, str(row["prompt"]), int(row["seed"]))] = float(value)
            table.higher_is_better[name] = bool(directions[name])
    return {name for name, d in directions.items() if d is None}


@dataclass(frozen=True)
class StudyVotes:
    """The votes of one question and, per vote, the compared videos' (prompt, seed)."""

    votes: PairedVotes
    prompts: list[str]   # prompt text of each prompt cluster index
    seeds: np.ndarray    # the seed of each vote's videos


def study_votes(votes: list, models: list[str], study: dict) -> StudyVotes:
    """`StudyVotes` from study `Vote`s (one question, comparisons only, vigilance-filtered) of `study`."""
    from lumiere_eval.human_study.leaderboard import paired_votes

    paired = paired_votes(votes, models)
    seed_of = {p["pair_id"]: int(p["seed"]) for p in study["pairs"]}
    seeds = np.array([seed_of[v.pair_id] for v in votes], dtype=np.int64)
    return StudyVotes(votes=paired, prompts=sorted({v.prompt for v in votes}), seeds=seeds)


def _majorities(study: StudyVotes, weights: np.ndarray) -> dict[tuple[int, int, int, int], int]:
    """Per compared (prompt, seed, a, b) with a < b: +1 if the weighted majority chose a, -1 if b (no entry
    for an even split; ties count for neither)."""
    v = study.votes
    score: dict[tuple, float] = defaultdict(float)
    for k in range(len(v.first)):
        a, b = sorted((int(v.first[k]), int(v.second[k])))
        key = (int(v.prompt[k]), int(study.seeds[k]), a, b)
        if v.tie[k]:
            score[key] += 0.0
        else:
            score[key] += weights[k] * (1.0 if int(v.first[k]) == a else -1.0)
    return {key: int(np.sign(s)) for key, s in score.items() if s != 0}


def _video_accuracy(study: StudyVotes, values: dict, higher: bool, draw: np.ndarray) -> tuple[float, int]:
    """Pairwise accuracy over compared video pairs, each counted as often as its prompt was drawn (`draw`:
    multiplicity per prompt cluster); and the number of distinct pairs counted."""
    models = study.votes.models
    hits, total, count = 0.0, 0.0, 0
    for (p, seed, a, b), majority in _majorities(study, draw[study.votes.prompt]).items():
        key_a, key_b = (models[a], study.prompts[p], seed), (models[b], study.prompts[p], seed)
        if key_a not in values or key_b not in values:
            continue
        difference = (values[key_a] - values[key_b]) * (1.0 if higher else -1.0)
        hits += draw[p] * (0.5 if difference == 0 else float(np.sign(difference) == majority))
        total += draw[p]
        count += 1
    return (hits / total if count else float("nan")), count


def _model_accuracy(wins: np.ndarray, scores: np.ndarray) -> tuple[float, int]:
    """Share of model pairs where the metric's order agrees with the human majority (win count > loss count)."""
    hits, count = 0.0, 0
    n = len(scores)
    for a in range(n):
        for b in range(a + 1, n):
            if wins[a, b] == wins[b, a]:
                continue
            count += 1
            difference = scores[a] - scores[b]
            hits += 0.5 if difference == 0 else float((difference > 0) == (wins[a, b] > wins[b, a]))
    return (hits / count if count else float("nan")), count


def _tau(metric_scores: np.ndarray, human: np.ndarray) -> float:
    from scipy.stats import kendalltau

    valid = ~np.isnan(metric_scores)
    if valid.sum() < 2:
        return float("nan")
    return float(kendalltau(metric_scores[valid], human[valid]).statistic)


def _metric_scores(values: dict, models: tuple[str, ...], videos: dict, higher: bool) -> np.ndarray:
    """Mean per-video value of each model over `videos` ({(prompt, seed): times drawn}), signed so higher is
    better."""
    sign = 1.0 if higher else -1.0
    out = []
    for model in models:
        found = [(values[(model, p, s)], n) for (p, s), n in videos.items() if (model, p, s) in values]
        out.append(sign * float(np.average([v for v, _ in found], weights=[n for _, n in found]))
                   if found else float("nan"))
    return np.asarray(out)


def agreement(study: StudyVotes, metrics: MetricTable, prior: float = 0.5, num_resamples: int = 200,
              seed: int = 0, confidence: float = 0.95) -> dict:
    """Pairwise accuracy and Kendall's tau of every metric against the people, with bootstrap intervals
    over prompts (the same resamples for every metric)."""
    v = study.votes
    models = v.models
    num_prompts = len(study.prompts)
    rng = np.random.default_rng(seed)
    draws = [np.ones(num_prompts)] + [np.bincount(rng.integers(0, num_prompts, num_prompts), minlength=num_prompts)
                                      .astype(np.float64) for _ in range(num_resamples)]
    rows: dict[str, list] = defaultdict(list)
    human_strengths = []
    for k, draw in enumerate(draws):
        weights = draw[v.prompt]
        wins, ties = v.counts(weights)
        strengths = fit(wins, ties, prior, ties_model=bool(ties.sum() > 0)).log_strength
        human_strengths.append(strengths)
        videos = {(study.prompts[p], int(s)): float(draw[p]) for p, s in zip(v.prompt, study.seeds) if draw[p] > 0}
        for name, values in metrics.per_video.items():
            higher = metrics.higher_is_better[name]
            accuracy, count = _video_accuracy(study, values, higher, draw)
            rows[name].append((accuracy, count, _tau(_metric_scores(values, models, videos, higher), strengths)))
        for name, values in metrics.per_model.items():
            sign = 1.0 if metrics.higher_is_better[name] else -1.0
            scores = np.array([sign * values.get(m, np.nan) for m in models])
            accuracy, count = _model_accuracy(wins, scores)
            rows[f"{name} (per model)" if name in metrics.per_video else name].append(
                (accuracy, count, _tau(scores, strengths)))
    alpha = (1.0 - confidence) / 2.0

    def interval(values: list[float]) -> list[float | None]:
        finite = np.asarray([x for x in values if not np.isnan(x)])
        return [None, None] if not len(finite) else np.quantile(finite, [alpha, 1 - alpha]).tolist()

    table = []
    for name, values in rows.items():
        base = name.removesuffix(" (per model)")
        kind = "per-video" if name in metrics.per_video else "per-model"
        point = values[0]
        table.append({"metric": name, "kind": kind, "higher_is_better": metrics.higher_is_better[base],
                      "pairs": point[1], "pairwise_accuracy": _none(point[0]),
                      "accuracy_interval": interval([x[0] for x in values[1:]]),
                      "kendall_tau": _none(point[2]), "tau_interval": interval([x[2] for x in values[1:]])})
    order = np.argsort(-human_strengths[0], kind="stable")
    return {"models": list(models), "human_ranking": [models[k] for k in order],
            "human_log_strength": human_strengths[0].tolist(), "metrics": table, "prior": prior,
            "resamples": num_resamples, "seed": seed, "confidence": confidence, "skipped_fields": metrics.skipped}


def _none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def markdown_table(result: dict, question: str) -> list[str]:
    """The agreement of one question as Markdown lines."""
    lines = [f"People's ranking ({question}): {' > '.join(result['human_ranking'])}.", "",
             "| metric | kind | better | pairs | pairwise accuracy [95%] | Kendall tau [95%] |",
             "|---|---|---|---|---|---|"]
    for m in result["metrics"]:
        lines.append(f"| {m['metric']} | {m['kind']} | {'higher' if m['higher_is_better'] else 'lower'} | "
                     f"{m['pairs']} | {_fmt(m['pairwise_accuracy'])} {_fmt_interval(m['accuracy_interval'])} | "
                     f"{_fmt(m['kendall_tau'])} {_fmt_interval(m['tau_interval'])} |")
    return lines


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _fmt_interval(interval) -> str:
    return "" if interval[0] is None else f"[{interval[0]:.3f}, {interval[1]:.3f}]"
