"""VBench's prompt suite: read from a VBench_full_info.json, VBench's prompts/ text files or the installed package,
selected by dimension, with clear errors; the refusals of VBench's sample-file names; seeds per (prompt, index).
The names against vbench's own matching: test_conformance_vbench_names.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lumiere_eval.datasets.vbench_names import (
    VBenchNameError,
    sample_file_name,
)
from lumiere_eval.datasets.vbench_suite import (
    PROMPT_FILES,
    PromptSuiteError,
    installed_full_info,
    load_suite,
    parse_suite_spec,
)
from lumiere_eval.models.suite_jobs import plan_suite_jobs, sample_seed

ENTRIES = [
    {"prompt_en": "A 3D model of a 1800s victorian house.", "dimension": ["subject_consistency", "dynamic_degree"]},
    {"prompt_en": "a red bicycle", "dimension": ["color"], "auxiliary_info": {"color": {"color": "red"}}},
    {"prompt_en": "Route-66 at dusk, façades", "dimension": ["temporal_flickering"]},
    {"prompt_en": "a red bicycle", "dimension": ["overall_consistency"]},  # listed twice, as 2 prompts of 0.1.5 are
]


def write_json(path: Path, entries) -> Path:
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    return path


def write_prompt_folder(root: Path, entries) -> Path:
    """VBench's prompts/ layout: prompts_per_dimension/<suite file>.txt for the dimensions of `entries`."""
    folder = root / "prompts" / "prompts_per_dimension"
    folder.mkdir(parents=True)
    for name in dict.fromkeys(PROMPT_FILES.values()):
        prompts = [e["prompt_en"] for e in entries if any(PROMPT_FILES[d] == name for d in e["dimension"])]
        if prompts:
            (folder / f"{name}.txt").write_text("".join(p + "\n" for p in dict.fromkeys(prompts)), encoding="utf-8")
    return root / "prompts"


def test_full_info_json_merges_repeated_prompts_and_selects_by_dimension(tmp_path):
    suite = load_suite(write_json(tmp_path / "info.json", ENTRIES))
    assert [p.prompt for p in suite.prompts] == [e["prompt_en"] for e in ENTRIES[:3]]
    bicycle = suite.prompts[1]
    assert bicycle.dimensions == ("color", "overall_consistency")
    assert bicycle.auxiliary_info == {"color": {"color": "red"}}
    chosen = load_suite(tmp_path / "info.json", ["overall_consistency", "dynamic_degree"])
    assert [(p.prompt, p.dimensions) for p in chosen.prompts] == [
        (ENTRIES[0]["prompt_en"], ("dynamic_degree",)), ("a red bicycle", ("overall_consistency",))]
    assert chosen.prompts[1].auxiliary_info == {}  # only the selected dimensions' info
    described = chosen.describe()
    assert described["dimensions"] == ["overall_consistency", "dynamic_degree"] and described["num_prompts"] == 2
    assert described["source_sha256"] != "" and described["hash"] == chosen.hash != suite.hash
    assert parse_suite_spec("vbench") == parse_suite_spec("vbench:all") == ()
    assert parse_suite_spec("vbench: color , scene") == ("color", "scene")


def test_text_files_give_the_same_suite_and_hash_as_the_json(tmp_path):
    info = write_json(tmp_path / "info.json", ENTRIES)
    folder = write_prompt_folder(tmp_path, ENTRIES)
    for dimensions in (["color"], ["overall_consistency", "subject_consistency", "temporal_flickering"]):
        from_json, from_text = load_suite(info, dimensions), load_suite(folder, dimensions)
        assert {p.prompt: set(p.dimensions) for p in from_text.prompts} == {p.prompt: set(p.dimensions)
                                                                            for p in from_json.prompts}
        assert from_text.hash == from_json.hash
    with pytest.raises(PromptSuiteError, match="prompts_per_dimension: no scene.txt, object_class.txt, .*, "
                                               "appearance_style.txt "):
        load_suite(folder)  # every dimension: every suite file is needed
    one = load_suite(folder / "prompts_per_dimension" / "subject_consistency.txt")  # a suite file's dimensions
    assert one.prompts[0].dimensions == ("subject_consistency", "motion_smoothness", "dynamic_degree")
    plain = tmp_path / "all_dimension.txt"
    plain.write_text("a cat\n\n a dog \n", encoding="utf-8")
    assert [(p.prompt, p.dimensions) for p in load_suite(plain).prompts] == [("a cat", ()), ("a dog", ())]
    with pytest.raises(PromptSuiteError, match="all_dimension.txt: no prompt for dimension color .*names no dim"):
        load_suite(plain, ["color"])


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a JSON file"),
    ('{"prompt_en": "a"}', "expected a non-empty JSON list"),
    ('[{"prompt_en": "a", "dimension": ["color"]}, 3]', "entry 1: expected an object, got int"),
    ('[{"dimension": ["color"]}]', "entry 0: field 'prompt_en' must be a non-empty string"),
    ('[{"prompt_en": "a", "dimension": "color"}]', "entry 0: field 'dimension' must be a non-empty list"),
    ('[{"prompt_en": "a", "dimension": ["color"], "auxiliary_info": []}]', "entry 0: field 'auxiliary_info'"),
])
def test_malformed_json_errors_name_the_file_entry_and_field(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PromptSuiteError, match=f"bad.json: {message}"):
        load_suite(path)


def test_unknown_or_absent_dimensions_and_missing_files(tmp_path):
    info = write_json(tmp_path / "info.json", ENTRIES)
    with pytest.raises(PromptSuiteError, match="unknown VBench dimension 'colour'; VBench's dimensions: subject_"):
        load_suite(info, ["colour"])
    with pytest.raises(PromptSuiteError, match="info.json: no prompt for dimension scene"):
        load_suite(info, ["scene", "color"])
    folder = write_prompt_folder(tmp_path, ENTRIES)  # ENTRIES have no scene prompt: no scene.txt
    with pytest.raises(PromptSuiteError, match="no scene.txt"):
        load_suite(folder, ["background_consistency"])  # VBench samples background consistency from scene.txt
    with pytest.raises(PromptSuiteError, match="nowhere.json: file not found"):
        load_suite(tmp_path / "nowhere.json")
    with pytest.raises(PromptSuiteError, match="the known suite is 'vbench'"):
        parse_suite_spec("vbench2:color")


def test_names_refuse_what_no_file_name_can_hold():
    house = "A 3D model of a 1800s victorian house."
    assert sample_file_name(house, 3) == f"{house}-3.mp4"
    with pytest.raises(VBenchNameError, match="holds '/'"):
        sample_file_name("a cat / a dog", 0)
    with pytest.raises(VBenchNameError, match="too long .* the limit is 235"):
        sample_file_name("a" * 230, 0)
    assert sample_file_name("é" * 113, 4)  # 226 bytes of UTF-8 + '-4.mp4': 232, within the limit


def test_seeds_depend_on_prompt_and_index_only(tmp_path):
    info = write_json(tmp_path / "info.json", ENTRIES)
    whole = {(j.prompt, j.index): j.seed for j in plan_suite_jobs(load_suite(info), 3, samples_per_prompt=2)}
    part = plan_suite_jobs(load_suite(info, ["color"]), 3, samples_per_prompt=4)
    assert [j.index for j in part] == [0, 1, 2, 3]
    assert all(whole[(j.prompt, j.index)] == j.seed for j in part if j.index < 2)
    assert part[0].seed == sample_seed(3, "a red bicycle", 0) != sample_seed(4, "a red bicycle", 0)


def _installed() -> Path | None:
    try:
        return installed_full_info()
    except PromptSuiteError:
        return None


def test_style_phrases_come_from_the_suite_a_text_suite_and_no_suite_have_none(tmp_path, monkeypatch):
    import importlib.util

    from lumiere_eval.datasets.vbench_suite import appearance_styles

    full = tmp_path / "VBench_full_info.json"
    full.write_text(json.dumps([{"prompt_en": "a beach, Van Gogh style", "dimension": ["appearance_style"],
                                 "auxiliary_info": {"appearance_style": {"appearance_style": "Van Gogh style"}}},
                                {"prompt_en": "a dog", "dimension": ["subject_consistency"]}]))
    assert appearance_styles(full) == ({"a beach, Van Gogh style": "Van Gogh style"}, str(full))
    (tmp_path / "appearance_style.txt").write_text("a beach, Van Gogh style\n")
    styles, source = appearance_styles(tmp_path / "appearance_style.txt")
    assert styles == {} and "has no appearance-style phrases" in source
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # as if vbench were not installed
    styles, source = appearance_styles()
    assert styles == {} and source.startswith("none (the vbench package is not installed")


def test_without_vbench_installed_the_default_suite_asks_for_a_path(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # as if vbench were not installed
    with pytest.raises(PromptSuiteError, match="vbench package is not installed; give VBench's prompt suite by path"):
        load_suite()
