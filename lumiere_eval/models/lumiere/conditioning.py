"""Conditional generation as Lumiere does it: the noisy video, a masked conditioning video and its mask,
concatenated on the channel axis (3 + 3 + 1 = 7 input channels), with the first layer widened to take them.

A mask is 1 where the conditioning video is known (kept) and 0 where the model generates. The same layout
serves every task (Lumiere, section 4):
- image-to-video: the first frame known, the rest blank;
- inpainting: the video known outside a box;
- outpainting: the video known inside, a border generated;
- cinemagraph: one image repeated over time, known everywhere but the region to animate;
- temporal super-resolution (the keyframe cascade): every `stride`-th frame known.
Axes: b batch, c channels, t frames, h w space; masks are [t, h, w] (numpy) or [b, 1, t, h, w] (torch).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from lumiere_eval import LumiereEvalError

MASK_KINDS = ("none", "first-frame", "keyframes", "box", "border", "cinemagraph")
CONDITION_CHANNELS = 4   # masked video (3) + mask (1)


class ConditioningError(LumiereEvalError):
    """An unknown mask kind, or a mask / video whose shape does not fit."""


def keyframe_indices(num_frames: int, stride: int) -> list[int]:
    """Frames 0, stride, 2 stride, ... below `num_frames`: the keyframes of a cascade."""
    if stride < 1:
        raise ConditioningError(f"keyframe stride must be >= 1, got {stride}")
    return list(range(0, num_frames, stride))


def training_mask(kind: str, frames: int, height: int, width: int, rng: np.random.Generator,
                  stride: int = 5) -> np.ndarray:
    """A random float32 mask [frames, height, width] of `kind` (1 = known), as used in fine-tuning."""
    mask = np.zeros((frames, height, width), np.float32)
    if kind == "none":
        return mask
    if kind == "first-frame":
        mask[0] = 1
        return mask
    if kind == "keyframes":
        mask[keyframe_indices(frames, stride)] = 1
        return mask
    box_h = int(rng.integers(height // 4, height // 2 + 1))
    box_w = int(rng.integers(width // 4, width // 2 + 1))
    top, left = int(rng.integers(0, height - box_h + 1)), int(rng.integers(0, width - box_w + 1))
    if kind in ("box", "cinemagraph"):      # known outside a box (cinemagraph: the box is what moves)
        mask[:] = 1
        mask[:, top:top + box_h, left:left + box_w] = 0
        return mask
    if kind == "border":
        edge = int(rng.integers(max(1, height // 8), height // 4 + 1))
        mask[:, edge:height - edge, edge:width - edge] = 1
        return mask
    raise ConditioningError(f"unknown mask kind {kind!r}; known: {', '.join(MASK_KINDS)}")


def cinemagraph_target(video: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The training target of a cinemagraph: the first frame where the mask keeps, the video elsewhere.

    `video` [t, h, w, c] (any dtype), `mask` [t, h, w] constant over time.
    """
    keep = mask[..., None]
    return (keep * video[:1] + (1 - keep) * video).astype(video.dtype)


def condition_input(video: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[b, 4, t, h, w]: the known part of `video` [b, 3, t, h, w] (0 elsewhere) and `mask` [b, 1, t, h, w]."""
    if mask.dim() != 5 or mask.shape[1] != 1 or mask.shape[2:] != video.shape[2:] or mask.shape[0] != video.shape[0]:
        raise ConditioningError(f"mask of shape {tuple(mask.shape)} does not fit video {tuple(video.shape)}; "
                                f"expected [b, 1, t, h, w] with the video's b, t, h, w")
    return torch.cat([video * mask, mask], dim=1)


def _first_conv_key(model: nn.Module) -> str:
    from lumiere_eval.models.lumiere.stunet import STUNet
    return ("t2i." if isinstance(model, STUNet) else "") + "blocks.0.layers.0.weight"


def widen_input(model: nn.Module, extra: int, **overrides: Any) -> nn.Module:
    """A copy of the U-Net or STUNet `model` taking `extra` more conditioning channels, appended after its
    inputs; their first-layer weights start at zero, so the copy computes exactly what `model` computes.

    `overrides` replace entries of a STUNet's config (e.g. `train_input=True`).
    """
    from lumiere_eval.models.lumiere.stunet import STUNet

    if extra < 1:
        raise ConditioningError(f"widen by at least one channel, got {extra}")
    if isinstance(model, STUNet):
        t2i = {**model.config["t2i"], "cond_channels": model.config["t2i"]["cond_channels"] + extra}
        wide = STUNet(**{**model.config, **overrides, "t2i": t2i})
    else:
        wide = type(model)(**{**model.config, "cond_channels": model.config["cond_channels"] + extra})
    state = dict(model.state_dict())
    key = _first_conv_key(model)
    weight = state[key]
    state[key] = torch.cat([weight, weight.new_zeros(weight.shape[0], extra, *weight.shape[2:])], dim=1)
    wide.load_state_dict(state)
    return wide
