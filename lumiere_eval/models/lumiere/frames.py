"""Conversions between the model's video tensors and uint8 frames, and the SSR stage's spatial resize.

Axes: b batch, c channels, t frames, h w space.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """float [b, 3, t, h, w] in [-1, 1] -> uint8 [b, t, h, w, 3]."""
    return ((video.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 4, 1).cpu().numpy()


def upsample(video: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear spatial resize of [b, c, t, h, w] (the SSR stage's condition, a generator's asked size)."""
    b, c, t, h, w = video.shape
    frames = video.transpose(1, 2).reshape(b * t, c, h, w)
    frames = F.interpolate(frames, size=(height, width), mode="bilinear", align_corners=False)
    return frames.reshape(b, t, c, height, width).transpose(1, 2)
