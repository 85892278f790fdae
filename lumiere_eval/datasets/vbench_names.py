"""VBench's names of sample files: `{prompt}-{index}{suffix}`, the prompt verbatim.

Facts from vbench 0.1.5 (`vbench/__init__.py`, `vbench/utils.py`) and VBench's `prompts/README.md`:
- standard mode (`VBench.build_full_info_json(mode='vbench_standard')`) looks, for each prompt of its
  `VBench_full_info.json`, for exactly `f"{prompt}-{i}{suffix}"` with i in 0..4 among `os.listdir(videos_path)`;
  `suffix` is the suffix of the first entry listdir returns, so the folder must hold these videos and nothing else;
- custom mode (`mode='custom_input'`) takes each .mp4/.gif's prompt from its name (`get_prompt_from_filename`: the
  stem with a final `-<digits>` removed);
- temporal flickering's prompts are sampled 25 times (`static_filter.py` keeps 5 static ones per prompt and renames
  them `{prompt}-{0..4}.mp4`).
A prompt holding `/` (or NUL) cannot be a file name, and Linux file names are at most 255 bytes: such prompts are
refused with the prompt named, not shortened, since VBench would then not find the file (the file is first written
under a temporary name 20 bytes longer, so names are kept to 235 bytes; vbench 0.1.5's longest prompt is 210).
"""
from __future__ import annotations

import re
from pathlib import Path

from lumiere_eval import LumiereEvalError

SUFFIXES = (".mp4", ".gif")   # the suffixes VBench's custom mode lists
NAME_MAX_BYTES = 255          # NAME_MAX of Linux file systems (ext4, xfs, btrfs)
TEMPORARY_BYTES = 20          # what `files.atomic_path`'s temporary name adds: `.` + `.<pid, <= 7 digits>.<6 hex>.tmp`
STANDARD_SAMPLES = 5          # videos per prompt VBench's standard mode reads (indices 0..4)
FLICKERING_SAMPLES = 25       # videos per temporal-flickering prompt before VBench's static filter
_INDEX_ENDING = re.compile(r"-\d+$")


class VBenchNameError(LumiereEvalError):
    """A prompt that cannot be written as a VBench sample-file name."""


def sample_file_name(prompt: str, index: int, suffix: str = ".mp4") -> str:
    """VBench's name of sample `index` of `prompt`: `f"{prompt}-{index}{suffix}"`; refuses prompts that cannot
    be one file name (a `/` or NUL, empty, over 255 bytes with the ending)."""
    if index < 0:
        raise VBenchNameError(f"sample index {index} of {prompt!r} is negative")
    name = f"{prompt}-{index}{suffix}"
    if not prompt.strip():
        raise VBenchNameError("an empty prompt has no VBench file name")
    bad = next((c for c in ("/", "\0") if c in prompt), None)
    if bad is not None:
        raise VBenchNameError(f"prompt {prompt!r} holds {bad!r}, which no file name can hold; VBench names files "
                              "by the verbatim prompt, so this prompt cannot be evaluated by VBench's standard mode")
    limit = NAME_MAX_BYTES - TEMPORARY_BYTES
    if len(name.encode("utf-8")) > limit:
        raise VBenchNameError(f"prompt {prompt[:60]!r}... is too long for VBench's file name ({len(name.encode())} "
                              f"bytes with '-{index}{suffix}'; the limit is {limit}: {NAME_MAX_BYTES} less "
                              f"{TEMPORARY_BYTES} for the temporary name the file is written under first)")
    return name


def prompt_of_file_name(path: str | Path) -> str:
    """The prompt VBench's custom mode reads from a file name: the stem without a final `-<digits>`."""
    return _INDEX_ENDING.sub("", Path(path).stem)
