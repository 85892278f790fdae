"""Latent space around the inflated U-Net: the T2I's text encoder, its VAE frame by frame, and a sampler
driven by the T2I's own diffusers scheduler (so its prediction type, epsilon or v, is the scheduler's).

Axes: b batch, c channels, t frames, h w space, l tokens, d width. Videos are in [-1, 1].
"""
from __future__ import annotations

import copy
import inspect
from typing import Callable, Sequence

import torch
from torch import nn

from lumiere_eval import LumiereEvalError

VideoDenoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class LatentError(LumiereEvalError):
    """A prediction type, guidance or size the latent sampler cannot use."""


def encode_prompts(tokenizer, text_encoder: nn.Module, prompts: Sequence[str]) -> torch.Tensor:
    """Text states [b, l, d] of `prompts`, padded to the tokenizer's length, as Stable Diffusion encodes them."""
    ids = tokenizer(list(prompts), padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    device = next(text_encoder.parameters()).device
    return text_encoder(ids.to(device))[0]


def vae_scale(vae: nn.Module) -> int:
    """How many pixels one latent pixel covers along each side."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def encode_video(vae: nn.Module, video: torch.Tensor, generator: torch.Generator | None = None,
                 chunk: int = 16) -> torch.Tensor:
    """Latents [b, c, t, h/s, w/s] of `video` [b, 3, t, h, w], frame by frame: the posterior's mean, or a draw
    from it with `generator`, times the VAE's scaling factor."""
    b, _, frames, h, w = video.shape
    flat = video.transpose(1, 2).reshape(b * frames, 3, h, w)
    parts = []
    for start in range(0, flat.shape[0], chunk):
        dist = vae.encode(flat[start:start + chunk].to(vae.dtype)).latent_dist
        parts.append(dist.mean if generator is None else dist.sample(generator))
    latents = torch.cat(parts) * vae.config.scaling_factor
    return latents.reshape(b, frames, *latents.shape[1:]).transpose(1, 2)


def decode_latents(vae: nn.Module, latents: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """Video [b, 3, t, H, W] in [-1, 1] from latents [b, c, t, h, w], frame by frame."""
    b, c, frames, h, w = latents.shape
    flat = latents.transpose(1, 2).reshape(b * frames, c, h, w) / vae.config.scaling_factor
    frames_out = torch.cat([vae.decode(flat[s:s + chunk].to(vae.dtype)).sample for s in range(0, flat.shape[0], chunk)])
    return frames_out.float().clamp(-1, 1).reshape(b, frames, 3, *frames_out.shape[-2:]).transpose(1, 2)


def training_target(scheduler, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """What the U-Net predicts under the scheduler's `prediction_type`: the noise, v, or the clean latents."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    if kind == "sample":
        return latents
    raise LatentError(f"unknown prediction_type {kind!r} in the scheduler config")


def sample_latents(denoise: VideoDenoiser, scheduler, text: torch.Tensor, null_text: torch.Tensor,
                   shape: Sequence[int], generators: Sequence[torch.Generator], steps: int, guidance: float,
                   cond: torch.Tensor | None = None) -> torch.Tensor:
    """Latent videos [b, *shape] from noise, one generator per sample, with the scheduler's own update rule.

    `denoise(x, t, text)` is the inflated U-Net (or a MultiDiffusion of it); classifier-free guidance
    uncond + guidance * (cond - uncond) runs both halves in one batch (guidance 1 = off). `cond` [b, k, ...]
    (a masked latent video and its mask) is concatenated to the input channels at every step.
    """
    if steps < 1:
        raise LatentError(f"steps must be >= 1, got {steps}")
    scheduler = copy.deepcopy(scheduler)   # schedulers keep a step index: one fresh copy per call
    scheduler.set_timesteps(steps)
    x = torch.stack([torch.randn(tuple(shape), generator=g) for g in generators]).to(text) * scheduler.init_noise_sigma
    extra = {"generator": list(generators)} if "generator" in inspect.signature(scheduler.step).parameters else {}
    for t in scheduler.timesteps:
        inp = scheduler.scale_model_input(x, t)
        if cond is not None:
            inp = torch.cat([inp, cond], dim=1)
        if guidance == 1.0:
            prediction = denoise(inp, t, text)
        else:
            both = denoise(torch.cat([inp, inp]), t, torch.cat([text, null_text]))
            positive, negative = both.chunk(2)
            prediction = negative + guidance * (positive - negative)
        # a stochastic scheduler draws each sample's noise from that sample's own generator
        x = scheduler.step(prediction, t, x, return_dict=False, **extra)[0]
    return x



def condition_latents(vae: nn.Module, video: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The conditioning input [b, c + 1, t, h/s, w/s] of a widened U-Net (image-to-video, inpainting,
    cinemagraphs): the latents of the known part of `video` [b, 3, t, h, w] (0 where unknown) and `mask`
    [b, 1, t, h, w] (1 = known) max-pooled to the latent grid (a latent pixel touching a known pixel is known)."""
    if mask.shape[0] != video.shape[0] or mask.shape[1] != 1 or mask.shape[2:] != video.shape[2:]:
        raise LatentError(f"mask of shape {tuple(mask.shape)} does not fit video {tuple(video.shape)}; expected "
                          f"[b, 1, t, h, w] with the video's b, t, h, w")
    scale = vae_scale(vae)
    latents = encode_video(vae, video * mask)
    small = torch.nn.functional.max_pool3d(mask.float(), (1, scale, scale))
    return torch.cat([latents * small, small.to(latents.dtype)], dim=1)
