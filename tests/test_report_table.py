"""`lumiere-eval report`: one table over real run folders (tiny extractors); marks equal `compare`'s results."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess

import pytest
from test_compare import runs  # noqa: F401  (the module fixture: clean, noisy, reseeded runs)

from lumiere_eval.cli import main
from lumiere_eval.runner.compare import compare_runs
from lumiere_eval.runner.results_table import (
    PUBLISHED_LABEL,
    ReportInputError,
    build_table,
)
from lumiere_eval.runner.table_formats import csv_safe, latex, markdown, render


@pytest.fixture(scope="module")
def table(runs):  # noqa: F811
    return build_table([runs["clean"], runs["noisy"], runs["reseeded"]], baseline=runs["clean"], alpha=0.05,
                       correction="none", num_resamples=200, seed=3, motion=False)


def test_marks_are_compares_significance(runs, table):  # noqa: F811
    paired = compare_runs(runs["noisy"], runs["clean"], 0.05, 200, 3, motion=False, correction="none")
    noisy = next(r for r in table["rows"] if r["run"] == str(runs["noisy"]))
    assert set(noisy["cells"]) == {"fvd", "kvd", "is", "clipsim"}
    for name, cell in noisy["cells"].items():
        assert cell["vs_baseline"]["significant"] == paired["metrics"][name]["significant"]
        assert cell["vs_baseline"]["p_adjusted"] == paired["metrics"][name]["p_adjusted"]
    marked = [n for n, c in noisy["cells"].items() if c["vs_baseline"]["significant"]]
    row_line = next(line for line in markdown(table).splitlines() if line.startswith("| noisy"))
    assert row_line.count("†") == len(marked)


def test_the_unpaired_run_is_shown_unmarked_with_its_reason(runs, table):  # noqa: F811
    reseeded = next(r for r in table["rows"] if r["run"] == str(runs["reseeded"]))
    assert reseeded["model"] == "reseeded"  # two runs share the model name: folder names tell them apart
    assert all("vs_baseline" not in c for c in reseeded["cells"].values())
    assert any(n.startswith("reseeded is not marked:") and "not paired: sample 3" in n for n in table["notes"])


def test_best_values_follow_the_registry_direction(table):
    for column in table["columns"]:
        values = {r["model"]: r["cells"][column["name"]]["value"] for r in table["rows"]}
        best = [m for m in values if next(r for r in table["rows"] if r["model"] == m)["cells"][column["name"]]["best"]]
        pick = max if column["higher_is_better"] else min
        assert values[best[0]] == pick(values.values())


def test_published_rows_are_labelled_and_apart(table):
    text = markdown(table)
    measured, published = text.split(PUBLISHED_LABEL)
    assert "332.49" in published and "332.49" not in measured
    assert "short of protocol" in measured and "protocol fvd2048_16f" in measured


def test_latex_is_booktabs_and_compiles(table, tmp_path):
    text = latex(table)
    assert text.count(r"\toprule") == text.count(r"\bottomrule") == 1
    body = text.split(r"\toprule")[1].split(r"\bottomrule")[0]
    rows = [line for line in body.splitlines() if line.endswith(r"\\") and "multicolumn" not in line]
    assert rows and all(line.count("&") == len(table["columns"]) for line in rows)
    assert "per-frame" not in text and r"\_" not in table["rows"][0]["model"]
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed: structure checked, not compiled")
    (tmp_path / "t.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[T1]{fontenc}\n"
                                    "\\begin{document}\n" + text + "\\end{document}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], check=False, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


def test_csv_cannot_inject_formulas(table):
    hostile = json.loads(json.dumps(table))
    hostile["rows"][0]["model"] = '=HYPERLINK("http://x","y")'
    hostile["rows"][1]["model"] = "\tcmd|x"
    rows = list(csv.reader(io.StringIO(render(hostile, "csv"))))
    assert rows[1][0] == "'=HYPERLINK(\"http://x\",\"y\")" and rows[2][0] == "'\tcmd|x"
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")) and not re.match(r"-[^\d]", cell)
    assert csv_safe(-3.5) == -3.5 and csv_safe("-1+2") == "'-1+2" and csv_safe("+x") == "'+x"


def test_report_cli_writes_every_format(runs, tmp_path, capsys):  # noqa: F811
    for fmt in ("md", "latex", "csv", "json"):
        out = tmp_path / f"table.{fmt}"
        assert main(["report", str(runs["clean"]), str(runs["noisy"]), "--baseline", str(runs["clean"]),
                     "--format", fmt, "--out", str(out), "--no-motion", "--bootstrap", "100"]) == 0
        assert out.stat().st_size > 200
    assert json.loads((tmp_path / "table.json").read_text())["baseline"] == "clean"


def test_bad_input_is_one_line(runs, tmp_path, capsys):  # noqa: F811
    assert main(["report", str(tmp_path)]) == 1
    assert "results.json: missing" in capsys.readouterr().err
    with pytest.raises(ReportInputError, match="none of the runs holds"):
        build_table([runs["clean"]], metrics=["jedi"])


def test_curves_extrapolate_the_biased_set_metrics_only(runs):  # noqa: F811
    from lumiere_eval.runner.compare import run_curves

    result = run_curves(runs["noisy"], num_resamples=8, seed=0, start=4, draws=2)
    for name in ("fvd", "kvd"):
        e = result["metrics"][name]["extrapolation"]
        assert [p["n"] for p in e["points"]] == [p["n"] for p in result["metrics"][name]["points"]]
        assert e["ci_low"] <= e["value"] <= e["ci_high"] and "not the protocol's number" in e["label"]
    assert "extrapolation" not in result["metrics"]["is"]
    table = build_table([runs["noisy"], runs["clean"]], published=False)
    extrapolated = table["rows"][0]["cells"]["fvd"]["extrapolated"]
    assert extrapolated["value"] == result["metrics"]["fvd"]["extrapolation"]["value"]
    head = markdown(table).splitlines()[0]
    assert "FVD∞ (extrapolated)" in head and "KVD∞ (extrapolated)" in head and "IS∞" not in head
    assert "not the protocol's number" in markdown(table)
    text = latex(table)
    body = text.split(r"\toprule")[1].split(r"\bottomrule")[0]
    assert all(line.count("&") == len(table["columns"]) + 2 for line in body.splitlines() if line.endswith(r"\\"))
