"""Fixture results roots for the dashboard tests: two real run folders (tiny mp4s written with
`lumiere_eval.video.write_video`), a comparison folder, a human study created, simulated and analysed with
the project's own study code, and a root of malformed or partial records."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from lumiere_eval.cli import main as cli_main
from lumiere_eval.video import write_video

CLASSES = ["MoveLeft", "MoveRight"]
PROMPTS = {"MoveLeft": "a shape moving left", "MoveRight": "a shape moving right <b>bold</b>"}
HOSTILE_SUBSTRING = "<b>bold</b>"


def _frames(seed: int, color: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = np.full((8, 32, 32, 3), 40, dtype=np.uint8)
    y, x = rng.integers(0, 20, size=2)
    for t in range(8):
        frames[t, y:y + 10, (x + t) % 22:(x + t) % 22 + 10] = (color, 255 - color, 128)
    return frames


def write_run(folder: Path, model: str, domain: str, protocol: str, fvd: float, is_value: float,
              samples_per_class: int = 2, color: int = 200) -> Path:
    """A run folder in the runner's format: results.json, samples.jsonl, samples/*.mp4, config.json."""
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    lines = []
    index = 0
    for name in CLASSES:
        for k in range(samples_per_class):
            seed = 1000 + 10 * CLASSES.index(name) + k
            path = write_video(folder / "samples" / f"{index:06d}.mp4", _frames(seed, color), 8.0)
            lines.append({"index": index, "class": name, "prompt": PROMPTS[name], "seed": seed,
                          "path": f"samples/{index:06d}.mp4",
                          "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                          "clipsim": 20.0 + index, "is_top1": name if k == 0 else "Bounce",
                          "is_prob_of_prompted_class": 0.5})
            index += 1
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    extractor = {"id": "synthetic-i3d"}
    results = {
        "domain": domain, "protocol_id": protocol, "config": {"model": model, "num_samples": index},
        "model": {"name": model},
        "metrics": {"fvd": {"value": fvd, "ci_low": fvd - 5, "ci_high": fvd + 5, "higher_is_better": False,
                            "extractor": extractor, "clip": "first16s1", "n_fake": index},
                    "is": {"value": is_value, "ci_low": is_value - 0.5, "ci_high": is_value + 0.5,
                           "higher_is_better": True, "extractor": {"id": "synthetic-c3d"}, "n_fake": index}},
        "unverified_weights": [], "samples": {"generated": index, "planned": index}, "skipped_videos": [],
        "real_set": {"clips": 4}, "prompt_suite": {"name": "fixture"},
        "provenance": {"versions": {"lumiere-eval": "test"}, "git_commit": "fixture-commit", "machine": {}},
        "timings": {"total_s": 1.0},
    }
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "config.json").write_text(json.dumps(results["config"]))
    return folder


def build_good_root(root: Path) -> Path:
    """Two models in one comparison folder (same prompts and seeds), a UCF101-domain run, a study analysis."""
    suite = root / "suite"
    write_run(suite / "alpha", "alpha", "synthetic", "synthetic-zs-v1_fixture", 90.0, 3.0, color=220)
    write_run(suite / "beta", "beta", "synthetic", "synthetic-zs-v1_fixture", 60.0, 4.0, color=30)
    write_run(root / "ucf" / "gamma", "gamma", "ucf101", "ucf101-zs-v1_fixture", 500.0, 20.0, samples_per_class=1)
    (suite / "comparison.json").write_text(json.dumps({"domain": "synthetic", "models": {}}))
    _write_png(suite / "plots.png")
    study = root / "study"
    assert cli_main(["study", "create", "--runs", f"alpha={suite / 'alpha'}", f"beta={suite / 'beta'}",
                     "--questions", "quality,motion", "--raters", "2", "--vigilance", "0.25",
                     "--out", str(study)]) == 0
    assert cli_main(["study", "simulate", str(study), "--strength", "beta=1.5", "--workers", "6",
                     "--spammers", "1", "--out", str(study / "sim.csv")]) == 0
    assert cli_main(["study", "analyze", str(study), str(study / "sim.csv"), "--resamples", "50"]) == 0
    return root


def build_bad_root(root: Path, outside: Path) -> Path:
    """Malformed and partial records, a sample pointing outside the root and a symlink escaping it."""
    write_run(root / "ok", "okmodel", "ucf101", "ucf101-zs-v1_fixture", 400.0, 10.0, samples_per_class=1)
    (root / "broken").mkdir()
    (root / "broken" / "results.json").write_text('{"domain": "synthetic", "metrics": {"fvd": {"val')
    partial = write_run(root / "partial", "partialmodel", "synthetic", "p", 1.0, 1.0, samples_per_class=1)
    with (partial / "samples.jsonl").open("a") as handle:
        handle.write('{"index": 2, "prompt": "cut o')
    escape = write_run(root / "escape", "escapemodel", "synthetic", "p", 1.0, 1.0, samples_per_class=1)
    secret = outside / "secret.mp4"
    secret.write_bytes(b"not to be served")
    rows = [json.loads(line) for line in (escape / "samples.jsonl").read_text().splitlines()]
    rows[0]["path"] = "../../" + "../" * len(root.parts) + str(secret).lstrip("/")
    rows[1]["path"] = "samples/link.mp4"
    (escape / "samples" / "link.mp4").symlink_to(secret)
    (escape / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "study").mkdir()
    (root / "study" / "analysis.json").write_text('{"study_id": "s", "comparisons": [{"question": "quality"}], '
                                                  '"bradley_terry": [], "agreement": [], "vigilance": {}}')
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (outside / "results.json").write_text(json.dumps({"model": {"name": "outsider"}, "metrics": {}}))
    return root


def build_real_runs(results: Path, scratch: Path, folder: str = "real") -> dict[str, Path]:
    """Two finished runs of the UCF101 runner (tiny extractors, a miniature UCF101 tree in `scratch`) under
    `results/folder`: `clean` and `noisy` (same prompts and seeds), their features in `results/folder/cache`."""
    from test_extractors import save_tiny_clip, save_tiny_detector
    from test_runner_ucf101 import args_for, build_tree

    weights = {"i3d": scratch / "i3d.pt", "c3d": scratch / "c3d.pt", "clip": scratch / "clip.pt"}
    save_tiny_detector(weights["i3d"], 400, seed=1)
    save_tiny_detector(weights["c3d"], 3, seed=2)
    save_tiny_clip(weights["clip"])
    tree = build_tree(scratch / "data")
    runs = {}
    for name, noise in {"clean": "noise=4", "noisy": "noise=60"}.items():
        runs[name] = results / folder / name
        assert cli_main(args_for(tree, runs[name], weights, "--model-arg", noise)) == 0
    return runs


def _write_png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [2, 0, 1])
    fig.savefig(path, dpi=50)
    plt.close(fig)
