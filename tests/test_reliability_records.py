"""Issue 26, malformed run records: every run-record file (results.json, samples.jsonl, config.json) is read by
one validated reader, and each case here gets one line naming the file and field instead of a traceback."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lumiere_eval.cli import main
from lumiere_eval.metrics.record import ResultRecordError
from lumiere_eval.runner.run_features import run_config, run_features
from lumiere_eval.runner.run_folder import load_records

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


@pytest.mark.parametrize("samples, message", [
    (json.dumps(GOOD).encode() + b"\n5\n", "samples.jsonl line 2: expected a JSON object, got int"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "sha256"}).encode(),
     "samples.jsonl line 1: field 'sha256' is missing"),
    (json.dumps({**GOOD, "class": 3}).encode(), "samples.jsonl line 1: field 'class' should be str, found int (3)"),
])
def test_every_samples_jsonl_reader_gives_the_one_message(tmp_path, samples, message):
    """The runner, the human study and the dashboard read samples.jsonl through record.iter_samples."""
    from lumiere_eval.dashboard.records import ResultFileError, load_samples
    from lumiere_eval.human_study.sources import StudyInputError, load_runs

    folder = _run(tmp_path / "run", samples)
    with pytest.raises(ResultRecordError) as runner:
        load_records(folder)
    with pytest.raises(StudyInputError) as study:
        load_runs([str(folder)])
    with pytest.raises(ResultFileError) as dashboard:
        load_samples(tmp_path, "run")
    assert str(runner.value) == f"{folder}/{message}" and str(study.value) == f"{folder}/{message}"
    assert str(dashboard.value) == f"run/{message}"


def test_write_samples_round_trips_and_refuses_a_row_off_the_schema(tmp_path):
    from lumiere_eval.metrics.record import read_samples, write_samples

    rows = [{**GOOD, "index": 1, "class": "Bounce", "is_top1": "Orbit", "is_prob_of_prompted_class": 0.5},
            {**GOOD, "clipsim": None}]
    path = write_samples(tmp_path / "samples.jsonl", rows)
    assert path.read_text().splitlines()[0] == json.dumps(rows[0], sort_keys=True)
    assert read_samples(path) == sorted(rows, key=lambda r: r["index"])
    with pytest.raises(ResultRecordError, match=r"bad.jsonl line 2: field 'seed' should be int, found str"):
        write_samples(tmp_path / "bad.jsonl", [GOOD, {**GOOD, "seed": "3"}])
    assert not (tmp_path / "bad.jsonl").exists()


def test_docs_results_md_lists_every_samples_jsonl_field():
    from lumiere_eval.metrics import record, registry

    text = (Path(__file__).parents[1] / "docs" / "results.md").read_text(encoding="utf-8")
    schema = text.split("## samples.jsonl", 1)[1].split("\n## ", 1)[0]
    for field in (*record.SAMPLE_FIELDS, *record.SAMPLE_OPTIONAL_FIELDS, *record.SAMPLE_METRIC_FIELDS):
        assert f"| `{field}` |" in schema, field
    for name, metric in registry.METRICS.items():  # each per-sample field names the metric that writes it
        for field in metric.per_sample:
            if metric.tier == "core":
                assert f"| `{field}` |" in schema and f"`{name}`" in schema.split(f"| `{field}` |", 1)[1].split("\n")[0]


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


def test_a_non_utf8_file_name_gets_a_random_clip_and_utf8_names_keep_theirs():
    import hashlib

    import numpy as np

    from lumiere_eval.video import ClipSampling

    sampling = ClipSampling("random", 4, 1, seed=0)
    odd = b"real/caf\xe9.mp4".decode("utf-8", "surrogateescape")  # how Python lists a Latin-1 file name
    assert 0 <= sampling.start(40, key=odd) <= 36
    digest = hashlib.sha256("0:real/café.mp4".encode()).digest()  # the earlier hashing of a UTF-8 name
    expected = int(np.random.default_rng(int.from_bytes(digest[:8], "little")).integers(0, 37))
    assert sampling.start(40, key="real/café.mp4") == expected


def test_metrics_inputs_not_utf8_are_decoded_with_a_named_warning(tmp_path):
    from lumiere_eval.runner.metrics_cli import MetricsInputError, load_video_set

    folder = tmp_path / "fake"
    folder.mkdir()
    (folder / "a.mp4").write_bytes(b"listed, never decoded here")  # an empty file is listed unusable
    (folder / "a.txt").write_bytes("un caf\u00e9".encode("latin-1"))
    with pytest.warns(UserWarning, match=r"a.txt: not UTF-8 \(byte 0xe9 at offset 6\); decoded as Windows-1252"):
        assert load_video_set(folder).prompts == ["un café"]
    manifest = tmp_path / "m.csv"
    manifest.write_bytes("path,prompt\nfake/a.mp4,un caf\u00e9\n".encode("latin-1"))
    with pytest.warns(UserWarning, match=r"m.csv: not UTF-8 .*decoded as Windows-1252"):
        assert load_video_set(manifest).prompts == ["un café"]
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text('{"path": 5}\n')
    with pytest.raises(MetricsInputError, match=r"m.jsonl: row 1: field 'path' should be a string, found int \(5\)"):
        load_video_set(jsonl)
