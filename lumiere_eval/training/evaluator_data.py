"""Training and evaluation sets rendered from the synthetic domain, and caption variants for the text model.

Every set is a pure function of its arguments (the domain is deterministic), so training can be resumed or
repeated anywhere and gives the same arrays.
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.datasets.synthetic import (BACKGROUNDS, CLASS_PHRASES, CLASSES, COLOURS, SHAPES, ClipSpec,
                                              SyntheticDomain, render)

# Attribute columns of `attributes`: label, colour, shape, background (as indices).
ATTRIBUTES = ("label", "colour", "shape", "background")


def render_split(domain: SyntheticDomain, split: str) -> tuple[np.ndarray, list[ClipSpec]]:
    """All clips of `split`: uint8 `[N, T, H, W, 3]` and their specs, in index order."""
    specs = list(domain.specs(split))
    clips = np.stack([render(s, domain.height, domain.width, domain.num_frames) for s in specs])
    return clips, specs


def attributes(specs: list[ClipSpec]) -> np.ndarray:
    """`[N, 4]` int attributes (label, colour, shape, background) of each clip."""
    colours, backgrounds = list(COLOURS), list(BACKGROUNDS)
    return np.array([[s.label, colours.index(s.colour), SHAPES.index(s.shape), backgrounds.index(s.background)]
                     for s in specs], dtype=np.int64)


def describe(attrs: np.ndarray, mask: np.ndarray) -> str:
    """Caption naming the attributes where `mask` is True (the motion always); others left general.

    With every attribute named this is exactly the domain's caption; with none it is `class_prompt`'s text.
    """
    label, colour, shape, background = (int(a) for a in attrs)
    parts = ["a"]
    if mask[1]:
        parts.append(list(COLOURS)[colour])
    parts.append(SHAPES[shape] if mask[2] else "shape")
    parts.append(CLASS_PHRASES[CLASSES[label]])
    if mask[3]:
        parts.append(f"on a {list(BACKGROUNDS)[background]} background")
    return " ".join(parts)


def caption_variants(attrs: np.ndarray, rng: np.random.Generator, full_fraction: float = 0.5
                     ) -> tuple[list[str], np.ndarray]:
    """One caption per clip: the full caption with probability `full_fraction`, else colour, shape and
    background each dropped with probability 1/2. Returns (captions, masks `[N, 4]` of named attributes)."""
    n = len(attrs)
    masks = rng.random((n, 4)) < 0.5
    masks[rng.random(n) < full_fraction] = True
    masks[:, 0] = True
    return [describe(a, m) for a, m in zip(attrs, masks)], masks


def consistent(text_attrs: np.ndarray, text_masks: np.ndarray, video_attrs: np.ndarray) -> np.ndarray:
    """`[n_text, n_video]` bool: text i names no attribute that video j lacks."""
    same = text_attrs[:, None, :] == video_attrs[None, :, :]
    return (same | ~text_masks[:, None, :]).all(axis=-1)
