"""The videos `generate --prompt-suite vbench[:...]` makes: every prompt of VBench's suite, samples 0..n-1 each,
named as VBench reads them (`videos/{prompt}-{index}.mp4`) and each with its own seed.

The videos go into `OUT/videos/`, apart from the manifest and config: VBench's standard mode takes the suffix of the
first entry it lists in the folder, so that folder must hold the videos only. Seed of sample `index` of `prompt`:
the first 4 bytes of SHA-256(`vbench-sample\\0{base}\\0{prompt}\\0{index}`), big-endian, masked to 31 bits: a
different seed for every video (as VBench's prompts/README.md asks), the same whatever dimensions are selected, in
whatever order, and however many samples are asked for.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lumiere_eval.datasets.vbench_names import (
    FLICKERING_SAMPLES,
    STANDARD_SAMPLES,
    sample_file_name,
)
from lumiere_eval.datasets.vbench_suite import VBenchSuite

VIDEOS_DIR = "videos"
SEED_RULE = "sha256('vbench-sample\\0{base}\\0{prompt}\\0{index}')[:4] big-endian & 0x7fffffff"


@dataclass(frozen=True)
class SuiteJob:
    """One video of the suite: its prompt, sample index, seed, path under OUT and the dimensions it serves."""

    prompt: str
    index: int
    seed: int
    path: str
    dimensions: tuple[str, ...]


def sample_seed(base: int, prompt: str, index: int) -> int:
    """The seed of sample `index` of `prompt` (see the module's docstring)."""
    digest = hashlib.sha256(f"vbench-sample\0{base}\0{prompt}\0{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def samples_of(dimensions: tuple[str, ...], samples_per_prompt: int | None) -> int:
    """`samples_per_prompt`, or VBench's counts: 25 for temporal flickering's prompts, 5 for the others."""
    if samples_per_prompt is not None:
        return samples_per_prompt
    return FLICKERING_SAMPLES if "temporal_flickering" in dimensions else STANDARD_SAMPLES


def plan_suite_jobs(suite: VBenchSuite, base_seed: int, samples_per_prompt: int | None = None,
                    suffix: str = ".mp4") -> list[SuiteJob]:
    """Every video of the suite in the suite's order; a prompt that cannot be a file name is an error naming it."""
    return [SuiteJob(p.prompt, i, sample_seed(base_seed, p.prompt, i),
                     f"{VIDEOS_DIR}/{sample_file_name(p.prompt, i, suffix)}", p.dimensions)
            for p in suite.prompts for i in range(samples_of(p.dimensions, samples_per_prompt))]


def describe_plan(suite: VBenchSuite, base_seed: int, samples_per_prompt: int | None) -> dict:
    """The suite and sampling rules as the generate config records them."""
    return {**suite.describe(), "samples_per_prompt": samples_per_prompt or "vbench (5; 25 for temporal_flickering)",
            "base_seed": base_seed, "seed_rule": SEED_RULE, "naming": "{prompt}-{index}{suffix}",
            "videos_dir": VIDEOS_DIR}
