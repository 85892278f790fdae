"""MTurk batch results CSVs: the exact header, writing one, and reading one or several into checked votes.

One results row is one assignment. Answers come either as one `Answer.<question>` column per plain form input
or as a single `Answer.taskAnswers` column holding the JSON array a <crowd-form> submits. Row numbers in
problem reports count the header as row 1, as a spreadsheet does; with several files they read `file:row`.

A study published as several batches comes back as several files: pass them all, or their folder. Each file
is decoded as UTF-8 (UTF-16 with a byte-order mark, and Windows-1252 for an Excel re-save, with a warning);
a repeated header row (files joined by hand) is skipped with a warning; an AssignmentId seen twice is kept
once (the most final status wins: Rejected, then Approved, then Submitted). Every row's inputs (video URLs,
prompt) must be the ones the study gave that HIT, so results of another study are refused.
"""
from __future__ import annotations

import codecs
import csv
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import decode_text
from lumiere_eval.human_study.spreadsheet import neutralise_cell, restore_cell

RESULTS_FIXED_COLUMNS = (
    "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime", "MaxAssignments",
    "RequesterAnnotation", "AssignmentDurationInSeconds", "AutoApprovalDelayInSeconds", "Expiration",
    "NumberOfSimilarHITs", "LifetimeInSeconds", "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime",
    "SubmitTime", "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback", "WorkTimeInSeconds",
    "LifetimeApprovalRate", "Last30DaysApprovalRate", "Last7DaysApprovalRate",
)
RESULTS_TRAILING_COLUMNS = ("Approve", "Reject")
_REQUIRED = ("AssignmentId", "WorkerId", "AssignmentStatus", "Input.item_id")
_CHECKED_INPUTS = ("video_left", "video_right", "prompt_html")  # tie each row to the study's HIT
_STATUS_RANK = {"Rejected": 2, "Approved": 1}  # which copy of a repeated assignment is kept
_MAX_LISTED = 5


class ResultsFormatError(LumiereEvalError):
    """A results CSV that cannot be read at all (missing file, missing columns); row problems are collected."""


def results_header(input_variables: list[str], answer_fields: list[str]) -> list[str]:
    """The batch results header: fixed HIT/assignment columns, Input.<var>..., Answer.<field>..., Approve, Reject."""
    return (list(RESULTS_FIXED_COLUMNS) + [f"Input.{v}" for v in input_variables]
            + [f"Answer.{f}" for f in answer_fields] + list(RESULTS_TRAILING_COLUMNS))


def write_results_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    """Write assignment rows (dicts keyed by header names; absent keys are empty) as a UTF-8 results CSV,
    cells that a spreadsheet would run as formulas neutralised (see `spreadsheet`)."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, restval="", extrasaction="raise")
        writer.writeheader()
        writer.writerows({k: neutralise_cell(v) for k, v in row.items()} for row in rows)


@dataclass(frozen=True)
class Vote:
    """One answer to one question by one worker in one assignment, mapped from its side to the model chosen."""

    row: int | str  # row number, or "file:row" when several files were read
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
    rejected: bool = False  # from a rejected assignment: judges the worker, never counted as a preference


@dataclass
class ReadResult:
    """The valid votes of results CSVs (rejected assignments' votes included and flagged), what was dropped
    and why, the rows with problems, and warnings about the files."""

    votes: list[Vote]
    assignments: dict[str, dict] = field(default_factory=dict)  # AssignmentId -> row values (+ "_row")
    problems: dict[str, list] = field(default_factory=dict)  # kind -> rows (or [row, question])
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_rows: dict[str, list] = field(default_factory=dict)  # kind -> rows, as for problems
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def problem(self, kind: str, where) -> None:
        self.problems.setdefault(kind, []).append(where)

    def drop(self, kind: str, where) -> None:
        self.dropped[kind] = self.dropped.get(kind, 0) + 1
        self.dropped_rows.setdefault(kind, []).append(where)


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


def results_files(paths) -> list[Path]:
    """The results CSVs named by `paths` (a path or a list of them); a folder stands for its *.csv files."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ResultsFormatError("no results file given")
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.glob("*.csv") if p.is_file())
            if not found:
                raise ResultsFormatError(f"{path}: folder holds no results CSV (*.csv)")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise ResultsFormatError(f"{path}: results file does not exist")
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return [next(p for p in files if p.resolve() == u) for u in unique]


def decode_results_text(path: Path) -> tuple[str, str | None]:
    """The text of a results CSV and a warning when it was not UTF-8; binary data is a ResultsFormatError."""
    data = Path(path).read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), f"{path}: decoded as UTF-16 (byte-order mark)"
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ResultsFormatError(f"{path}: binary data (NUL byte at offset {nul}), not an MTurk batch results CSV")
    text, warning = decode_text(data, path)
    return text, warning and f"{warning}, as Excel saves CSVs"


@dataclass
class _Row:
    where: int | str
    values: dict
    has_plain: bool
    path: Path


def read_results(paths, study: dict) -> ReadResult:
    """Votes from one or several batch results CSVs (or folders of them) for `study`; bad rows are reported
    by number and the rest is kept; a file that is not a results CSV, or whose rows carry another study's
    inputs, is a ResultsFormatError naming the file, row, HIT and field.

    Rejected assignments (AssignmentStatus Rejected or a Reject mark) are read with their votes flagged
    `rejected`, so vigilance judges a worker on all answers; the analysis then leaves them out. Dropped:
    repeated assignments, and a worker's second vote on the same comparison pair (e.g. after seeing it in
    both left/right orders).
    """
    from lumiere_eval.human_study.study import batch_row

    files = results_files(paths)
    questions = study["options"]["questions"]
    hits = {h["item_id"]: h for h in study["hits"]}
    result = ReadResult(votes=[], files=[str(p) for p in files])
    rows: list[_Row] = []
    for path in files:
        rows += _file_rows(path, questions, result, label=None if len(files) == 1 else path.name)
    expected = {item: batch_row(hit, study["options"].get("base_url", "")) for item, hit in hits.items()}
    _check_inputs(rows, expected, study)
    seen_votes: set[tuple[str, str, str]] = set()
    for row in _unique_assignments(rows, result):
        _read_row(row, questions, hits, result, seen_votes, bool(study["options"].get("same_option")))
    return result


def _file_rows(path: Path, questions: list[str], result: ReadResult, label: str | None) -> list[_Row]:
    text, warning = decode_results_text(path)
    if warning:
        result.warnings.append(warning)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(c.strip() for c in header):
            raise ResultsFormatError(f"{path}: empty file, expected an MTurk batch results CSV")
        header = [restore_cell(c) for c in header]
        missing = [c for c in _REQUIRED + tuple(f"Input.{v}" for v in _CHECKED_INPUTS) if c not in header]
        has_plain = all(f"Answer.{q}" in header for q in questions)
        if not has_plain and "Answer.taskAnswers" not in header:
            missing.append(" or ".join([", ".join(f"Answer.{q}" for q in questions), "Answer.taskAnswers"]))
        if missing:
            raise ResultsFormatError(f"{path}: missing column(s) {'; '.join(missing)}")
        rows = []
        body = list(reader)
        cut = not text.endswith(("\n", "\r"))  # a complete download ends with a line break
        for number, cells in enumerate(body, start=2):
            where = number if label is None else f"{label}:{number}"
            cells = [restore_cell(c) for c in cells]
            if not any(c.strip() for c in cells):
                continue
            if cells == header:
                result.warnings.append(f"{path} row {number}: repeats the header row (files joined by hand?); "
                                       "skipped")
                continue
            if "AssignmentId" in cells and "WorkerId" in cells:
                raise ResultsFormatError(
                    f"{path} row {number}: a second header row with other columns than row 1 (results of "
                    "batches with different layouts joined by hand); pass the downloaded files separately: "
                    "lumiere-eval study analyze STUDY a.csv b.csv")
            if len(cells) != len(header):
                if cut and number == len(body) + 1:
                    result.problem("truncated_rows", where)
                    result.warnings.append(f"{path} row {number}: the last row is cut short ({len(cells)} of "
                                           f"{len(header)} columns; an interrupted download?); left out")
                else:
                    result.problem("malformed_rows", where)
                continue
            rows.append(_Row(where, dict(zip(header, cells)), has_plain, path))
    except csv.Error as err:
        raise ResultsFormatError(f"{path} row {reader.line_num}: not a valid CSV ({err})") from None
    return rows


def _check_inputs(rows: list[_Row], expected: dict[str, dict], study: dict) -> None:
    """Refuse rows whose Input.<var> values differ from the batch row the study gave that HIT."""
    mismatches = []
    for row in rows:
        item = row.values["Input.item_id"].strip()
        if item not in expected:
            continue  # an unknown item id is a row problem, reported by _read_row
        for name in _CHECKED_INPUTS:
            found, wanted = row.values[f"Input.{name}"], expected[item][name]
            if html.unescape(found) != html.unescape(wanted):
                mismatches.append(f"{row.path} row {row.where} (HIT {item}): Input.{name} is {found!r}, the study "
                                  f"has {wanted!r}")
                break
    if mismatches:
        listed = "; ".join(mismatches[:_MAX_LISTED])
        more = f" (and {len(mismatches) - _MAX_LISTED} more rows)" if len(mismatches) > _MAX_LISTED else ""
        raise ResultsFormatError(f"these results do not belong to study {study.get('study_id', '?')}: {listed}{more}")


def _unique_assignments(rows: list[_Row], result: ReadResult) -> list[_Row]:
    """One row per AssignmentId (the most final status); repeats are counted, and warned about across files."""
    kept: dict[str, _Row] = {}
    order: list[str | _Row] = []
    for row in rows:
        assignment = row.values["AssignmentId"].strip()
        if not assignment:
            order.append(row)  # reported as malformed by _read_row
            continue
        if assignment not in kept:
            kept[assignment] = row
            order.append(assignment)
            continue
        first = kept[assignment]
        result.drop("repeated_assignments", row.where)
        if _STATUS_RANK.get(_status(row), 0) > _STATUS_RANK.get(_status(first), 0):
            kept[assignment] = row
        if row.path != first.path:
            chosen = kept[assignment]
            result.warnings.append(f"AssignmentId {assignment} is in {first.path} row {first.where} and in "
                                   f"{row.path} row {row.where}; kept the one in {chosen.path} "
                                   f"({_status(chosen) or 'no status'})")
    return [kept[item] if isinstance(item, str) else item for item in order]


def _status(row: _Row) -> str:
    return "Rejected" if row.values.get("Reject", "").strip() else row.values["AssignmentStatus"].strip()


def _read_row(row: _Row, questions: list[str], hits: dict, result: ReadResult, seen_votes: set,
              same: bool = False) -> None:
    values, number = row.values, row.where
    assignment, worker = values["AssignmentId"].strip(), values["WorkerId"].strip()
    if not assignment or not worker:
        result.problem("malformed_rows", number)
        return
    hit = hits.get(values["Input.item_id"].strip())
    if hit is None:
        result.problem("unknown_item_ids", number)
        return
    rejected = _status(row) == "Rejected"
    if row.has_plain:
        answers = {q: values[f"Answer.{q}"].strip() for q in questions}
    else:
        try:
            answers = parse_task_answers(values["Answer.taskAnswers"])
        except ValueError:  # json.JSONDecodeError is a ValueError
            result.problem("malformed_rows", number)
            return
    if rejected:
        result.drop("rejected_assignments", number)
    result.assignments[assignment] = dict(values, _row=number)
    for question in questions:
        side = answers.get(question, "")
        if side not in (("left", "right", "same") if same else ("left", "right")):
            if not rejected:
                result.problem("missing_answers", [number, question])
            continue
        key = (worker, hit["pair_id"], question)
        if key in seen_votes and hit["kind"] == "comparison":  # every vigilance answer is a check of its own
            result.drop("duplicate_votes", [number, question])
            continue
        seen_votes.add(key)
        chosen_side = "left" if side == "same" else side  # "same" (offered by --same-option) is a tie
        other_side = "right" if chosen_side == "left" else "left"
        expected = hit.get("expected", {}).get(question)
        result.votes.append(Vote(
            row=number, assignment_id=assignment, worker_id=worker, item_id=hit["item_id"],
            pair_id=hit["pair_id"], kind=hit["kind"], question=question, side=side,
            chosen=hit[chosen_side]["model"], other=hit[other_side]["model"], prompt=hit["prompt"],
            correct=None if expected is None else side == expected, rejected=rejected))


# Why a row (or one answer in it) is not counted, in the order the summary lists them.
UNUSED_REASONS = {
    "unknown_item_ids": "unknown item id (another study's HIT)",
    "malformed_rows": "malformed row (wrong column count, no AssignmentId/WorkerId, answer JSON unreadable)",
    "missing_answers": "malformed answer (empty, or not exactly one side chosen)",
    "rejected_assignments": "rejected assignment",
    "repeated_assignments": "duplicate assignment",
    "duplicate_votes": "duplicate vote (same worker, pair and question)",
    "vigilance_removed": "vote of a vigilance-removed worker",
    "truncated_rows": "truncated row",
}


@dataclass
class CountedVotes:
    """The votes every study command counts (comparison votes of accepted assignments by workers who pass
    vigilance), the failed workers, and every row or answer left out, by reason."""

    read: ReadResult
    votes: list[Vote]
    failed_workers: list[str]
    unused: dict[str, dict]  # reason -> {"count", "rows": first few}


def failed_vigilance(votes: list[Vote], threshold: float) -> list[str]:
    """Workers whose share of right vigilance answers (rejected assignments included) is below `threshold`."""
    outcomes: dict[str, list[bool]] = {}
    for vote in votes:
        if vote.correct is not None:
            outcomes.setdefault(vote.worker_id, []).append(vote.correct)
    return sorted(w for w, o in outcomes.items() if sum(o) / len(o) < threshold)


def counted_votes(paths, study: dict, vigilance_threshold: float = 0.8) -> CountedVotes:
    """The one reader of `study analyze`, `leaderboard`, `next` and `agreement`: `read_results`, then the
    vigilance filter, with every unused row counted by reason (first few row numbers kept)."""
    read = read_results(paths, study)
    failed = failed_vigilance(read.votes, vigilance_threshold)
    removed = [[v.row, v.question] for v in read.votes
               if v.kind == "comparison" and v.worker_id in failed and not v.rejected]
    kept = [v for v in read.votes if v.kind == "comparison" and v.worker_id not in failed and not v.rejected]
    by_kind = {**read.problems, **read.dropped_rows, "vigilance_removed": removed}
    unused = {kind: {"count": len(by_kind[kind]), "rows": by_kind[kind][:_MAX_LISTED]}
              for kind in UNUSED_REASONS if by_kind.get(kind)}
    return CountedVotes(read, kept, failed, unused)


def unused_lines(unused: dict[str, dict]) -> list[str]:
    """One line per reason rows were not used: count, reason, first rows (header is row 1)."""
    return [f"not used: {entry['count']} x {UNUSED_REASONS[kind]} (rows {', '.join(map(str, entry['rows']))}"
            f"{', ...' if entry['count'] > len(entry['rows']) else ''})" for kind, entry in unused.items()]


def require_usable(counted: CountedVotes) -> None:
    """A ResultsFormatError naming the files when no vote is left to count, with why every row went."""
    if counted.votes:
        return
    why = "; ".join(f"{e['count']} {UNUSED_REASONS[k]}" for k, e in counted.unused.items()) or "no answer rows"
    raise ResultsFormatError(f"{', '.join(counted.read.files)}: no usable answers "
                             f"({len(counted.read.assignments)} assignments read; {why})")
