"""`study analyze`: simulated raters with known preferences, the exact MTurk results format, bad rows."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from lumiere_eval.cli import main
from lumiere_eval.human_study.analysis import analyze_study
from lumiere_eval.human_study.results import ResultsFormatError, results_header, write_results_csv
from lumiere_eval.human_study.simulate import simulate_results
from lumiere_eval.human_study.sources import load_runs
from lumiere_eval.human_study.study import create_study, load_study, read_batch_inputs
from test_human_study_support import make_manifest

# Bradley-Terry strengths with P(alpha beats beta) = 0.7 exactly
STRENGTHS = {"alpha": float(np.log(0.7 / 0.3)), "beta": 0.0, "gamma": -0.5}
MTURK_HEADER_START = (
    "HITId,HITTypeId,Title,Description,Keywords,Reward,CreationTime,MaxAssignments,RequesterAnnotation,"
    "AssignmentDurationInSeconds,AutoApprovalDelayInSeconds,Expiration,NumberOfSimilarHITs,LifetimeInSeconds,"
    "AssignmentId,WorkerId,AssignmentStatus,AcceptTime,SubmitTime,AutoApprovalTime,ApprovalTime,RejectionTime,"
    "RequesterFeedback,WorkTimeInSeconds,LifetimeApprovalRate,Last30DaysApprovalRate,Last7DaysApprovalRate,"
    "Input.item_id,Input.video_left,Input.video_right,Input.prompt_html,")


@pytest.fixture(scope="module")
def big_study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("analysis")
    prompts = [f"prompt {i}: a scene" for i in range(30)]
    records = load_runs([str(make_manifest(root / "videos", prompts, models=("alpha", "beta", "gamma")))])
    create_study(records, root / "study", ["quality", "motion", "text"], raters=5, vigilance=0.3, seed=0)
    return root / "study"


def _simulate(study_dir: Path, path: Path, **kwargs):
    study = load_study(study_dir)
    sim = simulate_results(study, read_batch_inputs(study_dir, study), STRENGTHS, **kwargs)
    write_results_csv(path, sim.header, sim.rows)
    return study, sim


def test_simulated_raters_are_recovered_and_spammers_removed(big_study, tmp_path):
    study, sim = _simulate(big_study, tmp_path / "results.csv", num_workers=24, num_spammers=4, seed=1)
    report = analyze_study(study, tmp_path / "results.csv", num_resamples=300)
    failed = set(report["vigilance"]["failed_workers"])
    # every spammer goes; a genuine rater (95% right on vigilance) can be unlucky on a handful of checks
    assert set(sim.spammers) <= failed and len(failed - set(sim.spammers)) <= 1
    assert report["vigilance"]["votes_removed"] > 0
    truth = {("alpha", "beta"): 0.7}
    for a, b in (("alpha", "gamma"), ("beta", "gamma")):
        truth[(a, b)] = 1 / (1 + np.exp(STRENGTHS[b] - STRENGTHS[a]))
    covered = {"wilson_ci": 0, "bootstrap_ci_over_prompts": 0}
    for c in report["comparisons"]:
        true_rate = truth[(c["model_a"], c["model_b"])]
        assert c["prompts"] == 30
        for interval in covered:
            covered[interval] += c[interval][0] <= true_rate <= c[interval][1]
        if (c["model_a"], c["model_b"]) == ("alpha", "beta"):  # the 70% preference, on every question
            assert c["wilson_ci"][0] <= 0.7 <= c["wilson_ci"][1], c
            assert c["bootstrap_ci_over_prompts"][0] <= 0.7 <= c["bootstrap_ci_over_prompts"][1], c
            assert abs(c["win_rate_a"] - 0.7) < 0.08 and c["holm_p"] < 0.01
    # 95% intervals: of the 9 comparisons (3 model pairs x 3 questions) one or two may miss by chance
    assert min(covered.values()) >= 7, covered
    for bt in report["bradley_terry"]:
        scores = dict(zip(bt["models"], bt["log_strength"]))
        assert scores["alpha"] > scores["beta"] > scores["gamma"]
    for bias in report["position_bias"]:
        assert bias["wilson_ci"][0] <= 0.5 <= bias["wilson_ci"][1]  # simulated raters have no side bias
    for agreement in report["agreement"]:
        assert 0.0 < agreement["krippendorff_alpha"] < 1.0


def test_spammers_bias_the_result_without_the_filter(big_study, tmp_path):
    """The vigilance filter matters: 'always left' spammers add votes that are not preferences."""
    study, sim = _simulate(big_study, tmp_path / "results.csv", num_workers=12, num_spammers=6, seed=2)
    kept = analyze_study(study, tmp_path / "results.csv", num_resamples=50)
    unfiltered = analyze_study(study, tmp_path / "results.csv", vigilance_threshold=0.0, num_resamples=50)
    assert set(sim.spammers) <= set(kept["vigilance"]["failed_workers"])
    assert unfiltered["vigilance"]["failed_workers"] == []
    first = lambda r: next(c for c in r["comparisons"] if (c["model_a"], c["model_b"], c["question"]) ==  # noqa: E731
                           ("alpha", "beta", "quality"))
    assert first(unfiltered)["votes"] > first(kept)["votes"]
    assert abs(first(unfiltered)["win_rate_a"] - 0.5) < abs(first(kept)["win_rate_a"] - 0.5)


@pytest.mark.parametrize("answer_format", ["plain", "taskAnswers"])
def test_exact_mturk_results_format_round_trips_through_the_cli(big_study, tmp_path, answer_format):
    results = tmp_path / "Batch_123_batch_results.csv"
    assert main(["study", "simulate", str(big_study), "--strength", f"alpha={STRENGTHS['alpha']}", "gamma=-0.5",
                 "--workers", "24", "--spammers", "4", "--seed", "1", "--answer-format", answer_format,
                 "--out", str(results)]) == 0
    header_line = results.read_text(encoding="utf-8").splitlines()[0]
    answers = ("Answer.taskAnswers" if answer_format == "taskAnswers"
               else "Answer.quality,Answer.motion,Answer.text")
    assert header_line == MTURK_HEADER_START + answers + ",Approve,Reject"
    out = tmp_path / "report"
    assert main(["study", "analyze", str(big_study), str(results), "--resamples", "100", "--out", str(out)]) == 0
    report = json.loads((out / "analysis.json").read_text())
    assert report["problems"] == {} and report["counts"]["assignments_read"] == sum(
        h["max_assignments"] for h in load_study(big_study)["hits"])
    assert (out / "win_rates.png").stat().st_size > 1000 and (out / "bradley_terry.png").stat().st_size > 1000
    markdown = (out / "analysis.md").read_text()
    assert "| quality | alpha | beta |" in markdown and "Krippendorff" in markdown
    if answer_format == "taskAnswers":  # both formats carry the same votes
        plain = tmp_path / "plain.csv"
        main(["study", "simulate", str(big_study), "--strength", f"alpha={STRENGTHS['alpha']}", "gamma=-0.5",
              "--workers", "24", "--spammers", "4", "--seed", "1", "--out", str(plain)])
        other = analyze_study(load_study(big_study), plain, num_resamples=100)
        assert [c["wins_a"] for c in other["comparisons"]] == [c["wins_a"] for c in report["comparisons"]]


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def test_bad_rows_are_listed_and_the_rest_is_analysed(big_study, tmp_path, capsys):
    study, _ = _simulate(big_study, tmp_path / "good.csv", num_workers=24, num_spammers=0, seed=3)
    header, rows = _rows(tmp_path / "good.csv")
    col = {name: i for i, name in enumerate(header)}
    rows[0] = rows[0][:-3]                                     # row 2: malformed (fields missing)
    rows[1][col["Input.item_id"]] = "h9999"                    # row 3: unknown item id
    rows[2][col["Answer.motion"]] = ""                         # row 4: missing answer
    rows[3][col["Answer.text"]] = "both"                       # row 5: invalid answer
    rows[4][col["AssignmentStatus"]] = "Rejected"              # row 6: dropped, not a problem
    rows[5][col["Reject"]] = "x"                               # row 7: marked for rejection
    rows.append(list(rows[10]))                                # a repeated assignment
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header] + rows)
    assert main(["study", "analyze", str(big_study), str(bad), "--resamples", "20", "--out", str(tmp_path / "r")]) == 0
    report = json.loads((tmp_path / "r" / "analysis.json").read_text())
    assert report["problems"] == {"malformed_rows": [2], "unknown_item_ids": [3],
                                  "missing_answers": [[4, "motion"], [5, "text"]]}
    assert report["counts"]["dropped"] == {"rejected_assignments": 2, "repeated_assignments": 1}
    # rows 4 and 5 still give their other answers: 3 questions x (all rows - 5 unusable) - 2 missing
    assert report["counts"]["votes_read"] == 3 * (len(rows) - 5) - 2
    assert "not used: 1 x malformed row (wrong column count, no AssignmentId/WorkerId, answer JSON unreadable) (rows 2)" in capsys.readouterr().err
    assert main(["study", "analyze", str(big_study), str(bad), "--resamples", "20", "--strict",
                 "--out", str(tmp_path / "r2")]) == 1


def test_duplicate_votes_and_missing_columns(big_study, tmp_path):
    study, _ = _simulate(big_study, tmp_path / "good.csv", num_workers=24, num_spammers=0, seed=4)
    header, rows = _rows(tmp_path / "good.csv")
    col = {name: i for i, name in enumerate(header)}
    by_pair = {}
    hits = {h["item_id"]: h for h in study["hits"]}
    for row in rows:
        hit = hits[row[col["Input.item_id"]]]
        if hit["kind"] == "comparison":
            by_pair.setdefault(hit["pair_id"], []).append(row)
    first, second = next(r for r in by_pair.values() if len(r) >= 2)[:2]
    second[col["WorkerId"]] = first[col["WorkerId"]]  # the same worker votes twice on one pair
    path = tmp_path / "dup.csv"
    write_results_csv(path, header, [dict(zip(header, r)) for r in rows])
    report = analyze_study(study, path, num_resamples=10)
    assert report["counts"]["dropped"] == {"duplicate_votes": 3}  # one per question
    missing = tmp_path / "missing.csv"
    write_results_csv(missing, [h for h in header if h != "Answer.text"], [])
    with pytest.raises(ResultsFormatError, match="missing column.*Answer.text.*Answer.taskAnswers"):
        analyze_study(study, missing)
    with pytest.raises(ResultsFormatError, match="does not exist"):
        analyze_study(study, tmp_path / "nope.csv")


def test_results_header_is_the_batch_format():
    header = results_header(["item_id"], ["quality"])
    assert header[:3] == ["HITId", "HITTypeId", "Title"] and header[-3:] == ["Answer.quality", "Approve", "Reject"]
    assert len(header) == 27 + 1 + 1 + 2
