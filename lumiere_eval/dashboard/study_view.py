"""The many-model part of the dashboard's study page: leaderboard, pair matrix, rounds and metric agreement.

Reads what `lumiere-eval study leaderboard`, `study next` and `study agreement` write (leaderboard.json,
rounds.json, agreement.json) under the results root; a bad file becomes an error card naming it.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from lumiere_eval import LumiereEvalError
from lumiere_eval.dashboard import records

LEADERBOARD_FILE = "leaderboard.json"
ROUNDS_FILE = "rounds.json"
AGREEMENT_FILE = "agreement.json"


def ranking_table(board: dict) -> pd.DataFrame:
    """Rank, model, log-strength and interval of one question's leaderboard, strongest first."""
    index = {m: k for k, m in enumerate(board["models"])}
    rows = [{"rank": rank, "model": model, "log-strength": board["log_strength"][index[model]],
             "low": board["interval"][index[model]][0], "high": board["interval"][index[model]][1]}
            for rank, model in enumerate(board["ranking"], start=1)]
    return pd.DataFrame(rows, columns=["rank", "model", "log-strength", "low", "high"])


def pair_matrix(board: dict) -> pd.DataFrame:
    """P(row model stronger than column model) from the bootstrap, in ranking order."""
    index = {m: k for k, m in enumerate(board["models"])}
    order = board["ranking"]
    return pd.DataFrame([[board["probability_above"][index[r]][index[c]] for c in order] for r in order],
                        index=order, columns=order)


def rounds_table(rounds: dict) -> pd.DataFrame:
    """One row per analysed round: votes so far and the ranking then."""
    return pd.DataFrame([{"after round": h.get("rounds_published"), "question": h["question"], "votes": h["votes"],
                          "ranking": " > ".join(h["ranking"])} for h in rounds["history"]])


def agreement_table(report: dict) -> pd.DataFrame:
    """Per question and metric: pairwise accuracy and Kendall's tau against people, with intervals."""
    rows = []
    for question, result in report["questions"].items():
        for m in result["metrics"]:
            rows.append({"question": question, "metric": m["metric"], "kind": m["kind"], "pairs": m["pairs"],
                         "pairwise accuracy": m["pairwise_accuracy"], "accuracy low": m["accuracy_interval"][0],
                         "accuracy high": m["accuracy_interval"][1], "Kendall tau": m["kendall_tau"],
                         "tau low": m["tau_interval"][0], "tau high": m["tau_interval"][1]})
    return pd.DataFrame(rows)


def _show(root: Path, name: str, draw) -> None:
    for relative in records.find_files(root, name):
        try:
            draw(relative, records.load_json(root, relative))
        except LumiereEvalError as err:
            st.error(f"Could not read a result file: {err}")
        except (KeyError, TypeError, IndexError, ValueError) as err:
            st.error(f"Could not read a result file: {relative}: unexpected structure ({type(err).__name__}: {err})")


def many_model_sections(root: Path) -> None:
    """Leaderboards with pair matrices, the rounds of adaptive studies and metric agreement, when present."""
    def leaderboard(relative, report):
        for question, board in report["questions"].items():
            if board is None:
                continue
            st.subheader(f"Leaderboard: {question} ({relative})")
            robust = board["robustness"]
            st.caption(f"Bradley-Terry with ties (Davidson), {board['votes']} votes, {board['ties']} ties; "
                       f"{board['confidence']:.0%} intervals, {board['bootstrap_over']} bootstrap. Robustness: "
                       + ("no removal of votes changes the top." if robust["votes"] is None else
                          f"removing {robust['votes']} votes puts {robust['challenger']} above {robust['leader']}."))
            st.dataframe(ranking_table(board), hide_index=True)
            st.text("P(row model stronger than column model)")
            st.dataframe(pair_matrix(board))

    def rounds(relative, report):
        st.subheader(f"Rounds ({relative})")
        decision = report.get("decision", {})
        st.caption(("Stop: " + decision["reason"]) if decision.get("stop") else "Not yet stopped.")
        st.dataframe(rounds_table(report), hide_index=True)

    def agreement(relative, report):
        st.subheader(f"Metric-human agreement ({relative})")
        st.dataframe(agreement_table(report), hide_index=True)

    _show(root, LEADERBOARD_FILE, leaderboard)
    _show(root, ROUNDS_FILE, rounds)
    _show(root, AGREEMENT_FILE, agreement)
