"""Shared builders for the human-study tests: tiny real videos, manifests and run folders (no tests here)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from lumiere_eval.video import write_video

COLORS = {"alpha": (220, 40, 40), "beta": (40, 200, 60), "gamma": (40, 60, 220), "delta": (200, 200, 40)}


def tiny_video(path: Path, color: tuple[int, int, int], variant: int, frames: int = 8, size: int = 16) -> Path:
    """A small moving-bar video in `color`; `variant` shifts the pattern so every file has its own bytes."""
    video = np.zeros((frames, size, size, 3), np.uint8)
    video[...] = color
    for t in range(frames):
        column = (2 * t + variant) % size
        video[t, :, column:column + 2] = 255
        video[t, variant % size, :] = (variant * 37) % 256
    return write_video(path, video, 8.0)


def make_manifest(root: Path, prompts: list[str], models=("alpha", "beta"), suffix: str = ".jsonl") -> Path:
    """Videos of `models` for every prompt (seed = prompt index) and a manifest (.jsonl or .csv) listing them."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for m, model in enumerate(models):
        for i, prompt in enumerate(prompts):
            name = f"{model}_{i}.mp4"
            tiny_video(root / name, COLORS[model], variant=i + 3 * m)
            rows.append({"model": model, "prompt": prompt, "seed": i, "path": name})
    path = root / f"manifest{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        import csv

        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["model", "prompt", "seed", "path"])
            writer.writeheader()
            writer.writerows(rows)
    return path


def make_run_folder(root: Path, model: str, prompts: list[str], name_in_results: bool = True) -> Path:
    """A runner-style run folder: videos/, samples.jsonl (with sha256) and results.json naming the model."""
    (root / "videos").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, prompt in enumerate(prompts):
        rel = f"videos/{i:05d}.mp4"
        tiny_video(root / rel, COLORS[model], variant=i + 7)
        sha = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        lines.append(json.dumps({"index": i, "class": prompt.split()[-1], "prompt": prompt, "seed": i,
                                 "path": rel, "sha256": sha}))
    (root / "samples.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if name_in_results:
        (root / "results.json").write_text(json.dumps({"model": {"name": model}}), encoding="utf-8")
    return root
