"""MTurk batch results CSVs: the exact header, writing one, and reading one into checked votes.

One results row is one assignment. Answers come either as one `Answer.<question>` column per plain form input
or as a single `Answer.taskAnswers` column holding the JSON array a <crowd-form> submits. Rows numbers in
problem reports count the header as row 1, as a spreadsheet does.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from lumiere_eval import LumiereEvalError

RESULTS_FIXED_COLUMNS = (
    "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime", "MaxAssignments",
    "RequesterAnnotation", "AssignmentDurationInSeconds", "AutoApprovalDelayInSeconds", "Expiration",
    "NumberOfSimilarHITs", "LifetimeInSeconds", "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime",
    "SubmitTime", "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback", "WorkTimeInSeconds",
    "LifetimeApprovalRate", "Last30DaysApprovalRate", "Last7DaysApprovalRate",
)
RESULTS_TRAILING_COLUMNS = ("Approve", "Reject")
_REQUIRED = ("AssignmentId", "WorkerId", "AssignmentStatus", "Input.item_id")


class ResultsFormatError(LumiereEvalError):
    """A results CSV that cannot be read at all (missing file, missing columns); row problems are collected."""


def results_header(input_variables: list[str], answer_fields: list[str]) -> list[str]:
    """The batch results header: fixed HIT/assignment columns, Input.<var>..., Answer.<field>..., Approve, Reject."""
    return (list(RESULTS_FIXED_COLUMNS) + [f"Input.{v}" for v in input_variables]
            + [f"Answer.{f}" for f in answer_fields] + list(RESULTS_TRAILING_COLUMNS))


def write_results_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    """Write assignment rows (dicts keyed by header names; absent keys are empty) as a UTF-8 results CSV."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, restval="", extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)


@dataclass(frozen=True)
class Vote:
    """One answer to one question by one worker in one assignment, mapped from its side to the model chosen."""

    row: int
    assignment_id: str
    worker_id: str
    item_id: str
    pair_id: str
    kind: str
    question: str
    side: str
    chosen: str
    other: str
    prompt: str
    correct: bool | None  # vigilance answers only: whether the worker chose the obvious answer


@dataclass
class ReadResult:
    """The valid votes of a results CSV, what was dropped and why, and the rows with problems."""

    votes: list[Vote]
    assignments: dict[str, dict] = field(default_factory=dict)  # AssignmentId -> row values (+ "_row")
    problems: dict[str, list] = field(default_factory=dict)  # kind -> rows (or [row, question])
    dropped: dict[str, int] = field(default_factory=dict)

    def problem(self, kind: str, where) -> None:
        self.problems.setdefault(kind, []).append(where)

    def drop(self, kind: str) -> None:
        self.dropped[kind] = self.dropped.get(kind, 0) + 1


def parse_task_answers(text: str) -> dict[str, str]:
    """The answers in a crowd-form `Answer.taskAnswers` JSON: {question: value}; a radio group may arrive as
    a string or as {value: true/false}. Raises ValueError for JSON that is not a crowd-form answer."""
    data = json.loads(text)
    if isinstance(data, list):
        if len(data) != 1 or not isinstance(data[0], dict):
            raise ValueError("taskAnswers must be a JSON array holding one object")
        data = data[0]
    if not isinstance(data, dict):
        raise ValueError("taskAnswers must be a JSON object or an array of one")
    answers = {}
    for key, value in data.items():
        if isinstance(value, dict):
            chosen = [k for k, v in value.items() if v is True]
            answers[key] = chosen[0] if len(chosen) == 1 else ""
        elif isinstance(value, str):
            answers[key] = value
    return answers


def read_results(path: Path, study: dict) -> ReadResult:
    """Votes from a batch results CSV for `study`; bad rows are reported by number and the rest is kept.

    Dropped: rejected assignments (AssignmentStatus Rejected or a Reject mark), repeated assignments, and a
    worker's second vote on the same comparison pair (e.g. after seeing it in both left/right orders).
    """
    path = Path(path)
    if not path.is_file():
        raise ResultsFormatError(f"{path}: results file does not exist")
    questions = study["options"]["questions"]
    hits = {h["item_id"]: h for h in study["hits"]}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise ResultsFormatError(f"{path}: empty file, expected an MTurk batch results CSV")
        missing = [c for c in _REQUIRED if c not in header]
        has_plain = all(f"Answer.{q}" in header for q in questions)
        if not has_plain and "Answer.taskAnswers" not in header:
            missing.append(" or ".join([", ".join(f"Answer.{q}" for q in questions), "Answer.taskAnswers"]))
        if missing:
            raise ResultsFormatError(f"{path}: missing column(s) {'; '.join(missing)}")
        result = ReadResult(votes=[])
        seen_votes: set[tuple[str, str, str]] = set()
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                result.problem("malformed_rows", number)
                continue
            row = dict(zip(header, cells))
            _read_row(row, number, has_plain, questions, hits, result, seen_votes)
    return result


def _read_row(row: dict, number: int, has_plain: bool, questions: list[str], hits: dict, result: ReadResult,
              seen_votes: set) -> None:
    assignment, worker = row["AssignmentId"].strip(), row["WorkerId"].strip()
    if not assignment or not worker:
        result.problem("malformed_rows", number)
        return
    hit = hits.get(row["Input.item_id"].strip())
    if hit is None:
        result.problem("unknown_item_ids", number)
        return
    if row["AssignmentStatus"].strip() == "Rejected" or row.get("Reject", "").strip():
        result.drop("rejected_assignments")
        return
    if assignment in result.assignments:
        result.drop("repeated_assignments")
        return
    if has_plain:
        answers = {q: row[f"Answer.{q}"].strip() for q in questions}
    else:
        try:
            answers = parse_task_answers(row["Answer.taskAnswers"])
        except ValueError:  # json.JSONDecodeError is a ValueError
            result.problem("malformed_rows", number)
            return
    result.assignments[assignment] = dict(row, _row=number)
    for question in questions:
        side = answers.get(question, "")
        if side not in ("left", "right"):
            result.problem("missing_answers", [number, question])
            continue
        key = (worker, hit["pair_id"], question)
        if key in seen_votes and hit["kind"] == "comparison":  # every vigilance answer is a check of its own
            result.drop("duplicate_votes")
            continue
        seen_votes.add(key)
        other_side = "right" if side == "left" else "left"
        expected = hit.get("expected", {}).get(question)
        result.votes.append(Vote(
            row=number, assignment_id=assignment, worker_id=worker, item_id=hit["item_id"],
            pair_id=hit["pair_id"], kind=hit["kind"], question=question, side=side,
            chosen=hit[side]["model"], other=hit[other_side]["model"], prompt=hit["prompt"],
            correct=None if expected is None else side == expected))
