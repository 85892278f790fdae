"""Inflate a diffusers `UNet2DConditionModel` (or `UNet2DModel`) into a Space-Time U-Net, with forward hooks.

The paper's rules (Lumiere, section 3.1), placed by an inflation plan:
- "down": after every spatial down-sampler, a temporal down-sampling (identity-initialised conv, stride 2);
- "up": after every spatial up-sampler, a temporal up-sampling (frame duplication, identity conv);
- "conv": after every residual block at a level other than the coarsest, a temporal convolution;
- "attention": after every residual block at the coarsest level, temporal attention.
The plan is found from module types and the shapes of a one-frame dry run (`find_plan`), or given as
module names. The temporal modules are ours (models/lumiere/stunet.py); their output layers start at zero,
so without temporal resampling the inflated model equals the T2I U-Net applied frame by frame, exactly.
Frames ride in the batch axis of the 2D U-Net: a video batch [b, c, t, h, w] runs as [(b t), c, h, w].
The per-frame inputs that enter inside the network (the time embedding of every residual block, the text
states of every transformer) follow the frames through temporal down-sampling: at a level with t / 2^k
frames, frame j takes the rows of input frame j 2^k, as the identity-initialised stride-2 convolutions do.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from lumiere_eval import LumiereEvalError
from lumiere_eval.models.lumiere.stunet import (FrameCountError, TemporalAttention, TemporalConv, TemporalDown,
                                               TemporalUp)

KINDS = ("down", "up", "conv", "attention")


class InflationError(LumiereEvalError):
    """A U-Net or an inflation plan that cannot be inflated (unknown module, kind or class)."""


def _diffusers_types() -> tuple[type, type, type, type]:
    from diffusers.models.downsampling import Downsample2D
    from diffusers.models.resnet import ResnetBlock2D
    from diffusers.models.transformers.transformer_2d import Transformer2DModel
    from diffusers.models.upsampling import Upsample2D
    return ResnetBlock2D, Downsample2D, Upsample2D, Transformer2DModel


def text_dim_of(unet: nn.Module) -> int:
    """Width of the text states a U-Net cross-attends to (0 for an unconditional U-Net)."""
    dim = getattr(unet.config, "cross_attention_dim", None)
    return int(dim[0] if isinstance(dim, (list, tuple)) else dim) if dim else 0


def _dry_run(unet: nn.Module) -> tuple[list[tuple[str, str, int, int, int]], int]:
    """(name, class, input height, output height, output channels) of every resnet and resampler in call
    order, from one frame; and the input height used."""
    resnet, down, up, _ = _diffusers_types()
    modules = {name: m for name, m in unet.named_modules() if isinstance(m, (resnet, down, up))}
    resamplers = sum(isinstance(m, (down, up)) for m in modules.values()) // 2 + 1
    size = 2 ** (resamplers + 1)
    seen: list[tuple[str, str, int, int, int]] = []
    handles = [m.register_forward_hook(lambda mod, args, out, name=name: seen.append(
        (name, type(mod).__name__, args[0].shape[-2], out.shape[-2], out.shape[1]))) for name, m in modules.items()]
    x = torch.zeros(1, unet.config.in_channels, size, size)
    kwargs: dict[str, Any] = {}
    if text_dim_of(unet):
        kwargs["encoder_hidden_states"] = torch.zeros(1, 2, text_dim_of(unet))
    try:
        with torch.no_grad():
            unet(x, torch.tensor([1]), return_dict=False, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return seen, size


def find_plan(unet: nn.Module, temporal_resampling: bool = True) -> list[dict[str, Any]]:
    """The inflation plan of `unet`: [{"module", "kind", "channels"}] in call order, from a dry run.

    A module whose output is smaller than its input is a down-sampler, larger an up-sampler; a residual
    block keeping the size gets a temporal convolution, or temporal attention at the coarsest level.
    `temporal_resampling=False` leaves the resamplers out (all levels keep every frame).
    """
    seen, size = _dry_run(unet)
    levels = {name: round(math.log2(size / h_out)) for name, _, _, h_out, _ in seen}
    coarsest = max(levels.values())
    plan = []
    for name, cls, h_in, h_out, channels in seen:
        if h_out < h_in:
            kind = "down"
        elif h_out > h_in:
            kind = "up"
        elif cls == "ResnetBlock2D":
            kind = "attention" if levels[name] == coarsest else "conv"
        else:
            raise InflationError(f"{name} ({cls}) keeps the size {h_in}: not a resampler")
        if kind in ("down", "up") and not temporal_resampling:
            continue
        plan.append({"module": name, "kind": kind, "channels": int(channels)})
    return plan


def temporal_module(kind: str, channels: int, heads: int, max_frames: int, text_dim: int,
                    padding_mode: str) -> nn.Module:
    """Our temporal module for a plan entry (stunet.py), new layers initialised to identity / zero output."""
    if kind == "down":
        return TemporalDown(channels, padding_mode=padding_mode)
    if kind == "up":
        return TemporalUp(channels, padding_mode=padding_mode)
    if kind == "conv":
        return TemporalConv(channels, padding_mode=padding_mode)
    if kind == "attention":
        return TemporalAttention(channels, heads, max_frames, text_dim)
    raise InflationError(f"unknown plan kind {kind!r}; known: {', '.join(KINDS)}")


def _follow(rows: torch.Tensor, batch: int, needed: int) -> torch.Tensor:
    """Rows [(b full) ...] of per-frame inputs for a level with `needed // b` frames: every 2^k-th frame."""
    full, frames = rows.shape[0] // batch, needed // batch
    if frames == full:
        return rows
    return rows.unflatten(0, (batch, full))[:, :: full // frames].flatten(0, 1)


class SpaceTimeUNet(nn.Module):
    """A frozen diffusers 2D U-Net with temporal modules hooked in by `plan`:
    `forward(sample [b, c, t, h, w], timestep [b], [b, t] or scalar, encoder_hidden_states [b, l, d])
    -> [b, c', t, h, w]`.

    `temporal` holds only the new modules (a ModuleDict keyed by module name, dots as "__"); the U-Net's own
    weights are frozen (its first convolution trains too when `train_input`, e.g. after widening). The hooks
    live in `unet` itself: until `remove_hooks()`, calling `unet` directly runs the temporal modules too.
    """

    def __init__(self, unet: nn.Module, plan: Sequence[dict[str, Any]], heads: int = 4, max_frames: int = 128,
                 padding_mode: str = "replicate", train_input: bool = False, cond_channels: int = 0):
        super().__init__()
        self.unet = unet
        self.plan = [dict(entry) for entry in plan]
        self.options = dict(heads=heads, max_frames=max_frames, padding_mode=padding_mode, train_input=train_input,
                            cond_channels=cond_channels)
        self.cond_channels = cond_channels   # input channels `unet` was widened by (checkpoint.widen_conv_in)
        self.unet.requires_grad_(False)
        self.unet.conv_in.requires_grad_(train_input)
        self.text_dim = text_dim_of(unet)
        names = dict(unet.named_modules())
        self.temporal = nn.ModuleDict()
        for entry in self.plan:
            if entry["module"] not in names:
                raise InflationError(f"plan names module {entry['module']!r}, which {type(unet).__name__} lacks")
            self.temporal[entry["module"].replace(".", "__")] = temporal_module(
                entry["kind"], int(entry["channels"]), heads, max_frames, self.text_dim, padding_mode)
        self.frame_multiple = 2 ** sum(entry["kind"] == "down" for entry in self.plan)
        self._batch = 1
        self._text: tuple[torch.Tensor, torch.Tensor] | None = None
        self._hooks = [names[e["module"]].register_forward_hook(self._temporal_hook(e["module"])) for e in self.plan]
        resnet, _, _, transformer = _diffusers_types()
        for module in names.values():
            if isinstance(module, resnet):
                self._hooks.append(module.register_forward_pre_hook(self._resnet_inputs))
            elif isinstance(module, transformer):
                self._hooks.append(module.register_forward_pre_hook(self._transformer_inputs, with_kwargs=True))

    def _temporal_hook(self, name: str):
        module = self.temporal[name.replace(".", "__")]

        def hook(_module: nn.Module, _args: Any, out: torch.Tensor) -> torch.Tensor:
            return module(out, out.shape[0] // self._batch, self._text)[0]
        return hook

    def _resnet_inputs(self, _module: nn.Module, args: tuple) -> tuple | None:
        if len(args) > 1 and args[1] is not None and args[1].shape[0] != args[0].shape[0]:
            return (args[0], _follow(args[1], self._batch, args[0].shape[0]), *args[2:])
        return None

    def _transformer_inputs(self, _module: nn.Module, args: tuple, kwargs: dict) -> tuple | None:
        rows = args[0].shape[0]
        changed = {k: _follow(v, self._batch, rows) for k, v in kwargs.items()
                   if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] != rows}
        return (args, {**kwargs, **changed}) if changed else None

    def remove_hooks(self) -> None:
        """Detach the temporal modules from the U-Net (it computes as the plain T2I model again)."""
        for handle in self._hooks:
            handle.remove()
        self._hooks = []

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The temporal parameters (and the first convolution if `train_input`)."""
        return [p for p in self.parameters() if p.requires_grad]

    def new_state_dict(self) -> dict[str, torch.Tensor]:
        """Only what inflation added or training changed: the temporal modules (+ conv_in if it trains)."""
        state = {f"temporal.{k}": v for k, v in self.temporal.state_dict().items()}
        if self.options["train_input"]:
            state.update({f"unet.conv_in.{k}": v for k, v in self.unet.conv_in.state_dict().items()})
        return state

    def check_frames(self, frames: int) -> None:
        """FrameCountError unless `frames` is a positive multiple of 2^(number of temporal down-samplings)."""
        if frames < 1 or frames % self.frame_multiple:
            downs = round(math.log2(self.frame_multiple))
            raise FrameCountError(f"{frames} frames: this inflated U-Net halves the frames {downs} times, so it "
                                  f"needs a multiple of {self.frame_multiple} (2^{downs})")

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | float | int,
                encoder_hidden_states: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        b, _, frames, h, w = sample.shape
        self.check_frames(frames)
        x = sample.transpose(1, 2).reshape(b * frames, -1, h, w)                # b c t h w -> (b t) c h w
        t = torch.as_tensor(timestep, device=sample.device)
        t = t.flatten() if t.dim() == 2 else (t.expand(b) if t.dim() == 0 else t).repeat_interleave(frames)
        self._batch = b
        if self.text_dim:
            if encoder_hidden_states is None:
                raise InflationError("this U-Net is text-conditioned: pass encoder_hidden_states [b, l, d]")
            self._text = (encoder_hidden_states, torch.ones(encoder_hidden_states.shape[:2], dtype=torch.bool,
                                                            device=sample.device))
            kwargs["encoder_hidden_states"] = encoder_hidden_states.repeat_interleave(frames, 0)
        out = self.unet(x, t, return_dict=False, **kwargs)[0]
        return out.reshape(b, frames, -1, h, w).transpose(1, 2)


def inflate(unet: nn.Module, plan: Sequence[dict[str, Any]] | None = None, temporal_resampling: bool = True,
            **options: Any) -> SpaceTimeUNet:
    """Inflate `unet` in place (hooks are registered on it, its weights are not copied) by `plan`, a list of
    {"module", "kind", "channels"} by module name, or the plan `find_plan` finds when it is None."""
    return SpaceTimeUNet(unet, find_plan(unet, temporal_resampling) if plan is None else plan, **options)
