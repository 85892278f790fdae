"""The MTurk API route (boto3, extra `mturk`): publish HITs, fetch assignments, approve or reject them.

Every call goes through a client passed in, so the tests drive the real boto3 client through botocore's
Stubber. What was created is written to STUDY/mturk_<environment>.json after each HIT, and every HIT carries
a UniqueRequestToken derived from the study and item ids, so running publish again after a crash or a
network error resumes without creating a HIT twice.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from lumiere_eval import LumiereEvalError
from lumiere_eval.human_study.layout import fill_layout, html_question_xml
from lumiere_eval.human_study.results import read_results, results_header, write_results_csv
from lumiere_eval.human_study.study import read_batch_inputs, write_json_atomic

ENDPOINTS = {"sandbox": "https://mturk-requester-sandbox.us-east-1.amazonaws.com",
             "production": "https://mturk-requester.us-east-1.amazonaws.com"}
QUAL_APPROVAL_RATE = "000000000000000000L0"
QUAL_NUMBER_APPROVED = "00000000000000000040"
QUAL_LOCALE = "00000000000000000071"
FEE_RATE = Decimal("0.20")
LARGE_HIT_EXTRA_FEE = Decimal("0.20")  # HITs with 10 or more assignments pay 20% more
MIN_FEE = Decimal("0.01")  # MTurk's minimum commission per assignment
_HIT_ID = re.compile(r"\b[0-9A-Z]{30}\b")


class MTurkError(LumiereEvalError):
    """A publish/fetch/review step that cannot go on: bad options, a refused call, an unexpected answer."""


@dataclass(frozen=True)
class HitSettings:
    """What every HIT of a study shares: the HIT type (pay, texts, timing, qualifications) and its lifetime."""

    reward: str = "0.10"
    title: str = "Compare two short videos"
    description: str = "Watch two short AI-generated videos side by side and say which one is better."
    keywords: str = "video, comparison, quality, rating"
    assignment_duration: int = 600
    auto_approval_delay: int = 259_200
    lifetime: int = 604_800
    min_approval_rate: int = 98
    min_approved: int = 1000
    locales: tuple[str, ...] = ("US",)

    def reward_decimal(self) -> Decimal:
        """The reward as a Decimal, checked to be a positive USD amount with at most two decimals."""
        try:
            value = Decimal(self.reward)
        except InvalidOperation:
            raise MTurkError(f"--reward must be a USD amount such as 0.50, got {self.reward!r}") from None
        if value <= 0 or value != value.quantize(Decimal("0.01")):
            raise MTurkError(f"--reward must be positive with at most two decimals, got {self.reward!r}")
        return value

    def qualifications(self) -> list[dict]:
        """MTurk QualificationRequirements: approval rate, number of approved HITs, worker locale."""
        guard = {"ActionsGuarded": "DiscoverPreviewAndAccept"}
        quals = [{"QualificationTypeId": QUAL_APPROVAL_RATE, "Comparator": "GreaterThanOrEqualTo",
                  "IntegerValues": [self.min_approval_rate], **guard}]
        if self.min_approved > 0:
            quals.append({"QualificationTypeId": QUAL_NUMBER_APPROVED, "Comparator": "GreaterThanOrEqualTo",
                          "IntegerValues": [self.min_approved], **guard})
        if self.locales:
            quals.append({"QualificationTypeId": QUAL_LOCALE, "Comparator": "In",
                          "LocaleValues": [{"Country": c} for c in self.locales], **guard})
        return quals


def make_client(environment: str):
    """A boto3 MTurk client for "sandbox" or "production" (credentials from the usual AWS sources)."""
    try:
        import boto3
    except ImportError:
        raise MTurkError("publishing needs boto3: pip install 'lumiere-eval[mturk]'") from None
    return boto3.client("mturk", region_name="us-east-1", endpoint_url=ENDPOINTS[environment])


def estimate_cost(hits: list[dict], reward: Decimal) -> dict:
    """Rewards plus MTurk fees (20%, 40% for HITs with 10+ assignments, at least $0.01 per assignment)."""
    rewards = fees = Decimal("0")
    assignments = 0
    for hit in hits:
        n = int(hit["max_assignments"])
        rate = FEE_RATE + (LARGE_HIT_EXTRA_FEE if n >= 10 else Decimal("0"))
        fee = max(MIN_FEE, (reward * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        rewards += reward * n
        fees += fee * n
        assignments += n
    return {"hits": len(hits), "assignments": assignments, "reward_per_assignment": f"{reward:.2f}",
            "rewards": f"{rewards:.2f}", "fees": f"{fees:.2f}", "total": f"{rewards + fees:.2f}"}


def record_path(folder: Path, environment: str) -> Path:
    """Where a study's created HIT type and HITs are recorded for one environment."""
    return Path(folder) / f"mturk_{environment}.json"


def load_record(folder: Path, environment: str) -> dict:
    """The publish record of `environment`, or an empty one."""
    path = record_path(folder, environment)
    if not path.is_file():
        return {"environment": environment, "hit_type_id": None, "hits": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def publish(study: dict, folder: Path, client, environment: str, settings: HitSettings,
            confirm: Callable[[dict], bool], log: Callable[[str], None] = print) -> dict:
    """Create the HIT type and every HIT not yet recorded, after `confirm(cost)` agrees; returns the record."""
    base_url = study["options"].get("base_url", "")
    if not base_url.startswith("https://"):
        raise MTurkError(f"{folder}: the study has no https --base-url for its videos (got {base_url!r}); "
                         "host media/ and create the study again with --base-url https://...")
    reward = settings.reward_decimal()
    record = load_record(folder, environment)
    inputs = read_batch_inputs(folder, study)
    layout_file = Path(folder) / "layout.html"
    if not layout_file.is_file():
        raise MTurkError(f"{layout_file}: missing; the study folder is incomplete")
    layout = layout_file.read_text(encoding="utf-8")  # the very layout the batch route would use
    pending = [h for h in study["hits"] if h["item_id"] not in record["hits"]]
    questions = {h["item_id"]: html_question_xml(fill_layout(layout, inputs[h["item_id"]], h["item_id"]),
                                                 h["item_id"]) for h in pending}
    cost = estimate_cost(pending, reward)
    log(f"{environment}: {cost['hits']} HITs to create ({len(record['hits'])} already created), "
        f"{cost['assignments']} assignments x ${cost['reward_per_assignment']} = ${cost['rewards']} "
        f"+ MTurk fees ${cost['fees']} = ${cost['total']}")
    if not pending:
        return record
    from botocore.exceptions import ClientError

    if not confirm(cost):
        raise MTurkError("publishing cancelled; nothing was created")
    if not record["hit_type_id"]:
        response = client.create_hit_type(
            AutoApprovalDelayInSeconds=settings.auto_approval_delay,
            AssignmentDurationInSeconds=settings.assignment_duration, Reward=f"{reward:.2f}",
            Title=settings.title, Keywords=settings.keywords, Description=settings.description,
            QualificationRequirements=settings.qualifications())
        record["hit_type_id"] = response["HITTypeId"]
        write_json_atomic(record_path(folder, environment), record)
    for hit in pending:
        token = f"{study['study_id']}-{hit['item_id']}"
        try:
            created = client.create_hit_with_hit_type(
                HITTypeId=record["hit_type_id"], MaxAssignments=int(hit["max_assignments"]),
                LifetimeInSeconds=settings.lifetime, Question=questions[hit["item_id"]],
                RequesterAnnotation=hit["item_id"], UniqueRequestToken=token)["HIT"]
        except ClientError as err:
            created = _existing_hit(client, err, token)
        record["hits"][hit["item_id"]] = _jsonable(created)
        write_json_atomic(record_path(folder, environment), record)
        log(f"created HIT {created['HITId']} for {hit['item_id']}")
    return record


def _existing_hit(client, err: Exception, token: str) -> dict:
    """The HIT an earlier, unrecorded call created with `token` (MTurk names it when refusing the retry)."""
    message = str(getattr(err, "response", {}).get("Error", {}).get("Message", "")) or str(err)
    match = _HIT_ID.search(message)
    if not match or ("UniqueRequestToken" not in message and "unique request token" not in message.lower()):
        raise MTurkError(f"creating the HIT with token {token} failed: {message}") from err
    return client.get_hit(HITId=match.group(0))["HIT"]


def _jsonable(hit: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in hit.items() if k != "Question"}


def fetch(study: dict, folder: Path, client, environment: str, out: Path) -> int:
    """Every assignment of the recorded HITs (paginated) into a batch-format results CSV; returns the count."""
    record = load_record(folder, environment)
    if not record["hits"]:
        raise MTurkError(f"{record_path(folder, environment)}: no HITs recorded; run `study publish` first")
    inputs = read_batch_inputs(folder, study)
    rows, answer_fields = [], {}
    for item_id, hit in record["hits"].items():
        token = None
        while True:
            kwargs = {"HITId": hit["HITId"], "MaxResults": 100,
                      "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]}
            if token:
                kwargs["NextToken"] = token
            page = client.list_assignments_for_hit(**kwargs)
            for assignment in page.get("Assignments", []):
                answers = parse_question_form_answers(assignment.get("Answer", ""))
                answer_fields.update(dict.fromkeys(answers))
                rows.append(_result_row(hit, assignment, inputs[item_id], answers))
            token = page.get("NextToken")
            if not token:
                break
    header = results_header(list(next(iter(inputs.values())).keys()), list(answer_fields))
    write_results_csv(out, header, rows)
    return len(rows)


def parse_question_form_answers(xml_text: str) -> dict[str, str]:
    """{QuestionIdentifier: FreeText} from MTurk's QuestionFormAnswers XML (any namespace version)."""
    if not xml_text:
        return {}
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError as err:
        raise MTurkError(f"an assignment's answer is not valid QuestionFormAnswers XML ({err})") from None
    answers = {}
    for answer in root:
        fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in answer}
        if "QuestionIdentifier" in fields:
            answers[fields["QuestionIdentifier"]] = fields.get("FreeText", fields.get("SelectionIdentifier", ""))
    return answers


def _mturk_time(value) -> str:
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")


def _result_row(hit: dict, assignment: dict, inputs: dict, answers: dict) -> dict:
    accept, submit = assignment.get("AcceptTime"), assignment.get("SubmitTime")
    work = int((submit - accept).total_seconds()) if isinstance(accept, datetime) and isinstance(submit, datetime) else ""
    row = {
        "HITId": hit["HITId"], "HITTypeId": hit.get("HITTypeId", ""), "Title": hit.get("Title", ""),
        "Description": hit.get("Description", ""), "Keywords": hit.get("Keywords", ""),
        "Reward": f"${hit['Reward']}" if hit.get("Reward") else "", "CreationTime": _mturk_time(hit.get("CreationTime")),
        "MaxAssignments": hit.get("MaxAssignments", ""), "RequesterAnnotation": hit.get("RequesterAnnotation", ""),
        "AssignmentDurationInSeconds": hit.get("AssignmentDurationInSeconds", ""),
        "AutoApprovalDelayInSeconds": hit.get("AutoApprovalDelayInSeconds", ""),
        "Expiration": _mturk_time(hit.get("Expiration")), "AssignmentId": assignment["AssignmentId"],
        "WorkerId": assignment["WorkerId"], "AssignmentStatus": assignment.get("AssignmentStatus", ""),
        "AcceptTime": _mturk_time(accept), "SubmitTime": _mturk_time(submit),
        "AutoApprovalTime": _mturk_time(assignment.get("AutoApprovalTime")),
        "ApprovalTime": _mturk_time(assignment.get("ApprovalTime")),
        "RejectionTime": _mturk_time(assignment.get("RejectionTime")),
        "RequesterFeedback": assignment.get("RequesterFeedback", ""), "WorkTimeInSeconds": work,
    }
    row.update({f"Input.{k}": v for k, v in inputs.items()})
    row.update({f"Answer.{k}": v for k, v in answers.items()})
    return row


def plan_review(study: dict, results, threshold: float, reject_workers: bool) -> list[dict]:
    """Approve or reject each Submitted assignment of the results file(s) or folder(s) `results`: reject a
    vigilance assignment answered below `threshold` correct, and with `reject_workers` every assignment of a
    worker whose vigilance accuracy (over all their answers, in every batch, already rejected assignments
    included) is below it."""
    read = read_results(results, study)
    by_assignment: dict[str, list[bool]] = {}
    by_worker: dict[str, list[bool]] = {}
    for vote in read.votes:  # rejected assignments' votes included
        if vote.correct is not None:
            by_assignment.setdefault(vote.assignment_id, []).append(vote.correct)
            by_worker.setdefault(vote.worker_id, []).append(vote.correct)

    def below(outcomes: list[bool] | None) -> bool:
        return bool(outcomes) and sum(outcomes) / len(outcomes) < threshold

    plan = []
    for assignment_id, row in read.assignments.items():
        if row["AssignmentStatus"].strip() != "Submitted":
            continue
        worker = row["WorkerId"].strip()
        if below(by_assignment.get(assignment_id)):
            reason = "answered an attention-check pair (a broken video against a normal one) incorrectly"
        elif reject_workers and below(by_worker.get(worker)):
            reason = "failed too many attention-check pairs across this study"
        else:
            plan.append({"AssignmentId": assignment_id, "WorkerId": worker, "action": "approve"})
            continue
        plan.append({"AssignmentId": assignment_id, "WorkerId": worker, "action": "reject", "feedback": reason})
    return plan


def apply_review(plan: list[dict], client, log: Callable[[str], None] = print) -> None:
    """Send the approve/reject decisions of `plan`."""
    for decision in plan:
        if decision["action"] == "approve":
            client.approve_assignment(AssignmentId=decision["AssignmentId"])
        else:
            client.reject_assignment(AssignmentId=decision["AssignmentId"], RequesterFeedback=decision["feedback"])
        log(f"{decision['action']}d {decision['AssignmentId']} ({decision['WorkerId']})")
