"""The shipped in-domain checkpoints, which the weight registry (`lumiere_eval.extractors.weights`) lists.

The SHA-256 of each file is listed here (and in the model card, from the training run's results.json), so
`lumiere_eval.extractors.weights.resolve` verifies it as it does for downloaded weights. The registered
file name is the file's absolute location inside the installed package (`lumiere_eval.assets.asset`):
`cache_dir() / filename` is then that location itself, so `resolve` finds, checks and returns the shipped
file without copying it or using the network (also with `fetch_missing=False`).
"""
from __future__ import annotations

from pathlib import Path

from lumiere_eval.assets import asset

FOLDER = ("models", "in-domain-evaluators")
CARD = "lumiere_eval/assets/models/in-domain-evaluators/README.md (from that training run's results.json)"

# weights name -> (shipped file, SHA-256, `lumiere-eval metrics` flag taking a local copy, description)
SHIPPED: dict[str, tuple[str, str, str, str]] = {
    "synthetic_classifier": ("synthetic-classifier.pt",
                             "3490b4abf13574554ff28e7264603b4c6000c0120f12efab6043d61970e4bc80", "--i3d / --c3d",
                             "3D-conv classifier of the synthetic action domain (in-domain FVD features and IS)"),
    "synthetic_video_text": ("synthetic-video-text.pt",
                             "b2aa228887d7b7e720df187293e001eb3fb7c5557ce7e1819a8b10b8e32b986f", "--clip",
                             "video-text contrastive model of the synthetic action domain (in-domain CLIPSIM)"),
}


def shipped_path(filename: str) -> Path:
    """Path of a shipped checkpoint inside the installed package."""
    return Path(str(asset(*FOLDER, filename)))

