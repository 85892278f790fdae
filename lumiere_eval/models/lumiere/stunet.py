"""Inflation of the T2I U-Net into a Space-Time U-Net (STUNet), generic over the U-Net's block list.

Rules (Lumiere, section 3.1), applied by block kind and level:
- after every spatial down-sampling block: a temporal down-sampling (1D conv initialised to identity, stride 2);
- after every spatial up-sampling block: a temporal up-sampling (frame duplication, then an identity 1D conv);
- after every residual block at a level other than the coarsest: a temporal convolution (together with the
  block's spatial convolution this is a factorized space-time convolution);
- after every block at the coarsest level: temporal self-attention.
New temporal blocks are residual with zero-initialised output layers and the T2I weights are frozen, so
without temporal resampling the STUNet equals the T2I model applied frame by frame at initialisation.
Axes: b batch, t frames, c channels, h w space; spatial blocks see frames folded into the batch, (b t).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lumiere_eval import LumiereEvalError
from lumiere_eval.models.lumiere.unet import Block, UNet


class FrameCountError(LumiereEvalError):
    """A number of frames the STUNet cannot take (it must divide by 2 per temporal down-sampling)."""


def _to_time(x: torch.Tensor, frames: int) -> torch.Tensor:      # (b t) c h w -> (b h w) c t
    bt, c, h, w = x.shape
    return x.reshape(bt // frames, frames, c, h, w).permute(0, 3, 4, 2, 1).reshape(-1, c, frames)


def _from_time(x: torch.Tensor, batch: int, h: int, w: int) -> torch.Tensor:   # (b h w) c t -> (b t) c h w
    c, t = x.shape[1], x.shape[2]
    return x.reshape(batch, h, w, c, t).permute(0, 4, 3, 1, 2).reshape(batch * t, c, h, w)


def _first_frames(x: torch.Tensor, batch: int, full: int, frames: int) -> torch.Tensor:
    """Rows of the first `frames` frames of each video from a [(b full) ...] tensor."""
    return x if frames == full else x.unflatten(0, (batch, full))[:, :frames].flatten(0, 1)


def _identity_conv(conv: nn.Conv1d) -> nn.Conv1d:
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    with torch.no_grad():
        conv.weight[:, :, conv.kernel_size[0] // 2] = torch.eye(conv.in_channels)
    return conv


class TemporalConv(nn.Module):
    """Residual GN-SiLU-conv1d-SiLU-conv1d over time; the last conv starts at zero."""

    def __init__(self, channels: int, kernel: int = 3, padding_mode: str = "zeros"):
        super().__init__()
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, padding_mode=padding_mode)
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, padding_mode=padding_mode)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, frames: int, text: object = None) -> tuple[torch.Tensor, int]:
        h, w = x.shape[-2:]
        y = _to_time(x, frames)
        y = self.conv2(F.silu(self.conv1(F.silu(self.norm(y)))))
        return x + _from_time(y, x.shape[0] // frames, h, w), frames


class TemporalAttention(nn.Module):
    """Residual self-attention across frames at each pixel (learned frame positions), then residual
    cross-attention from every (pixel, frame) to the prompt's tokens; both outputs start at zero.

    The cross-attention is our addition to the paper's temporal attention: motion words ("moving left") say
    little about a single frame, so the frozen T2I features carry them weakly; here the temporal layers read
    them directly.
    """

    def __init__(self, channels: int, heads: int = 4, max_frames: int = 128, text_dim: int = 64):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(channels)
        self.position = nn.Parameter(torch.randn(max_frames, channels) * 0.02)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.text_dim = text_dim
        if text_dim:   # text_dim=0: no cross-attention (an unconditional U-Net)
            self.norm_text = nn.LayerNorm(channels)
            self.q_text = nn.Linear(channels, channels)
            self.kv_text = nn.Linear(text_dim, 2 * channels)
            self.out_text = nn.Linear(channels, channels)
            nn.init.zeros_(self.out_text.weight)
            nn.init.zeros_(self.out_text.bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:   # n s (heads d) -> n heads s d
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor, frames: int,
                text: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, int]:
        if frames > self.position.shape[0]:
            raise FrameCountError(f"{frames} frames at the coarsest level; this model takes at most "
                                  f"{self.position.shape[0]}")
        h, w = x.shape[-2:]
        batch = x.shape[0] // frames
        seq = _to_time(x, frames).transpose(1, 2)                                  # (b h w) t c
        q, k, v = (self._split(p) for p in self.qkv(self.norm(seq) + self.position[:frames]).chunk(3, dim=-1))
        seq = seq + self.out(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2))
        if not self.text_dim:
            return _from_time(seq.transpose(1, 2), batch, h, w), frames
        context, mask = (c.repeat_interleave(h * w, 0) for c in text)             # b l d -> (b h w) l d
        k, v = (self._split(p) for p in self.kv_text(context).chunk(2, dim=-1))
        y = F.scaled_dot_product_attention(self._split(self.q_text(self.norm_text(seq))), k, v,
                                           attn_mask=mask[:, None, None, :])
        seq = seq + self.out_text(y.transpose(1, 2).flatten(2))
        return _from_time(seq.transpose(1, 2), batch, h, w), frames


class TemporalDown(nn.Module):
    """1D temporal conv initialised to identity with stride 2: keeps frames 0, 2, 4, ... at initialisation."""

    def __init__(self, channels: int, kernel: int = 3, padding_mode: str = "zeros"):
        super().__init__()
        self.conv = _identity_conv(nn.Conv1d(channels, channels, kernel, stride=2, padding=kernel // 2,
                                             padding_mode=padding_mode))

    def forward(self, x: torch.Tensor, frames: int, text: object = None) -> tuple[torch.Tensor, int]:
        if frames % 2:
            raise FrameCountError(f"cannot halve {frames} frames; use a multiple of the temporal down-sampling")
        h, w = x.shape[-2:]
        return _from_time(self.conv(_to_time(x, frames)), x.shape[0] // frames, h, w), frames // 2


class TemporalUp(nn.Module):
    """Frame duplication, then a 1D temporal conv initialised to identity."""

    def __init__(self, channels: int, kernel: int = 3, padding_mode: str = "zeros"):
        super().__init__()
        self.conv = _identity_conv(nn.Conv1d(channels, channels, kernel, padding=kernel // 2,
                                             padding_mode=padding_mode))

    def forward(self, x: torch.Tensor, frames: int, text: object = None) -> tuple[torch.Tensor, int]:
        h, w = x.shape[-2:]
        y = self.conv(_to_time(x, frames).repeat_interleave(2, dim=2))
        return _from_time(y, x.shape[0] // frames, h, w), frames * 2


def block_width(block: Block) -> int:
    """Output channels of a U-Net block (the last 2D convolution it holds)."""
    return [m for m in block.modules() if isinstance(m, nn.Conv2d)][-1].out_channels


def temporal_modules(block: Block, coarsest: int, resample: bool, heads: int, max_frames: int,
                     text_dim: int, padding_mode: str = "zeros") -> nn.ModuleList:
    """The temporal modules inserted after `block`, chosen by its kind and level (see the module docstring)."""
    width = block_width(block)
    if block.kind == "down":
        return nn.ModuleList([TemporalDown(width, padding_mode=padding_mode)] if resample else [])
    if block.kind == "up":
        return nn.ModuleList([TemporalUp(width, padding_mode=padding_mode)] if resample else [])
    if block.kind in ("res", "mid"):
        if block.level == coarsest:
            return nn.ModuleList([TemporalAttention(width, heads, max_frames, text_dim)])
        return nn.ModuleList([TemporalConv(width, padding_mode=padding_mode)])
    return nn.ModuleList()


class STUNet(nn.Module):
    """The T2I U-Net `t2i` (its constructor config) with temporal modules: `forward(x [b, c, t, h, w], ...)`.

    `temporal_resampling=False` keeps every level at full frame rate (the ablation of the paper's efficiency
    argument, and the super-resolution stages, whose windows are short). `train_input=True` also trains the
    first layer (a widened one takes a conditioning video: conditioning.py); `train_spatial=True` trains every
    T2I weight (fine-tuning for conditional generation, where frozen spatial layers learn to copy the known
    pixels only weakly). `padding_mode` pads the temporal convolutions at the clip's ends: "zeros" (the
    shipped tiny checkpoints were trained so; an end frame sees a black neighbour) or "replicate" (an end
    frame sees itself, so a still clip stays still up to its ends).
    """

    def __init__(self, t2i: dict[str, Any], temporal_resampling: bool = True, heads: int = 4, max_frames: int = 128,
                 train_input: bool = False, train_spatial: bool = False, padding_mode: str = "zeros"):
        super().__init__()
        self.config = dict(t2i=dict(t2i), temporal_resampling=temporal_resampling, heads=heads,
                           max_frames=max_frames, train_input=train_input, train_spatial=train_spatial)
        if padding_mode != "zeros":   # older configs have no entry: zeros
            self.config["padding_mode"] = padding_mode
        self.t2i = UNet(**t2i)
        self.t2i.requires_grad_(train_spatial)
        self.t2i.blocks[0].requires_grad_(train_input or train_spatial)
        coarsest = self.t2i.num_levels - 1
        self.temporal = nn.ModuleList([temporal_modules(b, coarsest, temporal_resampling, heads, max_frames,
                                                        t2i.get("text_dim", 64), padding_mode)
                                       for b in self.t2i.blocks])
        self.frame_multiple = 2 ** (coarsest if temporal_resampling else 0)

    @classmethod
    def inflate(cls, t2i: UNet, **options: Any) -> "STUNet":
        """A STUNet around a copy of the trained `t2i` weights."""
        model = cls(t2i.config, **options)
        model.t2i.load_state_dict(t2i.state_dict())
        return model

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The temporal parameters, the first layer if `train_input`, every T2I weight if `train_spatial`."""
        return [p for p in self.parameters() if p.requires_grad]

    def forward(self, x: torch.Tensor, t: torch.Tensor, tokens: torch.Tensor,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        b, _, frames, h, w = x.shape
        if frames % self.frame_multiple:
            raise FrameCountError(f"{frames} frames: this STUNet needs a multiple of {self.frame_multiple}")
        if self.t2i.cond_channels:
            x = torch.cat([x, cond], dim=1)
        x = x.transpose(1, 2).reshape(b * frames, -1, h, w)                     # b c t h w -> (b t) c h w
        # Per-frame conditioning, computed exactly as the T2I model computes it for a batch of frames; at a
        # level with fewer frames the first rows of each video are used (all rows of a video are equal).
        full = frames
        context, mask = self.t2i.text(tokens.repeat_interleave(full, 0))
        emb = self.t2i.embed_time(t.repeat_interleave(full, 0))
        text = (context.unflatten(0, (b, full))[:, 0], mask.unflatten(0, (b, full))[:, 0])   # per video
        skips: list[torch.Tensor] = []
        for index, modules in enumerate(self.temporal):
            rows = [_first_frames(c, b, full, frames) for c in (emb, context, mask)]
            x = self.t2i.run_block(index, x, *rows, skips)
            for module in modules:
                x, frames = module(x, frames, text)
                if self.t2i.blocks[index].push:
                    skips[-1] = x
        return x.reshape(b, frames, -1, h, w).transpose(1, 2)
