"""Reading JSON Lines: one JSON object per non-blank line, with the line number of the first bad one."""
from __future__ import annotations

import json
from typing import Iterable, Iterator


class JsonlLineError(ValueError):
    """A line that is not a JSON object; `json_error` is the parser's message, or None for a non-object."""

    def __init__(self, line: int, json_error: str | None, type_name: str | None = None):
        self.line, self.json_error, self.type_name = line, json_error, type_name
        super().__init__(f"line {line}: " + (f"not valid JSON ({json_error})" if json_error
                                              else f"expected a JSON object, got {type_name}"))


def iter_jsonl_objects(lines: Iterable[str]) -> Iterator[tuple[int, dict]]:
    """(1-based line number, object) of every non-blank line; raises JsonlLineError at the first bad line.

    Callers turn the error into their own, naming their file (each reader keeps its own error type).
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise JsonlLineError(number, err.msg) from None
        if not isinstance(row, dict):
            raise JsonlLineError(number, None, type(row).__name__)
        yield number, row
