"""The dashboard study page's many-model sections: leaderboard, pair matrix, rounds and agreement, read from
what `study leaderboard`, `study next` and `study agreement` wrote; a broken file is an error card."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lumiere_eval.cli import main
from lumiere_eval.dashboard import study_view
from lumiere_eval.human_study.results import write_results_csv
from lumiere_eval.human_study.simulate import simulate_results
from lumiere_eval.human_study.study import load_study, read_batch_inputs
from test_human_study_support import make_run_folder

APP = Path(__file__).resolve().parents[1] / "lumiere_eval" / "dashboard" / "app.py"


@pytest.fixture(scope="module")
def study_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("studyroot")
    prompts = [f"prompt {i}" for i in range(6)]
    runs = []
    for k, model in enumerate(("alpha", "beta", "gamma")):
        folder = make_run_folder(root / "runs" / model, model, prompts)
        rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
        (folder / "samples.jsonl").write_text("".join(json.dumps(dict(r, clipsim=30.0 - k + 0.1 * r["index"])) + "\n"
                                                      for r in rows))
        runs.append(f"{model}={folder}")
    study = root / "study"
    assert main(["study", "create", "--runs", *runs, "--questions", "quality", "--raters", "4", "--vigilance", "0.1",
                 "--out", str(study)]) == 0
    record = load_study(study)
    sim = simulate_results(record, read_batch_inputs(study, record), {"alpha": 1.0, "beta": 0.0, "gamma": -1.0},
                           num_workers=10, num_spammers=0, seed=1)
    write_results_csv(study / "r1.csv", sim.header, sim.rows)
    common = ["--resamples", "20", "--vigilance-threshold", "0"]
    assert main(["study", "leaderboard", str(study), str(study / "r1.csv"), *common]) == 0
    assert main(["study", "next", str(study), str(study / "r1.csv"), "--level", "0.5", *common]) == 0
    assert main(["study", "agreement", str(study), str(study / "r1.csv"), "--runs", *runs, *common]) == 0
    return root


def test_study_page_shows_leaderboard_pair_matrix_rounds_and_agreement(study_root, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LUMIERE_EVAL_DASHBOARD_ROOT", str(study_root))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["page"] = "study"
    at = at.run()
    assert not at.exception and not at.error
    board = json.loads((study_root / "study" / "leaderboard" / "leaderboard.json").read_text())["questions"]["quality"]
    ranking, matrix, rounds, agreement = (d.value for d in at.dataframe[:4])
    assert list(ranking["model"]) == board["ranking"]
    assert list(matrix.index) == board["ranking"]
    top, second = board["ranking"][:2]
    index = {m: k for k, m in enumerate(board["models"])}
    assert matrix.loc[top, second] == board["probability_above"][index[top]][index[second]]
    assert list(rounds["votes"]) == [board["votes"]]
    assert set(agreement["metric"]) == {"clipsim"}
    subheaders = [s.value for s in at.subheader]
    assert any(s.startswith("Leaderboard: quality") for s in subheaders)
    assert any(s.startswith("Metric-human agreement") for s in subheaders)


def test_a_broken_leaderboard_file_is_an_error_card(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "leaderboard.json").write_text('{"questions": {"quality": {"models": ["a"]}}}')
    (tmp_path / "s" / "rounds.json").write_text("[1, 2")
    monkeypatch.setenv("LUMIERE_EVAL_DASHBOARD_ROOT", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["page"] = "study"
    at = at.run()
    assert not at.exception
    errors = "\n".join(e.value for e in at.error)
    assert "s/leaderboard.json: unexpected structure" in errors and "s/rounds.json: malformed" in errors


def test_tables_are_built_from_the_records():
    board = {"models": ["a", "b"], "ranking": ["b", "a"], "log_strength": [-0.2, 0.2],
             "interval": [[-0.5, 0.1], [-0.1, 0.5]], "probability_above": [[0, 0.1], [0.9, 0]]}
    assert study_view.ranking_table(board)["model"].tolist() == ["b", "a"]
    assert study_view.pair_matrix(board).loc["b", "a"] == 0.9
