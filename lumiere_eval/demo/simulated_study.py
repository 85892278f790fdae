"""A SIMULATED many-model study on a run's own videos, for the embedded default's report.

Simulated people with stated log-strengths (an assumption, not a measurement) compare every pair of models on
every (prompt, seed) all models share; the leaderboard and the metric-human agreement table are then computed
exactly as `lumiere-eval study leaderboard` and `study agreement` compute them, from the run's per-video
metric values (samples.jsonl) and per-model metrics (results.json). It shows what the report looks like on
these videos; it says nothing about whether the metrics agree with real people.
"""
from __future__ import annotations

import itertools

import numpy as np

from lumiere_eval.human_study.agreement import PER_VIDEO_DIRECTIONS, MetricTable, StudyVotes, agreement, markdown_table
from lumiere_eval.human_study.leaderboard import leaderboard
from lumiere_eval.human_study.simulate import VotePopulation

DEFAULT_STRENGTHS = {"lumiere": 0.5, "keyframe-cascade": 0.3, "per-frame-t2i": -0.8}


def simulated_study_section(samples: dict[str, list[dict]], metrics: dict[str, dict],
                            strengths: dict[str, float] | None = None, raters: int = 3, tie_parameter: float = 0.3,
                            resamples: int = 100, seed: int = 0) -> str:
    """Markdown section: a simulated study of the models in `samples` (per model, its samples.jsonl rows) with
    the leaderboard and the agreement of each metric (`metrics`: per model, results.json's metrics)."""
    models = sorted(samples)
    strengths = {m: (strengths or DEFAULT_STRENGTHS).get(m, 0.0) for m in models}
    shared = sorted(set.intersection(*[{(str(r["prompt"]), int(r["seed"])) for r in samples[m]} for m in models]))
    if len(models) < 2 or not shared:
        return ""
    population = VotePopulation([strengths[m] for m in models], nu=tie_parameter, num_prompts=len(shared),
                                num_workers=20, seed=seed, models=models)
    units = [(k, a, b) for k in range(len(shared)) for a, b in itertools.combinations(range(len(models)), 2)]
    votes = population.answer(units, raters)
    board = leaderboard(votes, prior=0.5, num_resamples=resamples, seed=seed)
    table = MetricTable()
    for model in models:
        for row in samples[model]:
            for name, higher in PER_VIDEO_DIRECTIONS.items():
                if isinstance(row.get(name), (int, float)):
                    table.per_video.setdefault(name, {})[(model, str(row["prompt"]), int(row["seed"]))] = float(row[name])
                    table.higher_is_better[name] = higher
        for name, entry in metrics[model].items():
            if isinstance(entry, dict) and isinstance(entry.get("value"), (int, float)) and "higher_is_better" in entry:
                table.per_model.setdefault(name, {})[model] = float(entry["value"])
                table.higher_is_better[name] = bool(entry["higher_is_better"])
    study = StudyVotes(votes=votes, prompts=[p for p, _ in shared], seeds=np.array([shared[k][1] for k in votes.prompt]))
    result = agreement(study, table, prior=0.5, num_resamples=resamples, seed=seed)
    index = {m: k for k, m in enumerate(models)}
    lines = ["## SIMULATED human study (simulated raters, not people)", "",
             "> **SIMULATED.** No person rated these videos. Simulated raters with the assumed log-strengths "
             + ", ".join(f"{m} {strengths[m]:+.1f}" for m in models)
             + f" (tie parameter {tie_parameter}) compared every pair of models on each of the {len(shared)} "
             f"(prompt, seed) the models share, {raters} raters each ({len(votes.first)} votes). The tables show "
             "what `lumiere-eval study leaderboard` and `study agreement` report on this run's videos; they do "
             "not say whether these metrics agree with real people.", "",
             "| rank | model | log-strength [95% two-way bootstrap] | assumed |", "|---|---|---|---|"]
    for rank, model in enumerate(board["ranking"], start=1):
        k = index[model]
        low, high = board["interval"][k]
        lines.append(f"| {rank} | {model} | {board['log_strength'][k]:.3f} [{low:.3f}, {high:.3f}] | "
                     f"{strengths[model] - np.mean(list(strengths.values())):+.3f} |")
    lines += ["", "Agreement of each metric with the simulated raters (bootstrap over videos):", ""]
    lines += markdown_table(result, "simulated")
    return "\n".join(lines) + "\n"
