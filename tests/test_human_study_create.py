"""`study create`: inputs, pairing, counterbalancing, vigilance videos, escaping, batch CSV and layout."""
from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from lumiere_eval import LumiereEvalError
from lumiere_eval.cli import main
from lumiere_eval.human_study.design import design_study, parse_questions
from lumiere_eval.human_study.layout import (
    LayoutError, build_layout, fill_layout, html_question_xml, layout_variables, mturk_safe_html,
)
from lumiere_eval.human_study.sources import StudyInputError, load_runs
from lumiere_eval.human_study.study import create_study, load_study
from lumiere_eval.video import read_video
from test_human_study_support import make_manifest, make_run_folder

HOSTILE = "<script>alert(1)</script> a cat & a \"dog\" 😀 ${item_id}"
PROMPTS = ["a dog runs on a beach", HOSTILE, "a red car drives", "waves at night"]


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("create")
    make_run_folder(root / "run_alpha", "alpha", PROMPTS)
    make_run_folder(root / "run_beta", "beta", PROMPTS)
    make_run_folder(root / "gamma_run", "gamma", PROMPTS[:3], name_in_results=False)
    code = main(["study", "create", "--runs", str(root / "run_alpha"), str(root / "run_beta"),
                 f"gamma={root / 'gamma_run'}", "--raters", "5", "--vigilance", "0.2", "--seed", "7",
                 "--base-url", "https://cdn.example.org/study1/", "--out", str(root / "study")])
    assert code == 0
    return root / "study"


def test_inputs_from_manifests_and_run_folders(tmp_path):
    jsonl = make_manifest(tmp_path / "m1", ["p0", "p1"], suffix=".jsonl")
    csv_manifest = make_manifest(tmp_path / "m2", ["p0", "p1"], models=("gamma",), suffix=".csv")
    run = make_run_folder(tmp_path / "folder_name", "beta", ["p0"], name_in_results=False)
    records = load_runs([str(jsonl), f"delta={csv_manifest}", str(run)])
    assert Counter(r.model for r in records) == {"alpha": 2, "beta": 2, "delta": 2, "folder_name": 1}
    with pytest.raises(StudyInputError, match="also comes from"):
        load_runs([str(jsonl), str(jsonl)])


def test_bad_inputs_name_the_file_and_field(tmp_path):
    run = make_run_folder(tmp_path / "run", "alpha", ["p0", "p1"])
    lines = (run / "samples.jsonl").read_text().splitlines()
    broken = json.loads(lines[1])
    broken["sha256"] = "0" * 64
    (run / "samples.jsonl").write_text(lines[0] + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(StudyInputError, match=r"1 sample video\(s\) are not the files samples.jsonl records .*"
                                              r"content changed \(SHA-256 000000000000\.\.\. recorded"):
        load_runs([str(run)])
    (run / "samples.jsonl").write_text(lines[0] + "\n{not json\n")
    with pytest.raises(StudyInputError, match="line 2: not valid JSON"):
        load_runs([str(run)])
    manifest = tmp_path / "m.csv"
    manifest.write_text("model,prompt,seed,path\nalpha,p,one,x.mp4\n")
    with pytest.raises(StudyInputError, match="m.csv row 2: .*'seed'"):
        load_runs([str(manifest)])
    manifest.write_text("model,prompt,path\nalpha,p,x.mp4\n")
    with pytest.raises(StudyInputError, match="lacks the column.*seed"):
        load_runs([str(manifest)])
    manifest.write_text("model,prompt,seed,path\nalpha,p,1,missing.mp4\n")
    with pytest.raises(StudyInputError, match="missing.mp4 does not exist"):
        load_runs([str(manifest)])
    with pytest.raises(LumiereEvalError, match="unknown question"):
        parse_questions("quality,smell")


def test_design_pairs_counterbalances_and_is_seeded(tmp_path):
    records = load_runs([str(make_manifest(tmp_path, ["p0", "p1", "p2"], models=("alpha", "beta", "gamma")))])
    design = design_study(records, ["quality", "motion", "text"], raters=5, vigilance=0.25, seed=3)
    assert design == design_study(records, ["quality", "motion", "text"], raters=5, vigilance=0.25, seed=3)
    assert design != design_study(records, ["quality", "motion", "text"], raters=5, vigilance=0.25, seed=4)
    comparisons = [p for p in design["pairs"] if p["kind"] == "comparison"]
    assert len(comparisons) == 3 * 3  # 3 prompts x C(3, 2) model pairs
    by_pair = defaultdict(list)
    for hit in design["hits"]:
        by_pair[hit["pair_id"]].append(hit)
    for pair in design["pairs"]:
        hits = by_pair[pair["pair_id"]]
        assert sorted(h["max_assignments"] for h in hits) == [2, 3]  # 5 raters over both orders
        assert {(h["left"]["model"], h["right"]["model"]) for h in hits} == {tuple(pair["models"]),
                                                                            tuple(reversed(pair["models"]))}
        for hit in hits:
            if pair["kind"] == "comparison":
                left, right = records[hit["left"]["record"]], records[hit["right"]["record"]]
                assert (left.prompt, left.seed) == (right.prompt, right.seed) == (pair["prompt"], pair["seed"])
    vigilance = [p for p in design["pairs"] if p["kind"] == "vigilance"]
    assert len(vigilance) == 3  # ceil(0.25 * 9 / 0.75): a quarter of all pairs
    # the side that holds the real video is the expected answer of every checked question
    for hit in design["hits"]:
        if hit["kind"] == "vigilance":
            real = "left" if hit["left"]["model"] == "real" else "right"
            assert hit["expected"] and set(hit["expected"].values()) == {real}
            assert "motion" in hit["expected"] and "text" in hit["expected"]
    firsts = Counter(h["left"]["model"] for h in design["hits"] if h["kind"] == "comparison")
    assert firsts == {"alpha": 6, "beta": 6, "gamma": 6}  # every model as often on the left as on the right


def test_study_folder_contents(study_dir):
    study = load_study(study_dir)
    assert study["models"] == ["alpha", "beta", "gamma"]
    assert len([p for p in study["pairs"] if p["kind"] == "comparison"]) == 4 + 3 + 3
    media = {p.name for p in (study_dir / "media").iterdir()}
    for hit in study["hits"]:
        assert hit["left"]["media"] in media and hit["right"]["media"] in media
        assert all(m not in hit["left"]["media"] for m in ("alpha", "beta", "gamma", "real", "vig"))
    with (study_dir / "media_manifest.csv").open(newline="") as handle:
        manifest = list(csv.DictReader(handle))
    assert {Path(r["file"]).name for r in manifest} == media
    assert all(r["url"].startswith("https://cdn.example.org/study1/") for r in manifest)
    assert len(list((study_dir / "preview").glob("*.html"))) == len(study["hits"])


def test_batch_csv_is_mturk_safe_and_escaped(study_dir):
    study = load_study(study_dir)
    rows = {}
    for name, count in study["batch_files"].items():
        raw = (study_dir / name).read_bytes()
        text = raw.decode("utf-8")  # valid UTF-8
        assert all(ord(ch) <= 0xFFFF for ch in text), "4-byte characters must not reach MTurk"
        with (study_dir / name).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows[row["item_id"]] = row
                assert study["hits"][int(row["item_id"][1:]) - 1]["max_assignments"] == count
    assert set(rows) == {h["item_id"] for h in study["hits"]}
    hostile = [h for h in study["hits"] if h["prompt"] == HOSTILE]
    assert hostile and {e["item_id"] for e in study["replaced_characters"]} == {h["item_id"] for h in hostile}
    for hit in hostile:
        value = rows[hit["item_id"]]["prompt_html"]
        assert "<script>" not in value and "&lt;script&gt;" in value and "&#x1F600;" in value
        assert "${" not in value  # a prompt cannot inject another placeholder
        page = (study_dir / "preview" / f"{hit['item_id']}.html").read_text(encoding="utf-8")
        assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_layout_uses_crowd_form_and_required_radios(study_dir):
    layout = (study_dir / "layout.html").read_text(encoding="utf-8")
    assert layout_variables(layout) == ["video_left", "video_right", "prompt_html"]
    assert '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>' in layout
    assert "<crowd-form>" in layout and "</crowd-form>" in layout
    for question in ("quality", "motion", "text"):
        assert layout.count(f'type="radio" name="{question}"') == 2
        assert f'name="{question}" value="left" required' in layout
    assert "prompt_html" not in build_layout(["quality"])  # the prompt is shown only for the text question


def test_vigilance_count_is_not_raised_by_floating_point_round_off(tmp_path):
    # 0.2 * 12 / 0.8 is 3.0000000000000004 in floating point: a fifth of 15 pairs is 3 vigilance pairs, not 4
    prompts = [f"p{i}" for i in range(12)]
    records = load_runs([str(make_manifest(tmp_path, prompts, models=("alpha", "beta")))])
    design = design_study(records, ["quality"], raters=3, vigilance=0.2, seed=0)
    assert sum(p["kind"] == "comparison" for p in design["pairs"]) == 12
    assert sum(p["kind"] == "vigilance" for p in design["pairs"]) == 3


def test_vigilance_videos_are_frozen_and_shuffled_copies(study_dir):
    study = load_study(study_dir)
    kinds = {s["type"] for s in study["vigilance_sources"]}
    assert kinds == {"frozen", "shuffled"}
    for source in study["vigilance_sources"]:
        copy, _ = read_video(study_dir / "media" / source["media"])
        original, _ = read_video(source["degraded_from"])
        assert copy.shape == original.shape
        diffs = np.abs(copy.astype(int) - original.astype(int)).mean(axis=(1, 2, 3))
        if source["type"] == "frozen":
            assert np.abs(copy.astype(int) - copy[:1].astype(int)).max() <= 12  # every frame ~ the first
            assert np.abs(copy[0].astype(int) - original[0].astype(int)).mean() < 6
        else:
            assert diffs.max() > 20  # frames moved
            # every frame of the copy is (up to coding noise) one of the original's frames
            for frame in copy:
                assert min(np.abs(frame.astype(int) - o.astype(int)).mean() for o in original) < 6
        assert source["original"] != source["degraded_from"]  # text question: a mismatched prompt


def test_fill_layout_and_html_question_limits():
    layout = build_layout(["quality", "text"])
    safe, replaced = mturk_safe_html(HOSTILE)
    values = {"item_id": "h0001", "video_left": "https://x/a.mp4", "video_right": "https://x/b.mp4", "prompt_html": safe}
    xml = html_question_xml(fill_layout(layout, values))
    assert xml.startswith('<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
                          '2011-11-11/HTMLQuestion.xsd">')
    assert "<FrameHeight>0</FrameHeight>" in xml and "${" not in xml and replaced == ["😀"]
    with pytest.raises(LayoutError, match="no value for \\$\\{video_right\\}"):
        fill_layout(layout, {"video_left": "a", "prompt_html": "b"})
    with pytest.raises(LayoutError, match="over MTurk's limit of 65535"):
        html_question_xml(fill_layout(layout, dict(values, prompt_html=mturk_safe_html("x" * 70_000)[0])))


def test_create_refuses_an_existing_study_and_unpaired_runs(tmp_path, study_dir):
    with pytest.raises(StudyInputError, match="already holds a study"):
        create_study([], study_dir, ["quality"])
    records = load_runs([str(make_manifest(tmp_path, ["only"], models=("alpha",)))])
    with pytest.raises(StudyInputError, match="no \\(prompt, seed\\) is shared by two models"):
        create_study(records, tmp_path / "s", ["quality"])


def test_shipped_example_manifest_has_the_manifest_columns():
    from lumiere_eval.assets import asset
    from lumiere_eval.human_study.sources import MANIFEST_FIELDS

    text = asset("human_study", "example_manifest.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert tuple(rows[0]) == MANIFEST_FIELDS
    assert len({(r["prompt"], r["seed"]) for r in rows}) < len(rows)  # prompts shared across models: pairable


def test_preview_pages_escape_media_names(tmp_path):
    """A video file's suffix is kept in its media name; the local preview must escape it as the batch CSV does."""
    manifest = make_manifest(tmp_path / "m", ["a cat", "a dog"])
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        hostile = row["path"] + '"><b id=x onmouseover=alert(1)>'
        (tmp_path / "m" / row["path"]).rename(tmp_path / "m" / hostile)
        row["path"] = hostile
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["study", "create", "--runs", str(manifest), "--raters", "3", "--vigilance", "0", "--seed", "1",
                 "--out", str(tmp_path / "study")]) == 0
    pages = list((tmp_path / "study" / "preview").glob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert '"><b id=x' not in text and "&quot;&gt;&lt;b id=x" in text


def test_batch_files_named_in_study_json_stay_inside_the_study_folder(study_dir, tmp_path):
    """A study.json from someone else cannot make publish or simulate read a CSV outside its folder."""
    from lumiere_eval.human_study.study import read_batch_inputs

    study = load_study(study_dir)
    assert read_batch_inputs(study_dir, study)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("item_id,prompt_html\nh0001,x\n", encoding="utf-8")
    for name in (f"../{outside.parent.name}/{outside.name}", str(outside)):
        with pytest.raises(StudyInputError, match="not a file name in the study folder"):
            read_batch_inputs(study_dir, dict(study, batch_files={name: 1}))
