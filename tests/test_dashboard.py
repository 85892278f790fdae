"""The dashboard: the path guard, the record readers, and every page run through Streamlit's AppTest
against fixture results roots (a good one, and one of malformed, partial and escaping records)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard_fixtures import HOSTILE_SUBSTRING, build_bad_root, build_good_root, write_run
from lumiere_eval.dashboard import records
from lumiere_eval.dashboard.cli import DashboardError, command
from lumiere_eval.dashboard.paths import OutsideResultsRootError, read_bytes_under, resolve_under
from lumiere_eval.runner.report import PUBLISHED_TABLE_1

APP = Path(__file__).resolve().parents[1] / "lumiere_eval" / "dashboard" / "app.py"
PAGES = ["leaderboard", "run", "videos", "compare", "study"]


@pytest.fixture(scope="module")
def good_root(tmp_path_factory) -> Path:
    return build_good_root(tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="module")
def bad_root(tmp_path_factory) -> Path:
    return build_bad_root(tmp_path_factory.mktemp("bad"), tmp_path_factory.mktemp("outside"))


def app(root: Path, page: str, monkeypatch, **params):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LUMIERE_EVAL_DASHBOARD_ROOT", str(root))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["page"] = page
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def texts(at) -> str:
    parts = [e.value for e in at.text] + [e.value for e in at.markdown] + [e.value for e in at.caption]
    return "\n".join(str(p) for p in parts)


def videos(at) -> list:
    return at.get("video")


# --- path guard ---------------------------------------------------------------------------------------

def test_path_guard_allows_inside_and_refuses_dotdot_absolute_and_escaping_symlinks(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "run").mkdir(parents=True)
    outside.mkdir()
    (root / "run" / "a.mp4").write_bytes(b"inside")
    (outside / "secret.txt").write_text("secret")
    (root / "run" / "inner_link.mp4").symlink_to(root / "run" / "a.mp4")
    (root / "run" / "escape.mp4").symlink_to(outside / "secret.txt")
    (root / "escape_dir").symlink_to(outside, target_is_directory=True)
    assert resolve_under(root, "run/a.mp4") == (root / "run" / "a.mp4").resolve()
    assert read_bytes_under(root, "run/inner_link.mp4") == b"inside"
    assert read_bytes_under(root, root / "run" / "a.mp4") == b"inside"
    for bad in ("../outside/secret.txt", "run/../../outside/secret.txt", str(outside / "secret.txt"),
                "run/escape.mp4", "escape_dir/secret.txt", "/etc/passwd"):
        with pytest.raises(OutsideResultsRootError, match="outside the results root"):
            read_bytes_under(root, bad)
    with pytest.raises(records.ResultFileError, match="missing.mp4"):
        read_bytes_under(root, "run/missing.mp4")


def test_find_files_skips_folders_linked_from_outside(bad_root):
    found = records.find_files(bad_root, records.RESULTS_FILE)
    assert Path("ok/results.json") in found and Path("broken/results.json") in found
    assert not any(p.parts[0] == "linked" for p in found)


# --- record readers -----------------------------------------------------------------------------------

def test_leaderboard_sorts_by_direction_and_appends_published_rows(good_root):
    runs = [records.load_run(good_root, p) for p in records.find_files(good_root, records.RESULTS_FILE)]
    board = records.leaderboard(runs, published=True, sort_by="fvd")
    measured = board[board["source"] == "measured"]
    assert list(measured["model"]) == ["beta", "alpha", "gamma"]  # FVD: lower is better
    assert list(records.leaderboard(runs, False, "is")["model"]) == ["gamma", "beta", "alpha"]  # IS: higher
    assert "FVD ↓" in board and "IS ↑" in board
    assert measured.iloc[0]["FVD ↓"] == "60.00 [55.00, 65.00]"
    published = board[board["source"] == records.PUBLISHED_SOURCE]
    assert list(published["model"]) == [row[0] for row in PUBLISHED_TABLE_1]
    lumiere = published[published["model"] == "Lumiere"].iloc[0]
    assert lumiere["FVD ↓"] == "332.49" and lumiere["IS ↑"] == "37.54"


def test_per_class_breakdown_from_samples(good_root):
    samples = records.load_samples(good_root, "suite/alpha")
    table = records.per_class(samples).set_index("class")
    assert table.loc["MoveLeft", "samples"] == 2
    assert table.loc["MoveLeft", "top-1 accuracy"] == 0.5  # one of two predicted the prompted class
    assert table.loc["MoveLeft", "mean clipsim"] == pytest.approx((20.0 + 21.0) / 2)


def test_malformed_records_raise_errors_naming_the_file(bad_root):
    with pytest.raises(records.ResultFileError, match=r"broken/results.json: malformed or partial JSON"):
        records.load_run(bad_root, "broken/results.json")
    with pytest.raises(records.ResultFileError, match=r"^partial/samples.jsonl line 3: not valid JSON"):
        records.load_samples(bad_root, "partial")
    with pytest.raises(records.ResultFileError, match=r"study/analysis.json: unexpected structure .*model_a"):
        records.load_analysis(bad_root, "study/analysis.json")


# --- CLI ----------------------------------------------------------------------------------------------

def test_cli_binds_localhost_runs_the_packaged_app_and_refuses_missing_root(tmp_path):
    import argparse

    from lumiere_eval.dashboard import cli

    line = command(8765)
    assert line[line.index("--server.address") + 1] == "127.0.0.1"
    assert line[line.index("--server.port") + 1] == "8765"
    assert Path(line[line.index("run") + 1]).resolve() == APP
    with pytest.raises(DashboardError, match="not a folder"):
        cli.run(argparse.Namespace(results_root=tmp_path / "missing", port=8501))
    with pytest.raises(DashboardError, match="not a TCP port"):
        cli.run(argparse.Namespace(results_root=tmp_path, port=70000))


def test_importing_the_package_and_the_record_readers_does_not_import_streamlit():
    code = ("import sys, lumiere_eval, lumiere_eval.cli, lumiere_eval.dashboard.records, "
            "lumiere_eval.dashboard.cli; print('streamlit' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


# --- every page through AppTest -----------------------------------------------------------------------

def test_leaderboard_page(good_root, monkeypatch):
    at = app(good_root, "leaderboard", monkeypatch)
    assert not at.exception and not at.error
    assert any("SYNTHETIC DOMAIN" in w.value for w in at.warning)
    board = at.dataframe[0].value
    assert {"alpha", "beta", "gamma", "Lumiere"} <= set(board["model"])
    assert (board["source"] == records.PUBLISHED_SOURCE).sum() == len(PUBLISHED_TABLE_1)
    at.multiselect(key="protocols").set_value(["ucf101-zs-v1_fixture"]).run()
    board = at.dataframe[0].value
    assert list(board[board["source"] == "measured"]["model"]) == ["gamma"]
    assert not any("SYNTHETIC DOMAIN" in w.value for w in at.warning)  # only a UCF101 run is left


def test_run_detail_page(good_root, monkeypatch):
    at = app(good_root, "run", monkeypatch, run="suite/beta")
    assert not at.exception and not at.error
    assert at.selectbox(key="run_detail").value == "beta (suite/beta)"
    assert "synthetic-zs-v1_fixture" in texts(at)
    metrics, per_class = at.dataframe[0].value, at.dataframe[1].value
    assert set(metrics["metric"]) == {"FVD ↓", "IS ↑"}
    assert list(per_class["class"]) == ["MoveLeft", "MoveRight"]
    assert len(at.get("image")) >= 1  # the comparison's plots.png
    assert "fixture-commit" in json.dumps([j.value for j in at.json])


def test_videos_page_filters_paginates_and_plays(good_root, monkeypatch):
    at = app(good_root, "videos", monkeypatch)
    assert not at.exception and not at.error
    assert len(videos(at)) == 4  # alpha's four samples
    assert HOSTILE_SUBSTRING in texts(at)  # shown as plain text
    at.multiselect(key="video_runs").set_value(["alpha (suite/alpha)", "beta (suite/beta)"]).run()
    assert len(videos(at)) == 8
    at.selectbox(key="per_page").set_value(6).run()
    assert len(videos(at)) == 6
    at.number_input(key="video_page").set_value(2).run()
    assert len(videos(at)) == 2
    at.number_input(key="video_page").set_value(1)
    at.multiselect(key="video_classes").set_value(["MoveLeft"]).run()
    assert len(videos(at)) == 4 and "MoveRight" not in texts(at)
    at.text_input(key="video_prompt").set_value("nothing like this").run()
    assert len(videos(at)) == 0 and "0 videos match" in texts(at)
    assert not at.exception


def test_videos_page_with_ten_thousand_samples_renders_one_page(tmp_path, monkeypatch):
    run = write_run(tmp_path / "big", "big", "synthetic", "p", 1.0, 1.0, samples_per_class=1)
    row = json.loads((run / "samples.jsonl").read_text().splitlines()[0])
    lines = [json.dumps(dict(row, index=i, seed=i, clipsim=float(i % 100))) + "\n" for i in range(10_000)]
    (run / "samples.jsonl").write_text("".join(lines))
    at = app(tmp_path, "videos", monkeypatch)
    assert not at.exception and not at.error
    assert "10000 videos match" in texts(at) and len(videos(at)) == 12
    at.number_input(key="video_page").set_value(834).run()
    assert len(videos(at)) == 4 and not at.exception


def test_compare_page_shows_the_same_prompt_and_seed_side_by_side(good_root, monkeypatch):
    at = app(good_root, "compare", monkeypatch)
    assert not at.exception and not at.error
    assert "4 (prompt, seed) pairs in common" in texts(at)
    assert len(videos(at)) == 2
    shown = texts(at)
    assert "alpha (suite/alpha)" in shown and "beta (suite/beta)" in shown
    at.selectbox(key="compare_pair").set_value(3).run()
    assert len(videos(at)) == 2 and not at.exception
    at.multiselect(key="compare_runs").set_value(["alpha (suite/alpha)", "gamma (ucf/gamma)"]).run()
    assert "2 (prompt, seed) pairs in common" in texts(at)  # gamma has one seed per class


def test_human_study_page(good_root, monkeypatch):
    at = app(good_root, "study", monkeypatch)
    assert not at.exception and not at.error
    analysis = json.loads((good_root / "study" / "analysis" / "analysis.json").read_text())
    wins, strengths, agreement, workers = (d.value for d in at.dataframe[:4])
    assert len(wins) == len(analysis["comparisons"]) == 2  # quality and motion, alpha vs beta
    assert list(wins["Wilson low"]) == [c["wilson_ci"][0] for c in analysis["comparisons"]]
    assert set(strengths["model"]) == {"alpha", "beta"}
    assert list(agreement["question"]) == ["quality", "motion"]
    assert len(workers) == analysis["vigilance"]["workers"]
    assert "workers removed" in texts(at)
    assert len(at.get("image")) >= 1


@pytest.mark.parametrize("page", PAGES)
def test_every_page_survives_malformed_partial_and_escaping_records(bad_root, monkeypatch, page):
    at = app(bad_root, page, monkeypatch)
    assert not at.exception
    if page in ("leaderboard", "run", "videos", "compare"):
        assert any("broken/results.json" in e.value for e in at.error)
    if page == "study":
        assert any("analysis.json" in e.value for e in at.error)


def test_partial_samples_and_escaping_video_paths_become_error_cards(bad_root, monkeypatch):
    at = app(bad_root, "videos", monkeypatch)
    at.multiselect(key="video_runs").set_value(["partialmodel (partial)", "escapemodel (escape)"]).run()
    errors = "\n".join(e.value for e in at.error)
    assert not at.exception
    assert "partial/samples.jsonl line 3: not valid JSON" in errors
    assert errors.count("outside the results root") == 2  # the ../ path and the symlink
    assert len(videos(at)) == 0  # nothing from outside was served
