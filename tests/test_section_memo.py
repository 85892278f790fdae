"""Report sections of the default run: kept while inputs and code are unchanged, recomputed otherwise."""
from __future__ import annotations

from lumiere_eval.runner import section_memo
from lumiere_eval.runner.section_memo import memo_section


def test_section_is_kept_until_its_inputs_code_or_outputs_change(tmp_path, monkeypatch):
    calls = []

    def compute() -> str:
        calls.append(1)
        (tmp_path / "statistics.json").write_text("{}")
        return f"section {len(calls)}"

    outputs = (tmp_path / "statistics.json",)
    assert memo_section(tmp_path, "stats", {"seed": 0}, compute, outputs) == "section 1"
    assert memo_section(tmp_path, "stats", {"seed": 0}, compute, outputs) == "section 1"  # kept
    assert memo_section(tmp_path, "stats", {"seed": 1}, compute, outputs) == "section 2"  # other inputs
    (tmp_path / "statistics.json").unlink()
    assert memo_section(tmp_path, "stats", {"seed": 1}, compute, outputs) == "section 3"  # an output is gone
    monkeypatch.setattr(section_memo, "package_fingerprint", lambda: "other code")
    assert memo_section(tmp_path, "stats", {"seed": 1}, compute, outputs) == "section 4"  # new code
    (tmp_path / ".sections" / "stats.json").write_text("not json")
    assert memo_section(tmp_path, "stats", {"seed": 1}, compute, outputs) == "section 5"  # unreadable memo
    assert len(calls) == 5
