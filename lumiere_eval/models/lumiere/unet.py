"""The pixel-space text-to-image U-Net, written as a flat list of blocks so that it can be inflated generically.

Each block has a `kind` ("in", "res", "down", "mid", "up", "out"), the `level` it works at (0 = full
resolution) and whether it pushes its output onto, or pops its input's skip from, the skip stack. `UNet.forward`
runs the list in order; `STUNet` (stunet.py) runs the same list and inserts temporal modules between blocks.
Axes: b batch (or batch x frames for inflated models), c channels, h w space, l text tokens, d width.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lumiere_eval.models.lumiere.text import TextEncoder


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding [b, dim] of continuous times t in [0, 1] (scaled by 1000)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    """GN-SiLU-conv, add the time embedding, GN-SiLU-conv, residual (1x1 conv when channels change)."""

    def __init__(self, cin: int, cout: int, emb_dim: int):
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2, self.conv2 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class AttentionBlock(nn.Module):
    """Self-attention over pixels, then cross-attention from pixels to the text tokens; both residual."""

    def __init__(self, channels: int, text_dim: int, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.norm1 = _norm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out1 = nn.Linear(channels, channels)
        self.norm2 = nn.LayerNorm(channels)
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(text_dim, 2 * channels)
        self.out2 = nn.Linear(channels, channels)

    def _split(self, x: torch.Tensor) -> torch.Tensor:   # b n (heads d) -> b heads n d
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.norm1(x).flatten(2).transpose(1, 2)                       # b (h w) c
        q, k, v = (self._split(p) for p in self.qkv(tokens).chunk(3, dim=-1))
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)
        seq = x.flatten(2).transpose(1, 2) + self.out1(y)                       # b (h w) c
        k, v = (self._split(p) for p in self.kv(context).chunk(2, dim=-1))
        y = F.scaled_dot_product_attention(self._split(self.q(self.norm2(seq))), k, v,
                                           attn_mask=mask[:, None, None, :])
        seq = seq + self.out2(y.transpose(1, 2).flatten(2))
        return seq.transpose(1, 2).reshape(b, c, h, w)


class Block(nn.Module):
    """One step of the U-Net: a residual block with optional attention, a resampler, or the in/out layers."""

    def __init__(self, kind: str, level: int, layers: nn.ModuleList, push: bool = False, pop: bool = False):
        super().__init__()
        self.kind, self.level, self.push, self.pop = kind, level, push, pop
        self.layers = layers

    def forward(self, x: torch.Tensor, emb: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            if isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif isinstance(layer, AttentionBlock):
                x = layer(x, context, mask)
            else:
                x = layer(x)
        return x


class UNet(nn.Module):
    """Text-conditioned pixel-space U-Net: `forward(x [b, c, h, w], t [b], tokens [b, l]) -> [b, out, h, w]`.

    `channels[i]` is the width at level i (each level halves the resolution), `attention_levels` the levels
    with self/cross attention, `cond_channels` extra input channels (the upsampled low-resolution image of the
    super-resolution stage, or a masked conditioning image) concatenated to the noisy input.
    """

    def __init__(self, vocab: Sequence[str], channels: Sequence[int] = (32, 64, 64), num_res_blocks: int = 1,
                 attention_levels: Sequence[int] = (1, 2), in_channels: int = 3, cond_channels: int = 0,
                 out_channels: int = 3, text_dim: int = 64, text_depth: int = 2, heads: int = 4,
                 max_tokens: int = 16):
        super().__init__()
        self.config = dict(vocab=list(vocab), channels=list(channels), num_res_blocks=num_res_blocks,
                           attention_levels=list(attention_levels), in_channels=in_channels,
                           cond_channels=cond_channels, out_channels=out_channels, text_dim=text_dim,
                           text_depth=text_depth, heads=heads, max_tokens=max_tokens)
        self.text = TextEncoder(vocab, text_dim, text_depth, heads, max_tokens)
        self.in_channels, self.cond_channels = in_channels, cond_channels
        emb_dim = 4 * channels[0]
        self.time_mlp = nn.Sequential(nn.Linear(channels[0], emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.num_levels = len(channels)
        coarsest = self.num_levels - 1

        def res(cin: int, cout: int, level: int) -> nn.ModuleList:
            layers = nn.ModuleList([ResBlock(cin, cout, emb_dim)])
            if level in attention_levels:
                layers.append(AttentionBlock(cout, text_dim, heads))
            return layers

        blocks = [Block("in", 0, nn.ModuleList([nn.Conv2d(in_channels + cond_channels, channels[0], 3, padding=1)]),
                        push=True)]
        skip_widths, width = [channels[0]], channels[0]
        for level, ch in enumerate(channels):
            for _ in range(num_res_blocks):
                blocks.append(Block("res", level, res(width, ch, level), push=True))
                width = ch
                skip_widths.append(width)
            if level < coarsest:
                blocks.append(Block("down", level + 1, nn.ModuleList([nn.Conv2d(width, width, 3, 2, 1)]), push=True))
                skip_widths.append(width)
        blocks.append(Block("mid", coarsest, res(width, width, coarsest)))
        blocks.append(Block("mid", coarsest, nn.ModuleList([ResBlock(width, width, emb_dim)])))
        for level in reversed(range(self.num_levels)):
            for _ in range(num_res_blocks + 1):
                blocks.append(Block("res", level, res(width + skip_widths.pop(), channels[level], level), pop=True))
                width = channels[level]
            if level > 0:
                blocks.append(Block("up", level - 1, nn.ModuleList([nn.Upsample(scale_factor=2, mode="nearest"),
                                                                    nn.Conv2d(width, width, 3, padding=1)])))
        blocks.append(Block("out", 0, nn.ModuleList([_norm(width), nn.SiLU(),
                                                      nn.Conv2d(width, out_channels, 3, padding=1)])))
        self.blocks = nn.ModuleList(blocks)
        nn.init.zeros_(self.blocks[-1].layers[-1].weight)
        nn.init.zeros_(self.blocks[-1].layers[-1].bias)

    def embed_time(self, t: torch.Tensor) -> torch.Tensor:
        """Timestep embedding [b, 4 * channels[0]]."""
        return self.time_mlp(timestep_embedding(t, self.config["channels"][0]))

    def run_block(self, index: int, x: torch.Tensor, emb: torch.Tensor, context: torch.Tensor,
                  mask: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Run block `index`, popping its skip input from / pushing its output onto `skips`."""
        block = self.blocks[index]
        if block.pop:
            x = torch.cat([x, skips.pop()], dim=1)
        x = block(x, emb, context, mask)
        if block.push:
            skips.append(x)
        return x

    def forward(self, x: torch.Tensor, t: torch.Tensor, tokens: torch.Tensor,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        context, mask = self.text(tokens)
        if self.cond_channels:
            x = torch.cat([x, cond], dim=1)
        emb, skips = self.embed_time(t), []
        for index in range(len(self.blocks)):
            x = self.run_block(index, x, emb, context, mask, skips)
        return x
