"""The statistics part of the dashboard's Compare page: paired differences and sample-size curves.

Reads `compare.json` (written by `lumiere-eval compare --out`) and `sample_size.json` (written by
`lumiere-eval curves RUN` and by the default run) found under the results root, through the path guard.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from lumiere_eval import LumiereEvalError
from lumiere_eval.dashboard import records

COMPARE_FILE = "compare.json"
CURVES_FILE = "sample_size.json"


def differences_table(result: dict) -> pd.DataFrame:
    """One row per metric: A, B, A - B with its interval, p, adjusted p, significance and the better side."""
    rows = []
    for name, m in result.get("metrics", {}).items():
        rows.append({"metric": name, "kind": m.get("kind"), "pairs": m.get("n_pairs"), "A": m.get("a"),
                     "B": m.get("b"), "A - B": m.get("difference"), "CI low": m.get("ci_low"),
                     "CI high": m.get("ci_high"),
                     "interval": records.interval_check(m.get("difference"), m.get("ci_low"), m.get("ci_high")),
                     "p": m.get("p"), "p adjusted": m.get("p_adjusted"),
                     "significant": m.get("significant"), "better": m.get("better")})
    return pd.DataFrame(rows)


def curve_frame(metric: dict) -> pd.DataFrame:
    """A metric's curve as a frame indexed by N (value and interval bounds)."""
    points = metric.get("points", [])
    return pd.DataFrame({"value": [p["value"] for p in points], "ci_low": [p["ci_low"] for p in points],
                         "ci_high": [p["ci_high"] for p in points]}, index=pd.Index([p["n"] for p in points], name="N"))


def statistics_section(root: Path) -> None:
    """Paired comparisons and sample-size curves under the results root (nothing shown when there are none)."""
    comparisons = records.find_files(root, COMPARE_FILE)
    st.subheader("Paired differences")
    if not comparisons:
        st.info("No paired comparison under the results root: run `lumiere-eval compare RUN_A RUN_B --out DIR`.")
    else:
        relative = st.selectbox("Comparison", [p.as_posix() for p in comparisons], key="paired_file")
        try:
            result = records.load_json(root, relative)
        except LumiereEvalError as err:
            st.error(f"Could not read a result file: {err}")
        else:
            st.text(f"A = {result.get('run_a')}\nB = {result.get('run_b')}")
            st.caption(f"95% paired intervals ({result.get('num_resamples')} resamples of the same sample indices "
                       "on both sides: half-sampling for set metrics, the percentile bootstrap for per-sample "
                       f"means); p-values adjusted by {result.get('correction')}, "
                       f"alpha {result.get('alpha')}.")
            st.dataframe(differences_table(result), hide_index=True, width="stretch")
            for note in result.get("notes", []):
                st.caption(str(note))
    st.subheader("Sample-size curves")
    found = records.find_files(root, CURVES_FILE)
    if not found:
        st.info("No sample-size curves under the results root: run `lumiere-eval curves RUN`.")
        return
    relative = st.selectbox("Run", [p.as_posix() for p in found], key="curves_file")
    try:
        result = records.load_json(root, relative)
    except LumiereEvalError as err:
        st.error(f"Could not read a result file: {err}")
        return
    for warning in result.get("warnings", []):
        st.warning(str(warning))
    st.caption(str(result.get("rule", "")))
    for name, metric in result.get("metrics", {}).items():
        st.text(f"{name}: {'settled' if metric.get('settled') else 'not settled'}")
        st.line_chart(curve_frame(metric))
