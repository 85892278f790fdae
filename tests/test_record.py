"""The result record schema: validated on write and read, errors name the file and the field."""
from __future__ import annotations

import json

import pytest

from lumiere_eval.metrics.record import (SCHEMA_VERSION, ResultRecordError, metric_entry, read_record,
                                         validate_record, write_record)


def _record() -> dict:
    return {"schema_version": SCHEMA_VERSION, "kind": "metrics", "lumiere_eval_version": "0", "model": {"name": "m"},
            "domain": "videos", "protocol_id": "p", "protocols": {}, "unverified_weights": [], "provenance": {},
            "metrics": {"fvd": metric_entry("fvd", 12.5, 8, "fvd2048_16f:x", 10.0, 15.0, n_real=8)}}


def test_round_trip_and_entry_shape(tmp_path):
    path = write_record(tmp_path / "metrics.json", _record())
    back = read_record(path)
    assert back == json.loads(path.read_text())
    assert back["metrics"]["fvd"] == {"value": 12.5, "ci_low": 10.0, "ci_high": 15.0, "higher_is_better": False,
                                      "n": 8, "protocol": "fvd2048_16f:x", "n_real": 8}


@pytest.mark.parametrize("field, change, message", [
    ("metrics.fvd.ci_low", lambda r: r["metrics"]["fvd"].update(ci_low="low"), "should be int or float or null"),
    ("metrics.fvd.higher_is_better", lambda r: r["metrics"]["fvd"].pop("higher_is_better"), "is missing"),
    ("metrics.fvd.n", lambda r: r["metrics"]["fvd"].update(n=True), "should be int"),
    ("kind", lambda r: r.update(kind="table"), "expected one of run, metrics"),
    ("schema_version", lambda r: r.update(schema_version=99), "reads version 1"),
    ("protocol_id", lambda r: r.pop("protocol_id"), "is missing"),
])
def test_a_bad_field_is_refused_on_write_and_read(tmp_path, field, change, message):
    record = _record()
    change(record)
    with pytest.raises(ResultRecordError, match=rf"out.json: field '{field}' .*{message}"):
        write_record(tmp_path / "out.json", record)
    assert not (tmp_path / "out.json").exists()
    (tmp_path / "out.json").write_text(json.dumps(record))
    with pytest.raises(ResultRecordError, match=rf"field '{field}'"):
        read_record(tmp_path / "out.json")


def test_partial_json_and_unversioned_records(tmp_path):
    (tmp_path / "r.json").write_text('{"model": ')
    with pytest.raises(ResultRecordError, match="r.json: malformed or partial JSON"):
        read_record(tmp_path / "r.json")
    old = validate_record({"model": {"name": "a"}, "protocol_id": "p",
                           "metrics": {"is": {"value": 3.0, "n_fake": 4}}})
    assert old["schema_version"] == SCHEMA_VERSION and old["kind"] == "run"
    assert old["metrics"]["is"] == {"value": 3.0, "n_fake": 4, "n": 4, "ci_low": None, "ci_high": None,
                                    "higher_is_better": True, "protocol": "p"}
    with pytest.raises(ResultRecordError, match="field 'model.name' is missing"):
        validate_record({"metrics": {}})
