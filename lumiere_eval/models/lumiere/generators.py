"""Registry adapters for the shipped tiny Lumiere and its ablations, built from the same parts.

- `lumiere`: the STUNet generates the whole clip at 16x16, then the inflated SSR model brings it to 32x32,
  run with MultiDiffusion over overlapping temporal windows.
- `keyframe-cascade`: the cascade Lumiere argues against: a keyframe model samples every 5th frame, a temporal
  super-resolution (TSR) model fills in the frames between them, then the same SSR as `lumiere`.
- `per-frame-t2i`: the T2I model samples every frame on its own (same prompt, independent noise), then the
  per-frame SSR model: no temporal modelling anywhere.
A video depends only on (prompt, seed, options): every sample has its own random generators.
Axes: b batch, c channels, t frames, h w space.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from lumiere_eval import LumiereEvalError
from lumiere_eval.models.base import BatchedGenerator, GeneratedVideo
from lumiere_eval.models.lumiere.checkpoint import checkpoint_folder, load_model, read_meta
from lumiere_eval.models.lumiere.conditioning import condition_input, keyframe_indices
from lumiere_eval.models.lumiere.diffusion import Diffusion, guided
from lumiere_eval.models.lumiere.multidiffusion import multidiffusion
from lumiere_eval.models.lumiere.stunet import STUNet
from lumiere_eval.models.lumiere.frames import to_uint8, upsample

SSR_SEED_OFFSET = 2 ** 32
TSR_SEED_OFFSET = 2 ** 33


class LumiereOptionError(LumiereEvalError):
    """A generator option out of range."""


def shipped_checkpoint(name: str, folder: str | os.PathLike | None = None) -> Path:
    """Path of checkpoint `name` (e.g. "stunet.pt") in `folder`, or in the shipped models/lumiere-tiny."""
    return checkpoint_folder(folder) / name


def video_denoiser(model: nn.Module) -> Callable[..., torch.Tensor]:
    """`f(x [b, c, t, h, w], t, tokens, cond)` for a STUNet, or for a U-Net applied to every frame."""
    if isinstance(model, STUNet):
        return model

    def per_frame(x: torch.Tensor, t: torch.Tensor, tokens: torch.Tensor, cond: torch.Tensor | None = None):
        b, c, frames, h, w = x.shape
        fold = lambda v: v.transpose(1, 2).reshape(b * frames, -1, h, w)   # noqa: E731  b c t h w -> (b t) c h w
        y = model(fold(x), t.repeat_interleave(frames), tokens.repeat_interleave(frames, 0),
                  None if cond is None else fold(cond))
        return y.reshape(b, frames, -1, h, w).transpose(1, 2)
    return per_frame


def sample_videos(model: nn.Module, prompts: Sequence[str], generators: Sequence[torch.Generator],
                  shape: Sequence[int], steps: int, guidance: float, sampler: str,
                  cond: torch.Tensor | None = None, window: int | None = None, overlap: int = 2,
                  start: torch.Tensor | None = None, strength: float = 1.0,
                  known: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Sample [b, 3, t, h, w] in [-1, 1] with classifier-free guidance; MultiDiffusion windows if `window`;
    SDEdit from the clean videos `start` at `strength`; known-pixel replacement with `known` (see
    Diffusion.sample)."""
    net = video_denoiser(model)
    tokenizer = (model.t2i if isinstance(model, STUNet) else model).text.tokenizer
    tokens, null = tokenizer.encode(list(prompts)), tokenizer.encode([""] * len(prompts))

    def conditional(x: torch.Tensor, t: torch.Tensor, tok: torch.Tensor, frames: slice = slice(None)):
        c = None if cond is None else cond[:, :, frames]
        if c is not None and x.shape[0] != c.shape[0]:   # guidance doubles the batch
            c = torch.cat([c, c])
        return net(x, t, tok, c)

    if window is None:
        denoise = guided(conditional, tokens, null, guidance)
    else:
        denoise = multidiffusion(
            lambda x, t, frames: guided(lambda xw, tw, tok: conditional(xw, tw, tok, frames), tokens, null,
                                        guidance)(x, t),
            window, overlap)
    with torch.no_grad():
        return Diffusion("v").sample(denoise, shape, generators, steps=steps, method=sampler, start=start,
                                     strength=strength, known=known)


class CascadeGenerator(BatchedGenerator):
    """Base stage at 16x16, then spatial super-resolution to 32x32, then a bilinear resize to the asked size.

    `guidance` is the classifier-free guidance scale of the base stage, `ssr_guidance` that of the SSR stage
    (1 = no guidance, one pass per step: the low-resolution video already fixes the content).
    """

    option_error = LumiereOptionError
    base_name = "stunet.pt"
    ssr_name = "ssr-stunet.pt"

    def __init__(self, checkpoint_dir: str | None = None, steps: int = 20, guidance: float = 3.0,
                 sampler: str = "ddim", ssr_steps: int = 10, ssr_guidance: float = 1.0, window: int = 8,
                 overlap: int = 2, batch_size: int = 4, threads: int | None = None):
        if steps < 1 or ssr_steps < 1 or batch_size < 1:
            raise LumiereOptionError(f"steps, ssr_steps and batch_size must be >= 1, got {steps}, {ssr_steps}, "
                                     f"{batch_size}")
        self.options = dict(checkpoint_dir=checkpoint_dir, steps=steps, guidance=guidance, sampler=sampler,
                            ssr_steps=ssr_steps, ssr_guidance=ssr_guidance, window=window, overlap=overlap,
                            batch_size=batch_size)
        self.paths = {"base": shipped_checkpoint(self.base_name, checkpoint_dir),
                      "ssr": shipped_checkpoint(self.ssr_name, checkpoint_dir)}
        self._resolutions: dict[str, tuple[int, int]] = {}
        if threads:
            torch.set_num_threads(int(threads))

    @functools.cached_property
    def base(self) -> torch.nn.Module:
        """The base model, loaded on first use (a rerun with every sample done only describes the generator)."""
        return load_model(self.paths["base"])

    @functools.cached_property
    def ssr(self) -> torch.nn.Module:
        """The spatial super-resolution model, loaded on first use."""
        return load_model(self.paths["ssr"])

    def _multiple(self) -> int:
        return self.base.frame_multiple if isinstance(self.base, STUNet) else 1

    def _batch(self, prompts: list[str], seeds: list[int], num_frames: int, fps: float, height: int,
               width: int) -> list[GeneratedVideo]:
        multiple = self._multiple()
        frames = -(-num_frames // multiple) * multiple
        low = self.base_video(prompts, seeds, frames)
        high = self.super_resolve(low, prompts, seeds)[:, :, :num_frames]
        high_hw = tuple(high.shape[-2:])
        if (height, width) != high_hw:
            high = upsample(high, height, width)
        videos = to_uint8(high)
        return [GeneratedVideo(frames=np.ascontiguousarray(v), fps=fps,
                               meta={"prompt": p, "seed": int(s), "native_size": list(high_hw)})
                for v, p, s in zip(videos, prompts, seeds)]

    def base_video(self, prompts: list[str], seeds: list[int], frames: int) -> torch.Tensor:
        """The low-resolution videos [b, 3, frames, h, w] in [-1, 1] of the base stage."""
        o = self.options
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        return sample_videos(self.base, prompts, gens, (3, frames, *self.resolution("base")), o["steps"],
                             o["guidance"], o["sampler"])

    def super_resolve(self, low: torch.Tensor, prompts: list[str], seeds: list[int],
                      known: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """The SSR stage: `low` [b, 3, t, h, w] -> [b, 3, t, H, W], MultiDiffusion over time for a STUNet;
        `known` (values, keep) at [H, W]: known-pixel replacement (Diffusion.sample)."""
        o = self.options
        high_hw = self.resolution("ssr")
        gens = [torch.Generator().manual_seed(int(s) + SSR_SEED_OFFSET) for s in seeds]
        window = o["window"] if isinstance(self.ssr, STUNet) else None
        return sample_videos(self.ssr, prompts, gens, (3, low.shape[2], *high_hw), o["ssr_steps"],
                             o["ssr_guidance"], o["sampler"], cond=upsample(low, *high_hw), window=window,
                             overlap=o["overlap"], known=known)

    def resolution(self, stage: str) -> tuple[int, int]:
        """(height, width) the checkpoint of `stage` was trained at: from its json, else its shipped config
        (read once per stage)."""
        if stage not in self._resolutions:
            meta = read_meta(self.paths[stage])
            data = meta.get("data")
            if data is None:
                config = checkpoint_folder() / "configs" / f"{meta['stage']}.json"
                data = json.loads(config.read_text()).get("data", {})
            self._resolutions[stage] = int(data["height"]), int(data["width"])
        return self._resolutions[stage]

    def describe(self) -> dict[str, Any]:
        """Name, options, and the checksum and training steps of each checkpoint."""
        info: dict[str, Any] = {"name": self.name, **self.options}
        for key, path in self.paths.items():
            meta = read_meta(path)
            info[key] = {"file": path.name, "sha256": meta.get("sha256"), "steps": meta.get("steps")}
        return info


class LumiereGenerator(CascadeGenerator):
    """The tiny reference Lumiere: STUNet base model + inflated SSR with MultiDiffusion.

    `style` (e.g. "sketch": `t2i-<style>.pt` beside the other checkpoints) with `alpha`: the base STUNet's
    spatial (T2I) weights are interpolated towards the style's fine-tuned T2I weights, the temporal layers
    unchanged (style.py).
    """

    name = "lumiere"

    def __init__(self, style: str | None = None, alpha: float = 1.0, **options: Any):
        super().__init__(**options)
        if style is not None:
            from lumiere_eval.models.lumiere.style import check_alpha, style_checkpoint

            alpha = check_alpha(alpha)

            self.paths["style"] = style_checkpoint(style, self.options["checkpoint_dir"])
            self.options.update(style=style, alpha=float(alpha))

    @functools.cached_property
    def base(self) -> torch.nn.Module:
        """The base STUNet, its T2I weights moved towards the style's when one is set; loaded on first use."""
        base = load_model(self.paths["base"])
        if "style" not in self.options:
            return base
        from lumiere_eval.models.lumiere.style import load_style_t2i, stylize

        return stylize(base, load_style_t2i(self.options["style"], self.options["checkpoint_dir"]),
                       self.options["alpha"])


class PerFrameT2IGenerator(CascadeGenerator):
    """Ablation: the T2I model and the per-frame SSR model applied to every frame independently."""

    name = "per-frame-t2i"
    base_name = "t2i.pt"
    ssr_name = "ssr.pt"


class KeyframeCascadeGenerator(CascadeGenerator):
    """Ablation: keyframes (every `stride`-th frame, stride from the TSR checkpoint) from a keyframe model,
    the frames between them from a temporal super-resolution model conditioned on them, then the SSR.

    `tsr_steps` and `tsr_guidance` are the TSR stage's sampling steps and guidance scale.
    """

    name = "keyframe-cascade"
    base_name = "keyframes.pt"
    tsr_name = "tsr.pt"

    def __init__(self, checkpoint_dir: str | None = None, tsr_steps: int = 20, tsr_guidance: float = 1.0,
                 **options: Any):
        super().__init__(checkpoint_dir=checkpoint_dir, **options)
        if tsr_steps < 1:
            raise LumiereOptionError(f"tsr_steps must be >= 1, got {tsr_steps}")
        self.options.update(tsr_steps=tsr_steps, tsr_guidance=tsr_guidance)
        self.paths["tsr"] = shipped_checkpoint(self.tsr_name, checkpoint_dir)
        self.stride = int(read_meta(self.paths["tsr"])["data"]["keyframe_stride"])

    @functools.cached_property
    def tsr(self) -> torch.nn.Module:
        """The temporal super-resolution model, loaded on first use."""
        return load_model(self.paths["tsr"])

    def base_video(self, prompts: list[str], seeds: list[int], frames: int) -> torch.Tensor:
        """Keyframes, then the TSR fills in the other frames (conditioned on the keyframes and their mask)."""
        o = self.options
        keys = keyframe_indices(frames, self.stride)
        keyframes = super().base_video(prompts, seeds, len(keys))
        known = torch.zeros(len(prompts), 3, frames, *keyframes.shape[-2:])
        known[:, :, keys] = keyframes
        mask = torch.zeros(len(prompts), 1, frames, *keyframes.shape[-2:])
        mask[:, :, keys] = 1
        gens = [torch.Generator().manual_seed(int(s) + TSR_SEED_OFFSET) for s in seeds]
        return sample_videos(self.tsr, prompts, gens, tuple(known.shape[1:]), o["tsr_steps"], o["tsr_guidance"],
                             o["sampler"], cond=condition_input(known, mask))
