"""The shared JSON Lines reader: line numbers skip nothing, bad lines are reported by number."""
from __future__ import annotations

import pytest

from lumiere_eval.jsonl import JsonlLineError, iter_jsonl_objects


def test_objects_with_their_line_numbers_blank_lines_skipped():
    assert list(iter_jsonl_objects(['{"a": 1}', "", '  ', '{"b": 2}\n'])) == [(1, {"a": 1}), (4, {"b": 2})]


def test_bad_lines_name_their_number_and_reason():
    with pytest.raises(JsonlLineError, match=r"line 2: not valid JSON") as err:
        list(iter_jsonl_objects(['{"a": 1}', '{"a": ']))
    assert err.value.line == 2 and err.value.json_error
    with pytest.raises(JsonlLineError, match=r"line 1: expected a JSON object, got list") as err:
        list(iter_jsonl_objects(["[1, 2]"]))
    assert err.value.json_error is None and err.value.type_name == "list"
