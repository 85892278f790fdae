"""MultiDiffusion along time (Bar-Tal et al. 2023), as Lumiere runs its spatial super-resolution.

The video is split into overlapping temporal windows; at every denoising step the model runs on each window
and the overlapping predictions are averaged frame by frame. Averaging is the least-squares solution of
argmin_J sum_i ||F_i(J) - Phi(J_i)||^2 with F_i the crop to window i; since a DDIM/DDPM step is affine in
the prediction (for a fixed x_t and noise), averaging predictions equals averaging the per-window steps.
Axes: b batch, c channels, t frames, h w space.
"""
from __future__ import annotations

from typing import Callable

import torch

from lumiere_eval import LumiereEvalError

WindowDenoiser = Callable[[torch.Tensor, torch.Tensor, slice], torch.Tensor]


class WindowError(LumiereEvalError):
    """Window length or overlap that cannot tile a video."""


def temporal_windows(num_frames: int, window: int, overlap: int) -> list[slice]:
    """Windows of `window` frames, consecutive ones sharing `overlap` frames; the last one is aligned to the end.

    A video no longer than `window` is one window.
    """
    if window < 1 or not 0 <= overlap < window:
        raise WindowError(f"need window >= 1 and 0 <= overlap < window, got window={window}, overlap={overlap}")
    if num_frames <= window:
        return [slice(0, num_frames)]
    starts = list(range(0, num_frames - window + 1, window - overlap))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return [slice(s, s + window) for s in starts]


def multidiffusion(denoise_window: WindowDenoiser, window: int, overlap: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A denoiser over whole videos [b, c, t, h, w] that averages `denoise_window(x[:, :, w], t, w)` over windows."""
    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(x)
        count = torch.zeros(x.shape[2], dtype=x.dtype, device=x.device)
        for frames in temporal_windows(x.shape[2], window, overlap):
            total[:, :, frames] += denoise_window(x[:, :, frames], t, frames)
            count[frames] += 1
        return total / count[None, None, :, None, None]
    return denoise
