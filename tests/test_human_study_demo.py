"""The default run's SIMULATED three-model study section: labelled, built from the run's own records."""
from __future__ import annotations

import numpy as np

from lumiere_eval.demo.simulated_study import simulated_study_section

MODELS = ["lumiere", "keyframe-cascade", "per-frame-t2i"]


def _records(seed: int = 0):
    rng = np.random.default_rng(seed)
    samples = {m: [{"index": i, "class": "X", "prompt": f"a shape moving {i % 4}", "seed": i, "path": f"{i}.mp4",
                    "clipsim": float(rng.normal(40 - 5 * k, 5)), "is_prob_of_prompted_class": float(rng.uniform()),
                    "is_top1": "X"} for i in range(16)] for k, m in enumerate(MODELS)}
    metrics = {m: {"fvd": {"value": 20.0 + 10 * k, "higher_is_better": False},
                   "is": {"value": 6.0 - k, "higher_is_better": True}} for k, m in enumerate(MODELS)}
    return samples, metrics


def test_section_is_labelled_simulated_and_has_the_leaderboard_and_agreement():
    samples, metrics = _records()
    text = simulated_study_section(samples, metrics, resamples=20)
    assert text.startswith("## SIMULATED human study") and "**SIMULATED.** No person rated these videos" in text
    assert "16 (prompt, seed)" in text and f"({16 * 3 * 3} votes)" in text
    for name in ("clipsim", "is_prob_of_prompted_class", "fvd", "is"):
        assert f"| {name} |" in text
    ranking = [line.split("|")[2].strip() for line in text.splitlines() if line.startswith("| 1 |")
               or line.startswith("| 2 |") or line.startswith("| 3 |")]
    assert sorted(ranking) == sorted(MODELS)
    assert text == simulated_study_section(samples, metrics, resamples=20)  # seeded


def test_no_shared_videos_no_section():
    samples, metrics = _records()
    samples["per-frame-t2i"] = [dict(r, seed=r["seed"] + 100) for r in samples["per-frame-t2i"]]
    assert simulated_study_section(samples, metrics) == ""


def test_one_model_no_section():
    samples, metrics = _records()
    assert simulated_study_section({"lumiere": samples["lumiere"]}, {"lumiere": metrics["lumiere"]}) == ""
