"""Resize protocols: how frames become extractor input. Named and versioned, because FVD changes with them.

- `tf-fvd-v1`: the original TF FVD (google-research frechet_video_distance): every frame stretched to
  224x224 with TF1 `tf.image.resize_bilinear` (align_corners=False, half_pixel_centers=False, i.e. source
  coordinate = destination * in/out), then 2*x/255 - 1. No crop, aspect ratio not kept.
- `videogpt-v1`: VideoGPT (`videogpt/fvd/fvd.py` with `videogpt/data.py` preprocess): shorter side to 224
  with bilinear (align_corners=False, half-pixel centres, no antialias), centre crop 224x224, then 2*x/255 - 1.
- `cdfvd-v1`: TATS (`tats/fvd/fvd.py` preprocess) and cd-fvd 0.1.1 (`cdfvd/third_party/i3d/utils.py`
  preprocess_i3d, copied from TATS): every frame stretched to 224x224 with torch bilinear (align_corners=False,
  no antialias, no crop), then 2*x/255 - 1.
- `none-uint8`: no resize; values stay 0..255 (for TorchScript detectors that resize and rescale
  themselves, such as StyleGAN-V's I3D called with rescale=True, resize=True).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lumiere_eval import LumiereEvalError


@dataclass(frozen=True)
class ResizeProtocol:
    """A named way from uint8 frames to extractor input; `value_range` is what `apply` returns."""

    name: str
    size: int | None
    mode: str  # "stretch-tf1" | "stretch-torch" | "short-side-crop" | "none"
    value_range: tuple[float, float]

    def apply(self, video: torch.Tensor) -> torch.Tensor:
        """uint8 `[B, T, H, W, 3]` -> float32 `[B, 3, T, S, S]` in `value_range`."""
        if video.dtype != torch.uint8 or video.ndim != 5 or video.shape[-1] != 3:
            raise LumiereEvalError(f"resize protocol {self.name}: expected uint8 [B, T, H, W, 3], "
                                   f"got {video.dtype} {list(video.shape)}")
        b, t, h, w, _ = video.shape
        frames = video.reshape(b * t, h, w, 3).permute(0, 3, 1, 2).float()  # (b t) c h w
        if self.mode == "stretch-tf1":
            frames = tf1_resize_bilinear(frames, self.size, self.size)
        elif self.mode == "stretch-torch":
            frames = F.interpolate(frames, size=(self.size, self.size), mode="bilinear", align_corners=False)
        elif self.mode == "short-side-crop":
            frames = short_side_resize_center_crop(frames, self.size)
        out = frames.reshape(b, t, 3, *frames.shape[-2:]).permute(0, 2, 1, 3, 4).contiguous()
        low, high = self.value_range
        if (low, high) != (0.0, 255.0):
            out = out * ((high - low) / 255.0) + low
        return out


def _tf1_weights(in_size: int, out_size: int) -> torch.Tensor:
    """`[out, in]` interpolation matrix of TF1 resize_bilinear with half_pixel_centers=False."""
    scale = in_size / out_size
    src = torch.arange(out_size, dtype=torch.float64) * scale
    low = src.floor().long().clamp(max=in_size - 1)
    high = (low + 1).clamp(max=in_size - 1)
    frac = src - low.double()
    weights = torch.zeros(out_size, in_size, dtype=torch.float64)
    weights[torch.arange(out_size), low] += 1 - frac
    weights[torch.arange(out_size), high] += frac
    return weights


def tf1_resize_bilinear(frames: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """TF1 `tf.image.resize_bilinear(align_corners=False)` of float `[N, C, H, W]`, as two small matmuls."""
    wy = _tf1_weights(frames.shape[-2], out_h).to(frames.dtype)
    wx = _tf1_weights(frames.shape[-1], out_w).to(frames.dtype)
    return torch.einsum("yh,nchw,xw->ncyx", wy, frames, wx)


def short_side_resize_center_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Shorter side to `size` (bilinear, align_corners=False, no antialias), then a centre crop to size x size."""
    h, w = frames.shape[-2:]
    scale = size / min(h, w)
    new_h, new_w = (size, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), size)  # as VideoGPT
    frames = F.interpolate(frames, size=(new_h, new_w), mode="bilinear", align_corners=False)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return frames[..., top:top + size, left:left + size]


RESIZE_PROTOCOLS: dict[str, ResizeProtocol] = {
    p.name: p for p in (
        ResizeProtocol("tf-fvd-v1", 224, "stretch-tf1", (-1.0, 1.0)),
        ResizeProtocol("videogpt-v1", 224, "short-side-crop", (-1.0, 1.0)),
        ResizeProtocol("cdfvd-v1", 224, "stretch-torch", (-1.0, 1.0)),
        ResizeProtocol("none-uint8", None, "none", (0.0, 255.0)),
    )
}


def get_resize_protocol(name: str) -> ResizeProtocol:
    """The resize protocol registered under `name`."""
    try:
        return RESIZE_PROTOCOLS[name]
    except KeyError:
        raise LumiereEvalError(f"unknown resize protocol {name!r}; known: {', '.join(RESIZE_PROTOCOLS)}") from None
