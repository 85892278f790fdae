"""Issue 16, security and human-study answers: each bad input is built here and must get a clear answer.

Study inputs that leave their folder or are not videos, spreadsheet formulas in every CSV a study writes,
untrusted strings in the dashboard, and results files that are rejected-then-analysed, split into batches,
joined by hand, from another study, re-saved by Excel, binary or empty.
"""
from __future__ import annotations

import csv
import html
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from lumiere_eval.cli import main
from lumiere_eval.files import sha256_file
from lumiere_eval.human_study.analysis import analyze_study
from lumiere_eval.human_study.mturk import plan_review
from lumiere_eval.human_study.results import ResultsFormatError, read_results, write_results_csv
from lumiere_eval.human_study.simulate import simulate_results
from lumiere_eval.human_study.sources import StudyInputError, load_runs
from lumiere_eval.human_study.spreadsheet import FORMULA_START
from lumiere_eval.human_study.study import create_study, load_study, read_batch_inputs
from test_human_study_support import COLORS, make_manifest, tiny_video

P_ALPHA = 0.7  # P(alpha beats beta) in every simulated study here
STRENGTHS = {"alpha": float(np.log(P_ALPHA / (1 - P_ALPHA))), "beta": 0.0}
FORMULA_PROMPTS = ["=HYPERLINK(\"http://127.0.0.1:9/x\",\"click\")", "+1+cmd|' /C calc'!A0", "-2+3",
                   "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


# --- study inputs ----------------------------------------------------------------------------------------

def _manifest(folder: Path, rows: list[dict], name: str = "manifest.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder / name


def test_study_create_accepts_only_videos_inside_the_run_or_manifest_folder(tmp_path):
    outside = tiny_video(tmp_path / "outside.mp4", COLORS["alpha"], 1)
    folder = tmp_path / "runs"
    tiny_video(folder / "ok.mp4", COLORS["alpha"], 2)
    (folder / "link_out.mp4").parent.mkdir(exist_ok=True)
    (folder / "link_out.mp4").symlink_to(outside)
    (folder / "link_in.mp4").symlink_to(folder / "ok.mp4")
    cases = {"/etc/passwd": "outside", "../../etc/hostname": "does not exist|outside", "../outside.mp4": "outside",
             str(outside): "outside", "link_out.mp4": "outside"}
    if not Path("/etc/hostname").is_file():
        cases.pop("../../etc/hostname")
    for path, reason in cases.items():
        manifest = _manifest(folder, [{"model": "alpha", "prompt": "p", "seed": 0, "path": path}])
        with pytest.raises(StudyInputError, match=rf"manifest.jsonl line 1: .*({reason})"):
            load_runs([str(manifest)])
    # relative traversal that does resolve to an existing file outside: named, with where it leads
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hostname").write_text("secret-host\n")
    manifest = _manifest(folder, [{"model": "alpha", "prompt": "p", "seed": 0, "path": "../etc/hostname"}])
    with pytest.raises(StudyInputError, match=r"'\.\./etc/hostname' resolves to .*etc/hostname, outside"):
        load_runs([str(manifest)])
    # through the CLI: exit code 1 and nothing copied into media/
    assert main(["study", "create", "--runs", str(manifest), "--out", str(tmp_path / "study")]) == 1
    assert not (tmp_path / "study" / "media").exists()
    # a symlink that stays inside the folder is fine
    manifest = _manifest(folder, [{"model": "alpha", "prompt": "p", "seed": 0, "path": "link_in.mp4"}])
    assert load_runs([str(manifest)])[0].path == folder / "link_in.mp4"


def test_study_create_refuses_run_folder_entries_outside_the_folder(tmp_path):
    outside = tiny_video(tmp_path / "elsewhere.mp4", COLORS["beta"], 3)
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples.jsonl").write_text(json.dumps({"index": 0, "prompt": "p", "seed": 0, "path": "../elsewhere.mp4",
                                                   "sha256": sha256_file(outside)}) + "\n")
    with pytest.raises(StudyInputError, match=r"samples.jsonl line 1: .*outside"):
        load_runs([str(run)])
    assert outside.is_file()


def test_study_create_refuses_files_that_do_not_decode_as_video(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "notes.mp4").write_text("root:x:0:0:root:/root:/bin/bash\n")
    manifest = _manifest(folder, [{"model": "alpha", "prompt": "p", "seed": 0, "path": "notes.mp4"}])
    with pytest.raises(StudyInputError, match=r"line 1: 'notes.mp4' is not a readable video"):
        load_runs([str(manifest)])


def test_manifest_sha256_is_checked_where_given(tmp_path):
    folder = tmp_path / "m"
    tiny_video(folder / "a.mp4", COLORS["alpha"], 4)
    manifest = folder / "manifest.csv"
    manifest.write_text(f"model,prompt,seed,path,sha256\nalpha,p,0,a.mp4,{'0' * 64}\n")
    with pytest.raises(StudyInputError, match=r"manifest.csv row 2: .*a.mp4 does not match its recorded sha256"):
        load_runs([str(manifest)])
    manifest.write_text("model,prompt,seed,path,sha256\nalpha,p,0,a.mp4,\n")
    assert len(load_runs([str(manifest)])) == 1


# --- spreadsheet formulas ----------------------------------------------------------------------------------

class _PromptText(HTMLParser):
    """The text of <span id="prompt-text"> in a filled layout, as a browser shows it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inside, self.text = False, ""

    def handle_starttag(self, tag, attrs):
        self.inside = self.inside or dict(attrs).get("id") == "prompt-text"

    def handle_endtag(self, tag):
        if tag == "span":
            self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.text += data


def _cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def test_prompts_starting_with_formula_characters_are_inert_in_every_csv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative manifest folder named "=evil" puts a formula into media_manifest.csv
    make_manifest(Path("=evil"), FORMULA_PROMPTS)
    study = create_study(load_runs(["=evil/manifest.jsonl"]), Path("study"), ["quality", "text"], raters=2,
                         vigilance=0.2, seed=0)
    sim = simulate_results(study, read_batch_inputs(Path("study"), study), STRENGTHS, 6, 1, seed=0)
    for row in sim.rows[:3]:
        row["RequesterFeedback"] = "=HYPERLINK(\"http://127.0.0.1:9\")"  # untrusted text in a results CSV
    write_results_csv(Path("results.csv"), sim.header, sim.rows)
    for name in list(study["batch_files"]) + ["media_manifest.csv", "results.csv"]:
        cells = _cells(Path("study") / name if name != "results.csv" else Path(name))
        assert cells and not [c for c in cells if c.startswith(FORMULA_START)], name
    assert any(c.startswith("'=evil") for c in _cells(Path("study/media_manifest.csv")))
    # the MTurk input keeps HTML: the leading character is a character reference, and the HIT shows the prompt
    inputs = read_batch_inputs(Path("study"), study)
    for hit in study["hits"]:
        if hit["prompt"] in FORMULA_PROMPTS:
            assert inputs[hit["item_id"]]["prompt_html"].startswith("&#")
            parser = _PromptText()
            parser.feed((Path("study") / "preview" / f"{hit['item_id']}.html").read_text(encoding="utf-8"))
            assert parser.text == hit["prompt"], (parser.text, hit["prompt"])  # the text the HIT shows
    # our readers undo the spreadsheet quote: inputs still match the study, feedback reads back unchanged
    read = read_results(Path("results.csv"), study)
    assert read.votes and not read.problems
    assert sum(r["RequesterFeedback"] == "=HYPERLINK(\"http://127.0.0.1:9\")" for r in read.assignments.values()) == 3


# --- dashboard ------------------------------------------------------------------------------------------

HOSTILE_MARKDOWN = ["![beacon](http://127.0.0.1:9/beacon.png)", "<img src=\"http://127.0.0.1:9/i.png\">",
                    "[click](http://127.0.0.1:9/)", ":red[alarm] $x^2$ **bold** `code`", "http://127.0.0.1:9/auto"]


def _rendered(markdown_text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown_text)


def test_dashboard_plain_text_survives_markdown_rendering():
    from lumiere_eval.dashboard.views import plain

    for text in HOSTILE_MARKDOWN + ["folder/results.json: line 3 is malformed", "a\\b & c &amp; d"]:
        rendered = _rendered(plain(text))
        assert "<img" not in rendered and "<a " not in rendered and "<strong>" not in rendered
        assert "<code>" not in rendered
        shown = html.unescape(rendered.removeprefix("<p>").removesuffix("</p>\n"))
        assert shown == text, (text, rendered)


def test_dashboard_shows_untrusted_result_strings_as_plain_text(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from dashboard_fixtures import write_run

    run = write_run(tmp_path / "hostile", "hostile", "ucf101", "ucf101-zs-v1_fixture", 1.0, 1.0, samples_per_class=1)
    results = json.loads((run / "results.json").read_text())
    results["skipped_videos"] = HOSTILE_MARKDOWN
    results["unverified_weights"] = HOSTILE_MARKDOWN[:2]
    (run / "results.json").write_text(json.dumps(results))
    broken = tmp_path / "![x](http:"
    broken.mkdir()
    (broken / "results.json").write_text("{not json")
    monkeypatch.setenv("LUMIERE_EVAL_DASHBOARD_ROOT", str(tmp_path))
    app = Path(__file__).resolve().parents[1] / "lumiere_eval" / "dashboard" / "app.py"
    for page in ("run", "leaderboard"):
        at = AppTest.from_file(str(app), default_timeout=60)
        at.query_params["page"] = page
        at.run()
        assert not at.exception
        alerts = [e.value for e in at.warning] + [e.value for e in at.error]
        assert alerts
        for body in alerts:
            rendered = _rendered(body)
            assert "<img" not in rendered and "<a " not in rendered, body
        if page == "run":
            assert any(all(h in html.unescape(_rendered(b)) for h in HOSTILE_MARKDOWN[:1]) for b in alerts)
        else:
            assert any("![x](http:" in html.unescape(_rendered(e.value)) for e in at.error)


# --- results files --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reliability_study")
    prompts = [f"prompt {i}: a café scene" for i in range(20)]
    create_study(load_runs([str(make_manifest(root / "videos", prompts))]), root / "study",
                 ["quality", "motion", "text"], raters=6, vigilance=0.4, seed=0)
    return root / "study"


def _simulate(study_dir: Path, path: Path, **kwargs):
    study = load_study(study_dir)
    sim = simulate_results(study, read_batch_inputs(study_dir, study), STRENGTHS, **kwargs)
    write_results_csv(path, sim.header, sim.rows)
    return study, sim


def _read_rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def test_rejected_spammers_are_still_identified_and_the_interval_covers_the_truth(study_dir, tmp_path):
    # half the workers spam; seed 5 is one where every spammer meets enough attention checks to be caught
    study, sim = _simulate(study_dir, tmp_path / "results.csv", num_workers=12, num_spammers=6, seed=5)
    before = analyze_study(study, tmp_path / "results.csv", num_resamples=100)
    # the normal state after `study review`: every assignment with a failed attention check was rejected
    plan = plan_review(study, tmp_path / "results.csv", 0.8, reject_workers=False)
    rejected = {d["AssignmentId"] for d in plan if d["action"] == "reject"}
    assert rejected
    header, rows = _read_rows(tmp_path / "results.csv")
    for row in rows:
        if row["AssignmentId"] in rejected:
            row["AssignmentStatus"] = "Rejected"
    write_results_csv(tmp_path / "reviewed.csv", header, rows)
    report = analyze_study(study, tmp_path / "reviewed.csv", num_resamples=100)
    # workers are judged on all their answers: the review changes no vigilance verdict
    assert report["vigilance"]["by_worker"] == before["vigilance"]["by_worker"]
    assert set(sim.spammers) == set(report["vigilance"]["failed_workers"])
    assert report["vigilance"]["votes_removed"] > 0  # the spammers' comparison votes that were not rejected
    assert report["counts"]["dropped"]["rejected_assignments"] == len(rejected)
    assert report["counts"]["votes_in_rejected_assignments"] > 0
    for c in report["comparisons"]:
        assert (c["model_a"], c["model_b"]) == ("alpha", "beta")
        assert c["wilson_ci"][0] <= P_ALPHA <= c["wilson_ci"][1], c
    # what dropping rejected rows first amounted to: nobody judged, the spammers' other votes kept, truth missed
    blind = analyze_study(study, tmp_path / "reviewed.csv", vigilance_threshold=0.0, num_resamples=50)
    assert blind["vigilance"]["failed_workers"] == []
    assert any(not b["wilson_ci"][0] <= P_ALPHA <= b["wilson_ci"][1] for b in blind["comparisons"])


def _wins(report: dict) -> list[int]:
    return [c["wins_a"] for c in report["comparisons"]]


def test_several_batches_a_folder_and_duplicate_assignments(study_dir, tmp_path):
    study, _ = _simulate(study_dir, tmp_path / "all.csv", num_workers=20, num_spammers=2, seed=6)
    whole = analyze_study(study, tmp_path / "all.csv", num_resamples=20)
    header, rows = _read_rows(tmp_path / "all.csv")
    half = len(rows) // 2
    batches = tmp_path / "batches"
    batches.mkdir()
    write_results_csv(batches / "Batch_1_batch_results.csv", header, rows[:half + 5])  # 5 rows in both
    write_results_csv(batches / "Batch_2_batch_results.csv", header, rows[half:])
    files = sorted(batches.glob("*.csv"))
    for given in (files, [batches]):
        split = analyze_study(study, given, num_resamples=20)
        assert _wins(split) == _wins(whole)
        assert split["counts"]["assignments_read"] == whole["counts"]["assignments_read"]
        assert split["counts"]["dropped"].get("repeated_assignments") == 5
        assert sum("Batch_1_batch_results.csv row" in w and "Batch_2" in w for w in split["warnings"]) == 5
    # the same assignment downloaded before and after review: the Rejected copy wins, whichever file is first
    rows_b = [dict(r) for r in rows[half:]]
    rows_b[0]["AssignmentStatus"] = "Rejected"
    write_results_csv(batches / "Batch_2_batch_results.csv", header, rows_b)
    read = read_results([batches], study)
    assert read.assignments[rows_b[0]["AssignmentId"]]["AssignmentStatus"] == "Rejected"
    # through the CLI: several files and a folder
    out = tmp_path / "report"
    assert main(["study", "analyze", str(study_dir), *map(str, files), "--resamples", "10", "--out", str(out)]) == 0
    assert json.loads((out / "analysis.json").read_text())["results_files"] == [str(f) for f in files]


def test_files_joined_by_hand(study_dir, tmp_path):
    study, _ = _simulate(study_dir, tmp_path / "all.csv", num_workers=20, num_spammers=2, seed=7)
    whole = analyze_study(study, tmp_path / "all.csv", num_resamples=20)
    lines = (tmp_path / "all.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    half = len(lines) // 2
    joined = tmp_path / "joined.csv"
    joined.write_text("".join(lines[:half] + lines[:1] + lines[half:]), encoding="utf-8")  # second header row
    report = analyze_study(study, joined, num_resamples=20)
    assert _wins(report) == _wins(whole) and report["problems"] == {}
    assert any(f"row {half + 1}: repeats the header row" in w for w in report["warnings"])
    # a second header of another layout (taskAnswers instead of one column per question) is refused
    _simulate(study_dir, tmp_path / "task.csv", num_workers=20, num_spammers=2, seed=7, answer_format="taskAnswers")
    other = (tmp_path / "task.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    joined.write_text("".join(lines[:half] + other), encoding="utf-8")
    with pytest.raises(ResultsFormatError, match=rf"joined.csv row {half + 1}: a second header row with other "
                                                 "columns.*pass the downloaded files separately"):
        analyze_study(study, joined)
    # passed separately, the two layouts are read together
    write_results_csv(tmp_path / "first.csv", *(_read_rows(tmp_path / "all.csv")[0],
                                                 _read_rows(tmp_path / "all.csv")[1][:half - 1]))
    assert analyze_study(study, [tmp_path / "first.csv", tmp_path / "task.csv"], num_resamples=5)["counts"][
        "votes_read"] > 0


def test_results_of_another_study_are_refused(study_dir, tmp_path):
    study, _ = _simulate(study_dir, tmp_path / "ours.csv", num_workers=12, num_spammers=0, seed=8)
    # another study of other videos with the same item ids h0001...
    root = tmp_path / "other"
    prompts = [f"prompt {i}: a café scene" for i in range(20)]
    make_manifest(root / "videos", prompts, models=("alpha", "beta"))
    for video in (root / "videos").glob("*.mp4"):  # other bytes, so other media names
        tiny_video(video, (9, 9, 9), len(video.name))
    other = create_study(load_runs([str(root / "videos" / "manifest.jsonl")]), root / "study",
                         ["quality", "motion", "text"], raters=6, vigilance=0.4, seed=0)
    assert {h["item_id"] for h in other["hits"]} == {h["item_id"] for h in study["hits"]}
    _simulate(root / "study", tmp_path / "theirs.csv", num_workers=12, num_spammers=0, seed=8)
    with pytest.raises(ResultsFormatError, match=r"do not belong to study .*theirs.csv row 2 \(HIT h\d+\): "
                                                 r"Input.video_left is"):
        analyze_study(study, tmp_path / "theirs.csv")
    # one edited prompt in our own results: named by row, HIT and field
    header, rows = _read_rows(tmp_path / "ours.csv")
    rows[3]["Input.prompt_html"] = "a different prompt"
    write_results_csv(tmp_path / "edited.csv", header, rows)
    with pytest.raises(ResultsFormatError, match=rf"edited.csv row 5 \(HIT {rows[3]['Input.item_id']}\): "
                                                 r"Input.prompt_html is 'a different prompt'"):
        analyze_study(study, tmp_path / "edited.csv")
    assert main(["study", "analyze", str(study_dir), str(tmp_path / "edited.csv"), "--out", str(tmp_path / "r")]) == 1
    # missing input columns: the results cannot be tied to the study
    write_results_csv(tmp_path / "noinputs.csv", [h for h in header if h != "Input.video_right"], [])
    with pytest.raises(ResultsFormatError, match="missing column.*Input.video_right"):
        analyze_study(study, tmp_path / "noinputs.csv")


def test_excel_latin1_utf16_binary_and_header_only_files(study_dir, tmp_path):
    study, _ = _simulate(study_dir, tmp_path / "utf8.csv", num_workers=12, num_spammers=1, seed=9)
    text = (tmp_path / "utf8.csv").read_text(encoding="utf-8")
    assert "café" in text  # the prompts carry non-ASCII characters
    whole = analyze_study(study, tmp_path / "utf8.csv", num_resamples=20)
    for encoding, name in (("cp1252", "Windows-1252"), ("utf-16", "UTF-16")):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        report = analyze_study(study, path, num_resamples=20)
        assert _wins(report) == _wins(whole)
        assert any(f"{path.name}" in w and f"decoded as {name}" in w for w in report["warnings"])
    binary = tmp_path / "results.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(ResultsFormatError, match=r"results.csv: binary data \(NUL byte at offset 8\)"):
        analyze_study(study, binary)
    assert main(["study", "analyze", str(study_dir), str(binary), "--out", str(tmp_path / "b")]) == 1
    # header only: exit code 1, a message naming the file, and a valid (strict) JSON empty analysis
    empty = tmp_path / "header_only.csv"
    empty.write_text(text.splitlines()[0] + "\n", encoding="utf-8")
    out = tmp_path / "empty_report"
    assert main(["study", "analyze", str(study_dir), str(empty), "--resamples", "5", "--out", str(out)]) == 1

    def refuse(constant):
        raise ValueError(f"bare {constant} in analysis.json")

    report = json.loads((out / "analysis.json").read_text(), parse_constant=refuse)
    assert report["counts"]["comparison_votes_used"] == 0
    assert all(c["win_rate_a"] is None and c["wilson_ci"] == [None, None] for c in report["comparisons"])
    assert (tmp_path / "nothing.csv").write_text("") == 0
    with pytest.raises(ResultsFormatError, match="nothing.csv: empty file"):
        analyze_study(study, tmp_path / "nothing.csv")


def test_header_only_message_names_the_file(study_dir, tmp_path, capsys):
    study, _ = _simulate(study_dir, tmp_path / "utf8.csv", num_workers=4, num_spammers=0, seed=10)
    empty = tmp_path / "Batch_9_batch_results.csv"
    empty.write_text((tmp_path / "utf8.csv").read_text(encoding="utf-8").splitlines()[0] + "\n")
    assert main(["study", "analyze", str(study_dir), str(empty), "--out", str(tmp_path / "r")]) == 1
    assert "Batch_9_batch_results.csv: no usable answers (0 assignments" in capsys.readouterr().err
