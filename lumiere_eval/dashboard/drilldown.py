"""The tables behind the per-video drill-down page (no Streamlit here): every sample of a run with its per-sample
scores (samples.jsonl, and the motion tier's `motion.json` when the run has one), filtered, sorted and paged;
for two paired runs, each sample of both with the paired difference of a score.

Directions come from the metric registry (`registry.higher_is_better`); the leave-one-out FVD effect (see
`set_effects`) is "lower is better": a positive effect means the sample raises the run's FVD.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from lumiere_eval.dashboard import records
from lumiere_eval.dashboard.paths import ResultFileError, resolve_under

MOTION_FILE = "motion.json"  # written by `lumiere-eval motion RUN` / `compare` (runner.motion_tier)
MOTION_RENAMES = {"dynamic_dis": "dynamic_degree_dis"}  # the tier's 0/1 per-video field, as the registry names it
LOO_EFFECT = "fvd_loo_effect"
EXTRA_DIRECTIONS = {LOO_EFFECT: False, "nearest_real_distance": False}


def directions() -> dict[str, bool | None]:
    """Better direction of every per-sample column the page can sort by (True: higher is better)."""
    from lumiere_eval.metrics.registry import higher_is_better

    return higher_is_better() | EXTRA_DIRECTIONS


def with_motion(root: Path, run_path: str, samples: pd.DataFrame) -> pd.DataFrame:
    """`samples` with the motion tier's per-sample scores joined on the sample index (unchanged when the run has
    no `motion.json`); a malformed file raises `ResultFileError` naming it."""
    relative = Path(run_path) / MOTION_FILE
    if samples.empty or not resolve_under(root, relative).is_file():
        return samples
    per_sample = records.load_json(root, relative).get("per_sample")
    if not isinstance(per_sample, dict) or not all(isinstance(v, dict) or v is None for v in per_sample.values()):
        raise ResultFileError(f"{relative}: field 'per_sample' is not an object of per-sample score objects")
    motion = pd.DataFrame.from_dict({int(k): v or {} for k, v in per_sample.items() if str(k).isdigit()},
                                    orient="index").rename(columns=MOTION_RENAMES)
    motion = motion.drop(columns=[c for c in motion.columns if c in samples.columns])
    return samples.join(motion, on="index") if not motion.empty else samples


def numeric_scores(samples: pd.DataFrame) -> list[str]:
    """The per-sample score columns holding numbers (what can be sorted and differenced)."""
    return [c for c in records.score_columns(samples) if pd.api.types.is_numeric_dtype(samples[c])]


def label(column: str, direction: dict[str, bool | None]) -> str:
    """A score column's name with its better direction: 'clipsim ↑', 'fvd_loo_effect ↓'."""
    return column + {True: " ↑", False: " ↓"}.get(direction.get(column), "")


def select(samples: pd.DataFrame, classes: list[str], prompt_text: str) -> pd.DataFrame:
    """The samples of the chosen classes (all when none) whose prompt contains `prompt_text` (any case, literal)."""
    if classes:
        samples = samples[samples["class"].astype(str).isin(classes)]
    if prompt_text:
        samples = samples[samples["prompt"].astype(str).str.contains(prompt_text, case=False, regex=False)]
    return samples


def order(samples: pd.DataFrame, column: str, worst_first: bool, direction: dict[str, bool | None]) -> pd.DataFrame:
    """Rows sorted by `column`, worst (or best) first by its direction (ascending when it has none); samples
    without the score last; ties by sample index."""
    higher = direction.get(column)
    ascending = (higher is True) == worst_first if higher is not None else not worst_first
    return samples.sort_values([column, "index"], ascending=[ascending, True], na_position="last", kind="stable")


def page_of(frame: pd.DataFrame, page: int, per_page: int) -> pd.DataFrame:
    """Rows of page `page` (1-based) of `per_page` rows."""
    return frame.iloc[(page - 1) * per_page: page * per_page]


def page_count(rows: int, per_page: int) -> int:
    """Pages needed for `rows` rows (at least one)."""
    return max(1, -(-rows // per_page))


def paired(a: pd.DataFrame, b: pd.DataFrame, column: str, largest_first: bool = True) -> pd.DataFrame:
    """Samples both runs generated with one (prompt, seed), with `column` (a score both runs hold) of each ('A',
    'B'), the paired difference 'A - B' and both videos, sorted by the difference (samples lacking a score last)."""
    left = a[["index", "class", "prompt", "seed", "video", column]].drop_duplicates(["prompt", "seed"])
    right = b[["prompt", "seed", "video", column]].drop_duplicates(["prompt", "seed"])
    both = left.merge(right, on=["prompt", "seed"], suffixes=("_a", "_b"))
    both = both.rename(columns={f"{column}_a": "A", f"{column}_b": "B"})
    both["A - B"] = both["A"] - both["B"]
    both = both.sort_values(["A - B", "index"], ascending=[not largest_first, True], na_position="last", kind="stable")
    return both[["index", "class", "prompt", "seed", "A", "B", "A - B", "video_a", "video_b"]].reset_index(drop=True)
