"""Issue 26, human-study readers: every study command reads results with one reader and says what it left out
(unknown item, malformed answer, truncated row, ...); nothing usable is an error naming the file in every
command; `study agreement` with no comparable metric is an error listing what the runs hold."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lumiere_eval.cli import main
from lumiere_eval.human_study.results import counted_votes, write_results_csv
from lumiere_eval.human_study.simulate import simulate_results
from lumiere_eval.human_study.sources import load_runs
from lumiere_eval.human_study.study import create_study, load_study, read_batch_inputs
from test_human_study_support import make_manifest, make_run_folder

STRENGTHS = {"alpha": 0.8, "beta": 0.0}


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unused_rows")
    prompts = [f"prompt {i}" for i in range(12)]
    create_study(load_runs([str(make_manifest(root / "videos", prompts))]), root / "study",
                 ["quality"], raters=4, vigilance=0.3, seed=0)
    return root / "study"


def _results(study_dir: Path, path: Path, edit=None) -> tuple[list[str], list[dict]]:
    study = load_study(study_dir)
    sim = simulate_results(study, read_batch_inputs(study_dir, study), STRENGTHS, 8, 0,
                           answer_format="taskAnswers", seed=3)
    rows = [dict(r) for r in sim.rows]
    if edit:
        edit(rows)
    write_results_csv(path, sim.header, rows)
    return sim.header, rows


def _bad_answers(rows: list[dict]) -> None:
    rows[0]["Answer.taskAnswers"] = "not json"
    rows[1]["Answer.taskAnswers"] = "[]"
    rows[2]["Answer.taskAnswers"] = json.dumps([{"quality": {"left": True, "right": True}}])


def _commands(study_dir: Path, results: Path, out: Path) -> dict[str, list[str]]:
    return {"analyze": ["study", "analyze", str(study_dir), str(results), "--out", str(out / "a"),
                        "--resamples", "10"],
            "leaderboard": ["study", "leaderboard", str(study_dir), str(results), "--out", str(out / "l"),
                            "--resamples", "10"],
            "next": ["study", "next", str(study_dir), str(results), "--dry-run", "--resamples", "10"]}


def test_malformed_answers_are_counted_by_reason_in_every_command(study_dir, tmp_path, capsys):
    results = tmp_path / "r.csv"
    _results(study_dir, results, _bad_answers)
    counted = counted_votes(results, load_study(study_dir))
    assert counted.unused["malformed_rows"] == {"count": 2, "rows": [2, 3]}
    assert counted.unused["missing_answers"] == {"count": 1, "rows": [[4, "quality"]]}
    for name, argv in _commands(study_dir, results, tmp_path).items():
        capsys.readouterr()
        assert main(argv) == 0, name
        err = capsys.readouterr().err
        assert "not used: 2 x malformed row" in err and "(rows 2, 3)" in err, (name, err)
        assert "not used: 1 x malformed answer" in err, (name, err)
    report = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert report["counts"]["unused"]["malformed_rows"]["rows"] == [2, 3]
    board = json.loads((tmp_path / "l" / "leaderboard.json").read_text())
    assert board["vigilance"]["unused"]["missing_answers"]["count"] == 1


def test_results_of_unknown_items_are_an_error_naming_the_file_in_every_command(study_dir, tmp_path, capsys):
    def other_items(rows):
        for row in rows:
            row["Input.item_id"] = "zz" + row["Input.item_id"]
    results = tmp_path / "other.csv"
    _results(study_dir, results, other_items)
    for name, argv in _commands(study_dir, results, tmp_path).items():
        capsys.readouterr()
        assert main(argv) == 1, name
        err = capsys.readouterr().err
        assert f"{results}: no usable answers" in err and "unknown item id" in err, (name, err)


def test_a_results_file_cut_in_a_row_is_a_warning_naming_the_row(study_dir, tmp_path, capsys):
    results = tmp_path / "cut.csv"
    _, rows = _results(study_dir, results)
    data = results.read_bytes()
    results.write_bytes(data[:len(data) - 40])  # a download cut inside the last row
    last = len(rows) + 1
    counted = counted_votes(results, load_study(study_dir))
    assert counted.unused["truncated_rows"] == {"count": 1, "rows": [last]}
    assert any(f"row {last}: the last row is cut short" in w for w in counted.read.warnings)
    assert main(_commands(study_dir, results, tmp_path)["leaderboard"]) == 0
    err = capsys.readouterr().err
    assert f"row {last}: the last row is cut short" in err and "1 x truncated row" in err


def test_agreement_with_no_comparable_metric_lists_what_the_runs_hold(tmp_path, capsys):
    prompts = [f"a shape moving {d}" for d in ("left", "right", "up", "down")]
    runs = {m: make_run_folder(tmp_path / m, m, prompts) for m in ("alpha", "beta")}
    for model, folder in runs.items():
        rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
        for row in rows:
            row["motion_score"] = 1.0
        (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    study_dir = tmp_path / "study"
    assert main(["study", "create", "--runs", *map(str, runs.values()), "--questions", "quality",
                 "--raters", "3", "--vigilance", "0.2", "--out", str(study_dir)]) == 0
    study = load_study(study_dir)
    sim = simulate_results(study, read_batch_inputs(study_dir, study), STRENGTHS, 6, 0, seed=1)
    write_results_csv(tmp_path / "r.csv", sim.header, sim.rows)
    capsys.readouterr()
    assert main(["study", "agreement", str(study_dir), str(tmp_path / "r.csv"), "--runs",
                 *[f"{m}={p}" for m, p in runs.items()], "--resamples", "10"]) == 1
    err = capsys.readouterr().err
    assert "no metric to compare with the votes; the runs hold motion_score (direction unknown" in err
