"""VBench's sample-file names against vbench 0.1.5's own name matching: `VBench.build_full_info_json` in standard
mode (an exact `{prompt}-{i}{suffix}` lookup in `os.listdir`) finds every video of our plan, on a tiny JSON and on
the installed package's VBench_full_info.json (empty files: the matching only lists names), and
`utils.get_prompt_from_filename` (custom mode) reads every prompt back from our names. No network: the matching
reads the folder only."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_vbench_prompt_suite import ENTRIES, _installed, write_json

from lumiere_eval.datasets.vbench_names import prompt_of_file_name, sample_file_name
from lumiere_eval.datasets.vbench_suite import DIMENSIONS, load_suite
from lumiere_eval.models.suite_jobs import plan_suite_jobs


def test_names_map_back_to_prompts_as_vbench_custom_mode_reads_them():
    utils = pytest.importorskip("vbench.utils")
    prompts = [e["prompt_en"] for e in ENTRIES] + ["Route-66", "a.b. c", "ends with a digit 7", "-1"]
    if _installed() is not None:
        prompts += [p.prompt for p in load_suite().prompts]
    for prompt in prompts:
        for index in (0, 4, 24):
            name = sample_file_name(prompt, index)
            assert utils.get_prompt_from_filename(f"/some/folder/{name}") == prompt_of_file_name(name) == prompt


def _vbench_standard_lists(full_info: Path, videos: Path, out: Path, capsys) -> tuple[list[dict], str]:
    """vbench's own standard-mode matching of `videos` against `full_info` (no network: it lists the folder)."""
    vbench = pytest.importorskip("vbench")
    path = vbench.VBench("cpu", str(full_info), str(out)).build_full_info_json(str(videos), "suite", list(DIMENSIONS))
    return json.loads(Path(path).read_text(encoding="utf-8")), capsys.readouterr().out


@pytest.mark.parametrize("source", ["tiny", "installed"])
def test_vbench_standard_mode_finds_every_video_of_our_plan(tmp_path, capsys, source):
    if source == "installed" and _installed() is None:
        pytest.skip("the vbench package (with its VBench_full_info.json) is not installed")
    full_info = write_json(tmp_path / "info.json", ENTRIES) if source == "tiny" else _installed()
    jobs = plan_suite_jobs(load_suite(full_info), base_seed=0)
    for job in jobs:  # empty files: VBench's matching only lists names
        (tmp_path / job.path).parent.mkdir(exist_ok=True)
        (tmp_path / job.path).touch()
    listed, printed = _vbench_standard_lists(full_info, tmp_path / "videos", tmp_path / "vbench_out", capsys)
    assert "WARNING" not in printed
    entries = json.loads(full_info.read_text(encoding="utf-8"))
    assert len(listed) == len(entries)
    for entry in listed:
        assert [Path(v).name for v in entry["video_list"]] == [sample_file_name(entry["prompt_en"], i)
                                                               for i in range(5)]
    flickering = {e["prompt_en"] for e in entries if "temporal_flickering" in e["dimension"]}
    counts = {p: sum(j.prompt == p for j in jobs) for p in {j.prompt for j in jobs}}
    assert {p for p, n in counts.items() if n == 25} == flickering  # VBench samples these 25 times
    assert set(counts.values()) <= {5, 25} and len({j.seed for j in jobs}) == len(jobs)
