"""Issue 26, malformed run records: every run-record file (results.json, samples.jsonl, config.json) is read by
one validated reader, and each case here gets one line naming the file and field instead of a traceback."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lumiere_eval.cli import main
from lumiere_eval.metrics.record import ResultRecordError
from lumiere_eval.runner.run_features import load_records, run_config, run_features

GOOD = {"index": 0, "prompt": "a dog", "seed": 3, "path": "samples/000000.mp4", "sha256": "ab" * 32,
        "clipsim": 0.25}


def _run(folder: Path, samples: bytes | None = None, results=None, config=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "samples.jsonl").write_bytes(samples if samples is not None else (json.dumps(GOOD) + "\n").encode())
    if results is not None:
        (folder / "results.json").write_text(json.dumps(results))
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("samples, message", [
    (json.dumps(GOOD).encode() + b"\n5\n", r"samples.jsonl line 2: expected a JSON object, got int"),
    (json.dumps({**GOOD, "index": "0"}).encode(), r"samples.jsonl line 1: field 'index' should be int, found str"),
    (json.dumps({**GOOD, "clipsim": "abc"}).encode(),
     r"samples.jsonl line 1: field 'clipsim' should be a number or null, found str \('abc'\)"),
    (json.dumps({**GOOD, "prompt": "caf\u00e9"}, ensure_ascii=False).encode("latin-1"),
     r"samples.jsonl: not UTF-8 \(byte 0xe9 at offset \d+\)"),
])
def test_malformed_samples_jsonl_is_one_line_naming_file_line_and_field(tmp_path, samples, message):
    folder = _run(tmp_path / "run", samples)
    with pytest.raises(ResultRecordError, match=message):
        load_records(folder)


@pytest.mark.parametrize("results, message", [
    ([1, 2], r"results.json: expected a JSON object, found list"),
    ({"model": {"name": "m"}, "metrics": {"fvd": "12.5"}}, r"results.json: field 'metrics.fvd' is not an object"),
])
def test_malformed_results_json_is_one_line(tmp_path, results, message):
    folder = _run(tmp_path / "run", results=results)
    with pytest.raises(ResultRecordError, match=message):
        run_features(folder)


def test_config_json_with_a_string_count_names_the_field(tmp_path):
    folder = _run(tmp_path / "run", config={"num_samples": "nine"})
    with pytest.raises(ResultRecordError, match=r"config.json: field 'num_samples' should be int, found str \('nine'\)"):
        run_config(folder)


def test_compare_on_a_malformed_record_prints_one_line(tmp_path, capsys):
    a = _run(tmp_path / "a", json.dumps(GOOD).encode() + b"\n5\n")
    b = _run(tmp_path / "b")
    assert main(["compare", str(a), str(b), "--no-motion"]) == 1
    err = capsys.readouterr().err
    assert "samples.jsonl line 2: expected a JSON object, got int" in err and "Traceback" not in err
