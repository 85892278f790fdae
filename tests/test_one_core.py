"""`lumiere-eval metrics` and `lumiere-eval ucf101` with their defaults print the same numbers on the same videos:
one protocol registry, one feature stage (separate caches here, so each computes its own rows), one set of
metric functions."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from test_runner_ucf101 import build_tree, weights  # noqa: F401 - the weights fixture

from lumiere_eval.cli import main
from lumiere_eval.datasets.ucf101 import read_split


def test_metrics_and_ucf101_give_the_same_numbers_and_both_open_in_the_dashboard(tmp_path, weights,  # noqa: F811
                                                                                     monkeypatch):
    root = build_tree(tmp_path / "data")
    run = tmp_path / "run"
    common = ["--i3d", str(weights["i3d"]), "--c3d", str(weights["c3d"]), "--clip", str(weights["clip"]),
              "--bootstrap", "20"]
    assert main(["ucf101", "--data-root", str(root), "--out", str(run), "--cache-dir", str(tmp_path / "cache_run"),
                 "--model", "dummy", "--num-samples", "9", "--num-frames", "16", "--height", "32", "--width", "32",
                 "--fps", "8", "--metrics", "fvd,kvd,is,clipsim", "--no-progress", *common]) == 0
    ran = json.loads((run / "results.json").read_text())

    # the same videos as manifests: real = the train split in its order (keys = paths, as the runner's
    # random clip offsets), generated = the run's samples with their prompts
    entries = read_split(root / "ucfTrainTestlist", "train", 1)
    real = root / "UCF-101" / "real.csv"
    real.write_text("path\n" + "".join(f"{e.relpath}\n" for e in entries))
    fake = run / "fake.jsonl"
    fake.write_text("".join(json.dumps({"path": r["path"], "prompt": r["prompt"]}) + "\n" for r in
                            map(json.loads, (run / "samples.jsonl").read_text().splitlines())))
    out = tmp_path / "metrics.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["metrics", "--real", str(real), "--fake", str(fake), "--metrics", "fvd,kvd,is,clipsim",
                     "--quiet", "--no-download", "--cache-dir", str(tmp_path / "cache_metrics"), "--out", str(out),
                     *common]) == 0
    measured = json.loads(out.read_text())
    assert measured["real"]["videos"] == len(entries) == ran["metrics"]["fvd"]["n_real"]
    for name in ("fvd", "kvd", "is", "clipsim"):
        assert measured["metrics"][name]["value"] == ran["metrics"][name]["value"], name
        assert measured["metrics"][name]["n"] == ran["metrics"][name]["n"] == 9
    for name in ("fvd", "is", "clipsim"):
        assert (measured["metrics"][name]["ci_low"], measured["metrics"][name]["ci_high"]) == pytest.approx(
            (ran["metrics"][name]["ci_low"], ran["metrics"][name]["ci_high"]), rel=0, abs=0)
    assert measured["protocols"]["fvd"]["covariance"] == ran["protocols"]["fvd"]["covariance"] == "biased"
    assert measured["protocols"]["is"]["id"] == ran["protocols"]["is"]["id"]

    # the `metrics` result opens in the dashboard next to the run
    from streamlit.testing.v1 import AppTest

    import lumiere_eval.dashboard as dashboard

    (run / "comparison").mkdir()
    out.replace(run / "comparison" / "metrics.json")
    monkeypatch.setenv("LUMIERE_EVAL_DASHBOARD_ROOT", str(tmp_path))
    at = AppTest.from_file(str(Path(dashboard.__file__).parent / "app.py"), default_timeout=60)
    at.query_params["page"] = "run"
    at.query_params["run"] = "run/comparison"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert sorted(at.selectbox(key="run_detail").options) == ["dummy (run)", "fake (run/comparison)"]
    assert at.selectbox(key="run_detail").value == "fake (run/comparison)"
    shown = at.dataframe[0].value
    assert set(shown["metric"]) == {"FVD ↓", "KVD ↓", "IS ↑", "CLIPSIM ↑"} and set(shown["samples"]) == {9}
    assert dict(zip(shown["metric"], shown["value"])) == {
        column: measured["metrics"][m]["value"] for column, m in (("FVD ↓", "fvd"), ("KVD ↓", "kvd"), ("IS ↑", "is"),
                                                                  ("CLIPSIM ↑", "clipsim"))}
