"""publish / fetch / review on a real boto3 MTurk client driven by botocore's Stubber: never a network call."""
from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from lumiere_eval.cli import main
from lumiere_eval.human_study.mturk import (
    ENDPOINTS, HitSettings, MTurkError, apply_review, estimate_cost, fetch, load_record, plan_review, publish,
)
from lumiere_eval.human_study.results import results_header
from lumiere_eval.human_study.sources import load_runs
from lumiere_eval.human_study.study import create_study, load_study
from test_human_study_support import make_manifest

boto3 = pytest.importorskip("boto3", reason="boto3 is the `mturk` extra")
from botocore.stub import ANY, Stubber  # noqa: E402

PROMPTS = ["a <b>bold</b> cat", "a dog"]
QA_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def client(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_CONFIG_FILE": "/dev/null",
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)
    mturk = boto3.client("mturk", region_name="us-east-1", endpoint_url=ENDPOINTS["sandbox"])
    with Stubber(mturk) as stubber:
        yield mturk, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def study_dir(tmp_path) -> Path:
    records = load_runs([str(make_manifest(tmp_path / "videos", PROMPTS))])
    create_study(records, tmp_path / "study", ["quality", "text"], raters=3, vigilance=0.3, seed=1,
                 base_url="https://cdn.example.org/s")
    return tmp_path / "study"


def _hit_id(n: int) -> str:
    return f"3HIT{n:026d}"


def _hit(study: dict, item_id: str, n: int) -> dict:
    hit = next(h for h in study["hits"] if h["item_id"] == item_id)
    return {"HIT": {"HITId": _hit_id(n), "HITTypeId": "3TYPE" + "0" * 25, "CreationTime": NOW,
                    "Title": "Compare two short videos", "Description": "d", "Keywords": "video",
                    "HITStatus": "Assignable", "MaxAssignments": hit["max_assignments"], "Reward": "0.50",
                    "AutoApprovalDelayInSeconds": 259200, "Expiration": NOW + timedelta(days=7),
                    "AssignmentDurationInSeconds": 600, "RequesterAnnotation": item_id}}


def _expect_hit_type(stubber):
    settings = HitSettings(reward="0.50")
    stubber.add_response("create_hit_type", {"HITTypeId": "3TYPE" + "0" * 25}, {
        "AutoApprovalDelayInSeconds": 259200, "AssignmentDurationInSeconds": 600, "Reward": "0.50",
        "Title": settings.title, "Keywords": settings.keywords, "Description": settings.description,
        "QualificationRequirements": [
            {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThanOrEqualTo",
             "IntegerValues": [98], "ActionsGuarded": "DiscoverPreviewAndAccept"},
            {"QualificationTypeId": "00000000000000000040", "Comparator": "GreaterThanOrEqualTo",
             "IntegerValues": [1000], "ActionsGuarded": "DiscoverPreviewAndAccept"},
            {"QualificationTypeId": "00000000000000000071", "Comparator": "In",
             "LocaleValues": [{"Country": "US"}], "ActionsGuarded": "DiscoverPreviewAndAccept"}]})


def _expect_create(stubber, study, hit, n):
    stubber.add_response("create_hit_with_hit_type", _hit(study, hit["item_id"], n), {
        "HITTypeId": "3TYPE" + "0" * 25, "MaxAssignments": hit["max_assignments"], "LifetimeInSeconds": 604800,
        "Question": ANY, "RequesterAnnotation": hit["item_id"],
        "UniqueRequestToken": f"{study['study_id']}-{hit['item_id']}"})


def test_cost_estimate_includes_fees():
    hits = [{"max_assignments": 3}] * 4 + [{"max_assignments": 10}]
    cost = estimate_cost(hits, Decimal("0.50"))
    # 22 assignments x 0.50 = 11.00; fees 12 x 0.10 + 10 x 0.20 = 3.20
    assert cost == {"hits": 5, "assignments": 22, "reward_per_assignment": "0.50", "rewards": "11.00",
                    "fees": "3.20", "total": "14.20"}
    assert estimate_cost([{"max_assignments": 2}], Decimal("0.02"))["fees"] == "0.02"  # $0.01 minimum
    with pytest.raises(MTurkError, match="--reward"):
        HitSettings(reward="0.505").reward_decimal()


def test_publish_confirms_creates_and_records(client, study_dir):
    mturk, stubber = client
    study = load_study(study_dir)
    _expect_hit_type(stubber)
    for n, hit in enumerate(study["hits"]):
        _expect_create(stubber, study, hit, n)
    asked = []
    record = publish(study, study_dir, mturk, "sandbox", HitSettings(reward="0.50"),
                     confirm=lambda cost: asked.append(cost) or True, log=lambda _: None)
    total_assignments = sum(h["max_assignments"] for h in study["hits"])
    assert total_assignments == 3 * len(study["pairs"])
    assert asked == [estimate_cost(study["hits"], Decimal("0.50"))]
    assert Decimal(asked[0]["total"]) == Decimal("0.60") * total_assignments
    assert set(record["hits"]) == {h["item_id"] for h in study["hits"]}
    assert load_record(study_dir, "sandbox") == record
    # running publish again creates nothing (an unexpected call would fail the stubber)
    publish(study, study_dir, mturk, "sandbox", HitSettings(reward="0.50"), confirm=lambda c: True, log=lambda _: None)


def test_question_xml_sent_to_mturk(client, study_dir):
    mturk, stubber = client
    study = load_study(study_dir)
    sent = []
    mturk.meta.events.register("provide-client-params.mturk.CreateHITWithHITType",
                               lambda params, **kw: sent.append(params["Question"]))
    _expect_hit_type(stubber)
    for n, hit in enumerate(study["hits"]):
        _expect_create(stubber, study, hit, n)
    publish(study, study_dir, mturk, "sandbox", HitSettings(reward="0.50"), confirm=lambda c: True, log=lambda _: None)
    assert len(sent) == len(study["hits"])
    for xml in sent:
        root = ElementTree.fromstring(xml)  # well-formed
        assert root.tag.endswith("HTMLQuestion") and len(xml.encode()) <= 65535
        html = root.find("{*}HTMLContent").text
        assert "<crowd-form>" in html and "https://cdn.example.org/s/" in html and "${" not in html
        assert "<b>bold</b>" not in html
    assert any("&lt;b&gt;bold&lt;/b&gt;" in xml for xml in sent)


def test_publish_resumes_without_duplicates(client, study_dir):
    mturk, stubber = client
    study = load_study(study_dir)
    hits = study["hits"]
    _expect_hit_type(stubber)
    _expect_create(stubber, study, hits[0], 0)
    stubber.add_client_error("create_hit_with_hit_type", "ServiceFailure", "Internal error", 500)
    with pytest.raises(MTurkError, match="Internal error"):
        publish(study, study_dir, mturk, "sandbox", HitSettings(reward="0.50"), confirm=lambda c: True,
                log=lambda _: None)
    assert list(load_record(study_dir, "sandbox")["hits"]) == [hits[0]["item_id"]]

    # the failed call had in fact created the HIT: the retry's token is refused, naming the existing HIT
    remaining = []
    stubber.add_client_error(
        "create_hit_with_hit_type", "RequestError",
        f"There is already a HIT which exists with the same UniqueRequestToken. HITId: {_hit_id(1)}", 400)
    stubber.add_response("get_hit", _hit(study, hits[1]["item_id"], 1), {"HITId": _hit_id(1)})
    for n, hit in enumerate(hits[2:], start=2):
        _expect_create(stubber, study, hit, n)
    publish(study, study_dir, mturk, "sandbox", HitSettings(reward="0.50"),
            confirm=lambda cost: remaining.append(cost["hits"]) or True, log=lambda _: None)
    assert remaining == [len(hits) - 1]
    record = load_record(study_dir, "sandbox")
    assert [record["hits"][h["item_id"]]["HITId"] for h in hits] == [_hit_id(n) for n in range(len(hits))]


def test_publish_cancelled_creates_nothing(client, study_dir):
    mturk, _ = client
    with pytest.raises(MTurkError, match="cancelled"):
        publish(load_study(study_dir), study_dir, mturk, "sandbox", HitSettings(), confirm=lambda c: False,
                log=lambda _: None)
    assert not (study_dir / "mturk_sandbox.json").exists()


def _answer_xml(answers: dict) -> str:
    payload = json.dumps([{q: {"left": a == "left", "right": a == "right"} for q, a in answers.items()}])
    return (f'<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="{QA_NS}"><Answer>'
            f"<QuestionIdentifier>taskAnswers</QuestionIdentifier><FreeText>{_xml_escape(payload)}</FreeText>"
            "</Answer></QuestionFormAnswers>")


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _published(client, study_dir) -> dict:
    mturk, stubber = client
    study = load_study(study_dir)
    _expect_hit_type(stubber)
    for n, hit in enumerate(study["hits"]):
        _expect_create(stubber, study, hit, n)
    publish(study, study_dir, mturk, "sandbox", HitSettings(reward="0.50"), confirm=lambda c: True, log=lambda _: None)
    return study


def _assignment(n: int, hit: dict, worker: str, answers: dict) -> dict:
    return {"AssignmentId": f"3ASG{n:026d}", "WorkerId": worker, "HITId": hit["HITId"],
            "AssignmentStatus": "Submitted", "AcceptTime": NOW, "SubmitTime": NOW + timedelta(seconds=42),
            "AutoApprovalTime": NOW + timedelta(days=3), "Answer": _answer_xml(answers)}


def test_fetch_paginates_writes_batch_format_and_review(client, study_dir, tmp_path):
    mturk, stubber = client
    study = _published(client, study_dir)
    record = load_record(study_dir, "sandbox")
    careless = "A3CARELESS0000"
    expected_rejects, n = [], 0
    for h_index, hit in enumerate(study["hits"]):
        api_hit = record["hits"][hit["item_id"]]
        assignments = []
        for k in range(hit["max_assignments"]):
            worker = careless if hit["kind"] == "vigilance" and k == 0 else f"A3WORKER{h_index:02d}{k}"
            if hit["kind"] == "vigilance":
                good = hit["expected"]["text"]
                side = good if worker != careless else ("left" if good == "right" else "right")
                answers = {"quality": side, "text": side}
                if worker == careless:
                    expected_rejects.append(f"3ASG{n:026d}")
            else:  # everyone prefers alpha
                side = "left" if hit["left"]["model"] == "alpha" else "right"
                answers = {"quality": side, "text": side}
            assignments.append(_assignment(n, api_hit, worker, answers))
            n += 1
        if h_index == 0 and len(assignments) > 1:  # first HIT: two pages
            stubber.add_response("list_assignments_for_hit", {"Assignments": assignments[:1], "NextToken": "page2"},
                                 {"HITId": api_hit["HITId"], "MaxResults": 100,
                                  "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]})
            stubber.add_response("list_assignments_for_hit", {"Assignments": assignments[1:]},
                                 {"HITId": api_hit["HITId"], "MaxResults": 100, "NextToken": "page2",
                                  "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]})
        else:
            stubber.add_response("list_assignments_for_hit", {"Assignments": assignments},
                                 {"HITId": api_hit["HITId"], "MaxResults": 100,
                                  "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]})
    results = tmp_path / "results.csv"
    assert fetch(study, study_dir, mturk, "sandbox", results) == n
    with results.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == results_header(["item_id", "video_left", "video_right", "prompt_html"], ["taskAnswers"])
    first = dict(zip(rows[0], rows[1]))
    assert first["Reward"] == "$0.50" and first["WorkTimeInSeconds"] == "42"
    assert first["SubmitTime"] == "Mon Nov 23 12:00:42 UTC 2026"

    # analyze reads the fetched file: alpha wins every comparison vote
    assert main(["study", "analyze", str(study_dir), str(results), "--resamples", "50",
                 "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report" / "analysis.json").read_text())
    for comparison in report["comparisons"]:
        assert comparison["win_rate_a"] == 1.0 and comparison["model_a"] == "alpha"
    assert report["vigilance"]["failed_workers"] == [careless]

    plan = plan_review(study, results, threshold=0.8, reject_workers=False)
    assert sorted(d["AssignmentId"] for d in plan if d["action"] == "reject") == sorted(expected_rejects)
    assert len(plan) == n
    for decision in plan:
        if decision["action"] == "approve":
            stubber.add_response("approve_assignment", {}, {"AssignmentId": decision["AssignmentId"]})
        else:
            stubber.add_response("reject_assignment", {}, {"AssignmentId": decision["AssignmentId"],
                                                           "RequesterFeedback": ANY})
    apply_review(plan, mturk, log=lambda _: None)


def test_review_dry_run_sends_nothing(study_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("lumiere_eval.human_study.mturk.make_client",
                        lambda env: pytest.fail("a dry run must not build a client"))
    study = load_study(study_dir)
    results = tmp_path / "r.csv"
    assert main(["study", "simulate", str(study_dir), "--workers", "6", "--spammers", "6", "--out", str(results)]) == 0
    assert main(["study", "review", str(study_dir), str(results), "--dry-run"]) == 0
    out = capsys.readouterr().out
    plan = plan_review(study, results, threshold=0.8, reject_workers=False)
    rejects = [d for d in plan if d["action"] == "reject"]
    assert rejects, "simulated spammers should fail some vigilance pairs"
    assert f"{len(plan) - len(rejects)} to approve, {len(rejects)} to reject" in out
    assert all(d["AssignmentId"] in out for d in rejects)


def test_review_takes_every_batch_of_a_study(study_dir, tmp_path, capsys):
    # a study published in two batches comes back as two downloads; the review judges workers across both
    study = load_study(study_dir)
    results = tmp_path / "all.csv"
    assert main(["study", "simulate", str(study_dir), "--workers", "6", "--spammers", "6", "--out", str(results)]) == 0
    header, *rows = results.read_text(encoding="utf-8").splitlines(keepends=True)
    batches = tmp_path / "batches"
    batches.mkdir()
    (batches / "a.csv").write_text(header + "".join(rows[: len(rows) // 2]), encoding="utf-8")
    (batches / "b.csv").write_text(header + "".join(rows[len(rows) // 2:]), encoding="utf-8")
    whole = plan_review(study, results, threshold=0.8, reject_workers=True)
    key = lambda plan: sorted((d["AssignmentId"], d["action"]) for d in plan)  # noqa: E731
    assert key(plan_review(study, [batches / "a.csv", batches / "b.csv"], 0.8, True)) == key(whole)
    assert main(["study", "review", str(study_dir), str(batches / "a.csv"), str(batches / "b.csv"),
                 "--reject-workers", "--dry-run"]) == 0
    assert main(["study", "review", str(study_dir), str(batches), "--reject-workers", "--dry-run"]) == 0
    rejects = sum(d["action"] == "reject" for d in whole)
    out = capsys.readouterr().out
    assert out.count(f"{len(whole) - rejects} to approve, {rejects} to reject") == 2
