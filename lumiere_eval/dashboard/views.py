"""The dashboard pages, drawn with Streamlit. Page chosen by the `page` query parameter or the sidebar.

Every file is read through `paths.resolve_under`, so nothing outside the results root is served; a bad
record becomes an error card naming its file, and the rest of the page still renders. Strings from results
files are untrusted (a results folder may come from someone else): they are shown with `st.text`,
`st.dataframe` or `st.json`, or passed through `plain` where Streamlit would render Markdown (alerts,
captions), so they can neither fetch remote images nor make links.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from lumiere_eval import LumiereEvalError
from lumiere_eval.dashboard import records, study_view
from lumiere_eval.metrics.registry import interval_methods_text
from lumiere_eval.dashboard.drilldown_view import drilldown_page, link_markdown
from lumiere_eval.dashboard.widgets import (error_card, file_stamp, find_cached, load_runs, plain, samples_of,
                                           show_image, show_video)

ROOT_ENV = "LUMIERE_EVAL_DASHBOARD_ROOT"
PAGES = {"leaderboard": "Leaderboard", "run": "Run detail", "videos": "Videos", "compare": "Compare",
         "drilldown": "Per-video drill-down", "study": "Human study"}
SYNTHETIC_BANNER = ("SYNTHETIC DOMAIN — not UCF101. This run used the embedded synthetic action domain with "
                    "in-domain evaluators; its numbers are not comparable with published UCF101 results.")


def main() -> None:
    """Draw the page named by the `page` query parameter (default: leaderboard)."""
    st.set_page_config(page_title="lumiere-eval results", layout="wide")
    root_text = os.environ.get(ROOT_ENV, "")
    root = Path(root_text).resolve() if root_text else None
    if root is None or not root.is_dir():
        st.error(f"Results root {plain(root_text or '(not set)')} is not a folder. Start with "
                 "`lumiere-eval dashboard RESULTS_ROOT`.")
        return
    slugs = list(PAGES)
    current = st.query_params.get("page", "leaderboard")
    if current not in PAGES:
        current = "leaderboard"
    choice = st.sidebar.radio("Page", slugs, index=slugs.index(current), format_func=PAGES.get, key="page_choice")
    if choice != current:
        st.query_params["page"] = choice
    st.sidebar.caption(f"Results root: {plain(str(root))}")
    st.title(PAGES[choice])
    {"leaderboard": leaderboard_page, "run": run_page, "videos": videos_page, "compare": compare_page,
     "drilldown": drilldown_page, "study": study_page}[choice](root)


def leaderboard_page(root: Path) -> None:
    """Runs by metric with 95% intervals and better-direction arrows, plus the paper's Table 1 rows."""
    runs = load_runs(root)
    protocols = sorted({r.get("protocol_id", "?") for r in runs})
    picked = st.multiselect("Protocol", protocols, default=protocols, key="protocols")
    runs = [r for r in runs if r.get("protocol_id", "?") in picked]
    if any(r.get("domain") == "synthetic" for r in runs):
        st.warning(SYNTHETIC_BANNER)
    metric_names = sorted({m for r in runs for m in r["metrics"]})
    sort_by = st.selectbox("Sort by", metric_names, key="sort_by") if metric_names else None
    show_published = st.checkbox("Show the paper's Table 1 (published, not re-measured)", value=True,
                                 key="published")
    if not runs:
        st.info(f"No readable run (a folder with {records.RESULTS_FILE}) under {plain(str(root))}.")
    st.caption(f"Cells: value [95% interval: {interval_methods_text()}; the "
               "percentile bootstrap for means; each entry's interval_method]. ↓ lower is better, ↑ higher is better. Published rows "
               "are the Lumiere paper's Table 1 (UCF101 zero-shot, about 10k samples): "
               f"{records.PUBLISHED_SOURCE}.")
    st.dataframe(records.leaderboard(runs, show_published, sort_by), hide_index=True, width="stretch")


def _pick_run(runs: list[dict], key: str) -> dict | None:
    if not runs:
        st.info("No readable run under the results root.")
        return None
    labels = [records.run_label(r) for r in runs]
    wanted = st.query_params.get("run")
    index = next((i for i, r in enumerate(runs) if r["_path"] == wanted), 0)
    return runs[labels.index(st.selectbox("Run", labels, index=index, key=key))]


def run_page(root: Path) -> None:
    """Metrics, resolved configuration, provenance, per-class breakdown and plots of one run."""
    run = _pick_run(load_runs(root), "run_detail")
    if run is None:
        return
    if run.get("domain") == "synthetic":
        st.warning(SYNTHETIC_BANNER)
    for field, label in (("unverified_weights", "Unverified weights"), ("skipped_videos", "Skipped videos")):
        if run.get(field):
            st.warning(f"{label}: {plain(', '.join(map(str, run[field])))}")
    st.text(f"Protocol: {run.get('protocol_id', '?')}")
    metrics = [{"metric": records.metric_column(name, m.get("higher_is_better")), "value": m["value"],
                "95% low": m.get("ci_low"), "95% high": m.get("ci_high"),
                "interval": records.interval_check(m["value"], m.get("ci_low"), m.get("ci_high")), "samples": m.get("n"),
                "extractor": (m.get("extractor") or {}).get("id"), "clip": m.get("clip")}
               for name, m in run["metrics"].items()]
    st.dataframe(pd.DataFrame(metrics), hide_index=True, width="stretch")
    if run.get("kind") != "metrics":
        st.markdown(link_markdown("Per-video drill-down of this run", run["_path"]))
    samples = samples_of(root, run)
    if samples is not None:
        st.subheader("Per-class breakdown")
        table = records.per_class(samples)
        st.dataframe(table, hide_index=True, width="stretch")
        if "mean clipsim" in table:
            st.bar_chart(table.set_index("class")["mean clipsim"])
    st.subheader("Plots")
    folder = Path(run["_path"])
    plots = [folder / f for f in ("plots.png", "samples_grid.gif")]
    if (folder.parent / records.COMPARISON_FILE).as_posix() in find_cached(str(root), records.COMPARISON_FILE):
        plots += [folder.parent / "plots.png", folder.parent / "samples_grid.gif"]
    shown = [p for p in plots if file_stamp(root, p) != (0, 0)]
    for path in shown:
        show_image(root, path.as_posix(), path.as_posix())
    if not shown:
        st.caption("No plots in this run's folder.")
    with st.expander("Resolved configuration"):
        st.json(run.get("config", {}))
    with st.expander("Provenance"):
        st.json({k: run.get(k) for k in ("provenance", "model", "real_set", "prompt_suite", "samples", "timings")})


def videos_page(root: Path) -> None:
    """A paginated grid of generated videos filtered by model, class and prompt, with per-sample scores."""
    runs = load_runs(root)
    if not runs:
        st.info("No readable run under the results root.")
        return
    labels = [records.run_label(r) for r in runs]
    picked = st.multiselect("Models", labels, default=labels[:1], key="video_runs")
    frames = []
    for run in (runs[labels.index(label)] for label in picked):
        samples = samples_of(root, run)
        if samples is not None:
            frames.append(samples.assign(run=records.run_label(run)))
    if not frames:
        return
    samples = pd.concat(frames, ignore_index=True)
    classes = sorted(samples["class"].astype(str).unique())
    chosen_classes = st.multiselect("Class", classes, key="video_classes")
    text = st.text_input("Prompt contains", key="video_prompt")
    if chosen_classes:
        samples = samples[samples["class"].astype(str).isin(chosen_classes)]
    if text:
        samples = samples[samples["prompt"].str.contains(text, case=False, regex=False)]
    per_page = st.selectbox("Videos per page", [6, 12, 24], index=1, key="per_page")
    pages = max(1, -(-len(samples) // per_page))
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1, key="video_page")
    st.caption(f"{len(samples)} videos match.")
    shown = samples.iloc[(page - 1) * per_page: page * per_page]
    scores = records.score_columns(samples)
    columns = st.columns(3)
    for position, (_, row) in enumerate(shown.iterrows()):
        with columns[position % 3]:
            show_video(root, row["video"])
            st.text(f"{row['run']}\n{row['prompt']}\nclass {row['class']}, seed {row['seed']}")
            st.text(", ".join(f"{c} {_short(row[c])}" for c in scores if not _blank(row[c])))


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def compare_page(root: Path) -> None:
    """Two or more runs on the same prompt and seed, side by side, playing together; then the paired
    differences and sample-size curves found under the root."""
    from lumiere_eval.dashboard.compare_view import statistics_section

    side_by_side(root)
    statistics_section(root)


def side_by_side(root: Path) -> None:
    """Two or more runs on the same prompt and seed, side by side, playing together."""
    runs = load_runs(root)
    labels = [records.run_label(r) for r in runs]
    picked = st.multiselect("Runs (two or more)", labels, default=labels[:2], key="compare_runs")
    if len(picked) < 2:
        st.info("Pick at least two runs to compare.")
        return
    by_run = {}
    for label in picked:
        samples = samples_of(root, runs[labels.index(label)])
        if samples is None:
            return
        by_run[label] = samples
    pairs = records.paired_samples(by_run)
    if pairs.empty:
        st.info("These runs share no (prompt, seed).")
        return
    st.caption(f"{len(pairs)} (prompt, seed) pairs in common.")
    first, second = (runs[labels.index(label)]["_path"] for label in picked[:2])
    st.markdown(link_markdown("Per-video drill-down of the first two runs, by paired difference", first, second))
    choice = st.selectbox("Prompt and seed", range(len(pairs)), key="compare_pair",
                          format_func=lambda i: f"{pairs.at[i, 'prompt']} (seed {pairs.at[i, 'seed']})")
    columns = st.columns(len(picked))
    for column, label in zip(columns, picked):
        with column:
            st.text(label)
            show_video(root, pairs.at[choice, label], autoplay=True)
            row = by_run[label][by_run[label]["video"] == pairs.at[choice, label]].iloc[0]
            st.text(", ".join(f"{c} {_short(row[c])}" for c in records.score_columns(by_run[label])
                              if not _blank(row[c])))


def study_page(root: Path) -> None:
    """Win rates with Wilson and bootstrap intervals, Bradley-Terry, agreement and vigilance of a 2AFC study."""
    study_view.many_model_sections(root)  # leaderboard, pair matrix, rounds, metric agreement, when present
    files = find_cached(str(root), records.ANALYSIS_FILE)
    if not files:
        st.info(f"No human-study analysis ({records.ANALYSIS_FILE}) under the results root.")
        return
    relative = st.selectbox("Study analysis", files, key="study_file")
    try:
        report, wins, strengths = records.load_analysis(root, relative)
    except LumiereEvalError as err:
        error_card(err)
        return
    st.text(f"Study {report['study_id']}")
    counts = report.get("counts", {})
    st.caption(plain(f"Votes read: {counts.get('votes_read', '?')}; comparison votes used: "
                     f"{counts.get('comparison_votes_used', '?')}. Intervals are 95%."))
    st.subheader("Win rates (model A chosen over model B)")
    st.dataframe(wins, hide_index=True, width="stretch")
    st.subheader("Bradley-Terry ranking (log-strength, bootstrap over prompts)")
    st.dataframe(strengths, hide_index=True, width="stretch")
    st.subheader("Agreement (Krippendorff's alpha, nominal)")
    st.dataframe(pd.DataFrame(report["agreement"]), hide_index=True)
    st.subheader("Vigilance")
    vig = report["vigilance"]
    st.text(f"Threshold {vig.get('threshold')}: {len(vig.get('failed_workers', []))} of {vig.get('workers')} "
            f"workers removed ({vig.get('workers_checked')} answered vigilance pairs), "
            f"{vig.get('votes_removed')} votes dropped.")
    by_worker = pd.DataFrame.from_dict(vig.get("by_worker", {}), orient="index")
    st.dataframe(by_worker, width="stretch")
    folder = Path(relative).parent
    for name in ("win_rates.png", "bradley_terry.png"):
        if file_stamp(root, folder / name) != (0, 0):
            show_image(root, (folder / name).as_posix(), name)
