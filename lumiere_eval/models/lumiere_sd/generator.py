"""`lumiere-sd`: a diffusers T2I model inflated into a Space-Time U-Net with trained temporal weights.

    lumiere-eval generate --model lumiere-sd --model-arg base=PATH_OR_HUB_ID,temporal=FILE.pt ...

The whole clip is sampled at once in the VAE's latent space with the base's own scheduler, then decoded
frame by frame and resized (bilinear) to the asked size. A frame count the network cannot take is rounded
up to its multiple and the first frames kept. Options: `window` (+ `overlap`) runs MultiDiffusion over
temporal windows; `style` (a U-Net folder fine-tuned from the same base) with `alpha` interpolates the
spatial weights; `device` and `dtype` (e.g. cuda, float16) where it runs (the base's hashes are checked in
float32 before the cast). A video depends on its prompt and seed only: one CPU generator per sample.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lumiere_eval import LumiereEvalError
from lumiere_eval.models.base import BatchedGenerator, GeneratedVideo
from lumiere_eval.models.lumiere.frames import to_uint8, upsample
from lumiere_eval.models.lumiere.multidiffusion import multidiffusion
from lumiere_eval.models.lumiere_sd.checkpoint import COMPONENTS, load_base, load_temporal, read_temporal_meta
from lumiere_eval.models.lumiere_sd.latent import decode_latents, encode_prompts, sample_latents, vae_scale


DTYPES = ("float32", "float16", "bfloat16")


class LumiereSDOptionError(LumiereEvalError):
    """A `lumiere-sd` option out of range."""


class LumiereSDGenerator(BatchedGenerator):
    """Inflated diffusers U-Net + temporal weights; `size` is the native pixel size (default: the U-Net's
    sample size times the VAE's scale), `guidance` the classifier-free guidance scale."""

    name = "lumiere-sd"
    option_error = LumiereSDOptionError

    def __init__(self, base: str, temporal: str, revision: str | None = None, steps: int = 25,
                 guidance: float = 7.5, size: int | None = None, batch_size: int = 1, window: int | None = None,
                 overlap: int = 2, style: str | None = None, alpha: float = 1.0, threads: int | None = None,
                 device: str = "cpu", dtype: str = "float32"):
        if steps < 1 or batch_size < 1 or (size is not None and size < 1):
            raise LumiereSDOptionError(f"steps, batch_size and size must be >= 1, got {steps}, {batch_size}, {size}")
        if dtype not in DTYPES:
            raise LumiereSDOptionError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if threads:
            torch.set_num_threads(int(threads))
        if not Path(temporal).is_file():
            raise LumiereSDOptionError(f"temporal={temporal}: file not found")
        self.parts = load_base(base, revision)
        self.model = load_temporal(temporal, self.parts)
        self.meta = read_temporal_meta(temporal)
        if style is not None:
            from lumiere_eval.models.lumiere_sd.style import stylize_unet
            style_parts = load_base(style) if (Path(style) / "unet").is_dir() else {"unet": _load_unet(style)}
            stylize_unet(self.model, style_parts["unet"], alpha)
        for name in COMPONENTS:   # checked against the base's hashes in float32 first, then cast and moved
            self.parts[name].to(device, getattr(torch, dtype))
        self.model.temporal.to(device, getattr(torch, dtype))
        self.scale = vae_scale(self.parts["vae"])
        multiple = self.scale * 2 ** _spatial_downsamplers(self.parts["unet"])
        self.size = size or self.parts["unet"].config.sample_size * self.scale
        if self.size % multiple:
            raise LumiereSDOptionError(f"size={self.size}: must be a multiple of {multiple} (VAE scale x U-Net "
                                       f"down-sampling)")
        frame_multiple = self.model.frame_multiple
        if window is not None and self.model.cond_channels:
            raise LumiereSDOptionError("window= (MultiDiffusion) is not supported with a widened (conditional) "
                                       "model yet")
        if window is not None and (window < 1 or window % frame_multiple or not 0 <= overlap < window):
            raise LumiereSDOptionError(f"window={window}, overlap={overlap}: the window must be a multiple of "
                                       f"{frame_multiple} frames and 0 <= overlap < window")
        self.options = dict(base=str(base), temporal=str(temporal), revision=revision, steps=steps,
                            guidance=guidance, size=self.size, batch_size=batch_size, window=window, overlap=overlap,
                            style=style, alpha=float(alpha) if style else None, device=device, dtype=dtype)

    def _denoiser(self):
        model, o = self.model, self.options
        if o["window"] is None:
            return model
        return lambda x, t, text: multidiffusion(lambda xw, tw, _frames: model(xw, tw, text), o["window"],
                                                 o["overlap"])(x, t)

    def _batch(self, prompts: list[str], seeds: list[int], num_frames: int, fps: float, height: int,
               width: int) -> list[GeneratedVideo]:
        o, parts = self.options, self.parts
        multiple = self.model.frame_multiple
        frames = -(-num_frames // multiple) * multiple
        side = self.size // self.scale
        cond_channels = self.model.cond_channels
        with torch.no_grad():
            text = encode_prompts(parts["tokenizer"], parts["text_encoder"], prompts)
            null = encode_prompts(parts["tokenizer"], parts["text_encoder"], [""] * len(prompts))
            # a widened model with nothing known: blank masked video, mask 0 (plain text-to-video)
            cond = text.new_zeros(len(prompts), cond_channels, frames, side, side) if cond_channels else None
            latents = sample_latents(self._denoiser(), parts["scheduler"], text, null,
                                     (parts["unet"].config.out_channels, frames, side, side),
                                     [torch.Generator().manual_seed(int(s)) for s in seeds], o["steps"],
                                     o["guidance"], cond=cond)
            video = decode_latents(parts["vae"], latents)[:, :, :num_frames]
        native = tuple(video.shape[-2:])
        if (height, width) != native:
            video = upsample(video, height, width)
        return [GeneratedVideo(frames=np.ascontiguousarray(v), fps=fps,
                               meta={"prompt": p, "seed": int(s), "native_size": list(native)})
                for v, p, s in zip(to_uint8(video), prompts, seeds)]

    def describe(self) -> dict[str, Any]:
        """Name, options, the temporal file's SHA-256 and training steps, and the base's identity."""
        return {"name": self.name, **self.options, "temporal_sha256": self.meta["sha256"],
                "temporal_steps": self.meta.get("steps"), "base_identity": self.meta["base"]}


def _spatial_downsamplers(unet) -> int:
    return len(unet.config.block_out_channels) - 1


def _load_unet(folder: str | os.PathLike):
    from diffusers import UNet2DConditionModel
    return UNet2DConditionModel.from_pretrained(folder).eval()
