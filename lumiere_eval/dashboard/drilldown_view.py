"""The dashboard's per-video drill-down page (`?page=drilldown&run=RUN[&run_b=RUN_B][&loo=1][&sort=SCORE]`).

One run: every sample with its per-sample scores, filtered by class and prompt, sorted by any score (worst or
best first by the registry's direction), paged, with the page's videos playing (only that page's videos are
read); optionally each sample's leave-one-out effect on FVD and its nearest real clip, from the run's cached
features. Two runs: the samples both generated (same prompt and seed) side by side, sorted by the paired
difference of a score. Prompts are shown with `st.text` and `st.dataframe` only (never as markup).
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from lumiere_eval import LumiereEvalError
from lumiere_eval.dashboard import drilldown, records
from lumiere_eval.dashboard.set_effects import FvdEffects, fvd_effects
from lumiere_eval.dashboard.widgets import error_card, file_stamp, load_runs, plain, samples_of, show_video

PAGE = "drilldown"
MODES = ("One run", "Two runs, paired")
PER_PAGE = (6, 12, 24, 48)
LOO_LABEL = "Leave-one-out FVD and nearest real clip (from the run's cached features)"


def link(run_path: str, run_b: str | None = None) -> str:
    """The page's address for a run (and a second run, paired), query values URL-encoded."""
    query = {"page": PAGE, "run": run_path} | ({"run_b": run_b} if run_b else {})
    return "?" + urlencode(query)


def link_markdown(text: str, run_path: str, run_b: str | None = None) -> str:
    """A Markdown link to the page: `text` escaped as plain characters, the address URL-encoded."""
    return f"[{plain(text)}]({link(run_path, run_b)})"


@st.cache_data(show_spinner="Reading cached features...", max_entries=16)
def _effects(root: str, run_path: str, stamps: tuple) -> FvdEffects:
    return fvd_effects(Path(root), run_path)


def _pick(runs: list[dict], labels: list[str], title: str, param: str, key: str, default: int) -> dict:
    wanted = st.query_params.get(param)
    index = next((i for i, r in enumerate(runs) if r["_path"] == wanted), min(default, len(runs) - 1))
    return runs[labels.index(st.selectbox(title, labels, index=index, key=key))]


def _wanted(choices: list[str], param: str) -> int:
    """Position of the query parameter's value among `choices` (0 when absent or unknown)."""
    value = st.query_params.get(param)
    return choices.index(value) if value in choices else 0


def _scores(root: Path, run: dict, leave_one_out: bool) -> pd.DataFrame | None:
    """The run's samples with motion-tier scores and, when asked, the FVD effects joined; None after an error."""
    samples = samples_of(root, run)
    if samples is None:
        return None
    try:
        samples = drilldown.with_motion(root, run["_path"], samples)
    except LumiereEvalError as err:
        error_card(err)
    if not leave_one_out:
        return samples
    folder = Path(run["_path"])
    stamps = tuple(file_stamp(root, folder / name) for name in ("results.json", "samples.jsonl", "config.json"))
    try:
        effects = _effects(str(root), run["_path"], stamps)
    except LumiereEvalError as err:
        error_card(err)
        return samples
    recorded = "-" if effects.recorded_fvd is None else f"{effects.recorded_fvd:.4f}"
    st.caption(plain(f"{records.run_label(run)}: FVD of the {len(effects.table)} cached rows {effects.fvd:.4f} "
                     f"(recorded {recorded}; {effects.missing} samples without a cached row). Effect = FVD(all) - "
                     "FVD(without the sample): positive when the sample raises FVD. Nearest real clip: Euclidean "
                     "distance in the FVD feature space (real clips are named, not played: the dashboard serves "
                     "only the results root)."))
    return samples.join(effects.table, on="index")


def _filters(samples: pd.DataFrame, key: str) -> pd.DataFrame:
    classes = sorted(samples["class"].astype(str).unique())
    left, right = st.columns(2)
    chosen = left.multiselect("Class", classes, key=f"{key}_classes")
    text = right.text_input("Prompt contains", key=f"{key}_prompt")
    return drilldown.select(samples, chosen, text)


def _paged(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    left, right = st.columns(2)
    per_page = left.selectbox("Samples per page", PER_PAGE, index=1, key=f"{key}_per_page")
    pages = drilldown.page_count(len(frame), per_page)
    page = right.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1, key=f"{key}_page")
    return drilldown.page_of(frame, min(page, pages), per_page)


def _score_text(row: pd.Series, columns: list[str]) -> str:
    return ", ".join(f"{c} {v:.4g}" if isinstance(v, float) else f"{c} {v}"
                     for c in columns if not pd.isna(v := row.get(c)))


def drilldown_page(root: Path) -> None:
    """One run's samples, or two paired runs' samples side by side (see the module docstring)."""
    runs = load_runs(root)
    runs = [r for r in runs if r.get("kind") != "metrics"]  # a `metrics` result has no samples
    if not runs:
        st.info("No readable run with samples under the results root.")
        return
    labels = [records.run_label(r) for r in runs]
    mode = st.radio("View", MODES, index=1 if st.query_params.get("run_b") else 0, key="drill_mode",
                    horizontal=True)
    leave_one_out = st.toggle(LOO_LABEL, value=st.query_params.get("loo") == "1", key="drill_loo")
    if mode == MODES[0]:
        one_run(root, runs, labels, leave_one_out)
    else:
        two_runs(root, runs, labels, leave_one_out)


def one_run(root: Path, runs: list[dict], labels: list[str], leave_one_out: bool) -> None:
    """Every sample of one run with its scores: filtered, sorted, paged, the page's videos playing."""
    run = _pick(runs, labels, "Run", "run", "drill_run", 0)
    samples = _scores(root, run, leave_one_out)
    if samples is None:
        return
    direction = drilldown.directions()
    shown = _filters(samples, "drill")
    numeric = drilldown.numeric_scores(samples)
    left, right = st.columns(2)
    choices = ["index", *numeric]
    sort_by = left.selectbox("Sort by", choices, index=_wanted(choices, "sort"),
                             format_func=lambda c: drilldown.label(c, direction), key="drill_sort")
    worst_first = right.toggle("Worst first (by the score's better direction)", value=True, key="drill_worst")
    ordered = (shown.sort_values("index", kind="stable") if sort_by == "index"
               else drilldown.order(shown, sort_by, worst_first, direction))
    st.caption(f"{len(ordered)} of {len(samples)} samples match.")
    page = _paged(ordered, "drill")
    columns = ["index", "class", "prompt", "seed", *numeric] + (["nearest_real"] if "nearest_real" in page else [])
    st.dataframe(page[columns], hide_index=True, width="stretch")
    grid = st.columns(3)
    for position, (_, row) in enumerate(page.iterrows()):
        with grid[position % 3]:
            show_video(root, row["video"], autoplay=True, alt=f"sample {row['index']}, position {position}")
            st.text(f"#{row['index']} {row['prompt']}\nclass {row['class']}, seed {row['seed']}")
            st.text(_score_text(row, [*numeric, "nearest_real"]))


def two_runs(root: Path, runs: list[dict], labels: list[str], leave_one_out: bool) -> None:
    """The samples two runs share, side by side, sorted by the paired difference of one score."""
    if len(runs) < 2:
        st.info("Pick a results root with two runs to compare them sample by sample.")
        return
    left, right = st.columns(2)
    with left:
        run_a = _pick(runs, labels, "Run A", "run", "drill_run_a", 0)
    with right:
        other = next(i for i, r in enumerate(runs) if r is not run_a)
        run_b = _pick(runs, labels, "Run B", "run_b", "drill_run_b", other)
    if run_b is run_a:
        st.info("Pick two different runs.")
        return
    a, b = _scores(root, run_a, leave_one_out), _scores(root, run_b, leave_one_out)
    if a is None or b is None:
        return
    direction = drilldown.directions()
    common = [c for c in drilldown.numeric_scores(a) if c in drilldown.numeric_scores(b)]
    if not common:
        st.info("These runs share no numeric per-sample score.")
        return
    left, right = st.columns(2)
    metric = left.selectbox("Paired difference of", common, index=_wanted(common, "sort"),
                            format_func=lambda c: drilldown.label(c, direction), key="drill_pair_metric")
    largest_first = right.toggle("Largest A - B first", value=True, key="drill_pair_order")
    table = _filters(drilldown.paired(a, b, metric, largest_first), "drill_pair")
    better = {True: "higher is better", False: "lower is better"}.get(direction.get(metric), "no better direction")
    st.caption(plain(f"{len(table)} samples with the same prompt and seed in both runs; A - B of {metric} "
                     f"({better})."))
    page = _paged(table, "drill_pair")
    st.dataframe(page.drop(columns=["video_a", "video_b"]), hide_index=True, width="stretch")
    for position, (_, row) in enumerate(page.iterrows()):
        columns = st.columns(3)
        columns[2].text(f"#{row['index']} {row['prompt']}\nclass {row['class']}, seed {row['seed']}\n"
                        f"A - B of {metric} = {row['A - B']:.4g}")
        for column, (side, run) in zip(columns, (("A", run_a), ("B", run_b))):
            with column:
                show_video(root, row[f"video_{side.lower()}"], autoplay=True,
                           alt=f"run {side}, sample {row['index']}, row {position}")
                st.text(f"{side}: {records.run_label(run)}\n{metric} {row[side]:.4g}")
