"""DINO ViT-B/16 (Caron et al. 2021), the network of VBench's subject consistency, in the layout of
facebookresearch/dino's `dino_vitbase16_pretrain.pth` (what VBench's `torch.hub.load('facebookresearch/dino:main',
'dino_vitb16')` builds: `vit_base(patch_size=16, num_classes=0)`, loaded strictly).

Facts of that network (facebookresearch/dino `vision_transformer.py`, `hubconf.py`): 16x16 patches, a class token,
a learned position table for 224x224 (14x14 + 1), 12 pre-norm blocks of width 768, 12 heads, MLP ratio 4, qkv
bias, LayerNorm eps 1e-6, exact GELU; output = the final LayerNorm of the class token (768-d, no head). Any other
input size interpolates the patch part of the table bicubically with `scale_factor=((H/16 + 0.1) / 14, (W/16 +
0.1) / 14)` (DINO's issue 8 offset; the factor, not the target size, sets the sampling grid), which VBench hits
for every non-square video (its frames keep their aspect, shorter side 224).

Axis legend: b batch, n tokens, d width, h w patch grid.
"""
from __future__ import annotations

import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from lumiere_eval.extractors.vit import Block, attend, check_layout
from lumiere_eval.extractors.weight_files import WeightsError, load_state_dict

VIT_B16 = {"dim": 768, "depth": 12, "heads": 12, "patch_size": 16, "img_size": 224}
NUM_KEYS_B16 = 150  # cls_token, pos_embed, patch_embed.proj.{weight,bias}, 12 x 12 block tensors, norm.{weight,bias}


class DinoAttention(nn.Module):
    """Multi-head self-attention with one qkv projection (keys `qkv`, `proj`)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.proj(attend(q, k, v, self.heads))


class DinoViT(nn.Module):
    """DINO's ViT at any size (`VIT_B16` is the checkpoint's); forward: normalised frames `b 3 H W` -> `b d`."""

    def __init__(self, dim: int = 768, depth: int = 12, heads: int = 12, patch_size: int = 16, img_size: int = 224,
                 mlp_ratio: float = 4.0):
        super().__init__()
        self.patch_size = patch_size
        grid = img_size // patch_size
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dim))
        self.blocks = nn.ModuleList(Block(dim, DinoAttention(dim, heads), int(dim * mlp_ratio), eps=1e-6)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def position_table(self, height: int, width: int) -> torch.Tensor:
        """The position table for a `height` x `width` input (DINO's `interpolate_pos_encoding`)."""
        n = self.pos_embed.shape[1] - 1
        rows, cols = height // self.patch_size, width // self.patch_size
        if rows * cols == n and height == width:
            return self.pos_embed
        side, dim = int(math.sqrt(n)), self.pos_embed.shape[-1]
        grid = self.pos_embed[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)  # 1 d h w
        grid = F.interpolate(grid, scale_factor=((rows + 0.1) / math.sqrt(n), (cols + 0.1) / math.sqrt(n)),
                             mode="bicubic")
        if grid.shape[-2:] != (rows, cols):
            raise ValueError(f"position table interpolated to {tuple(grid.shape[-2:])}, expected {(rows, cols)}")
        return torch.cat((self.pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, dim)), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        tokens = self.patch_embed.proj(x).flatten(2).transpose(1, 2)  # b n d
        tokens = torch.cat((self.cls_token.expand(len(tokens), -1, -1), tokens), dim=1)
        tokens = tokens + self.position_table(height, width)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)[:, 0]


def expected_layout(dim: int = 768, depth: int = 12, patch_size: int = 16, img_size: int = 224,
                    mlp_ratio: float = 4.0) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of a DINO ViT checkpoint of this size (ViT-B/16: `NUM_KEYS_B16` entries)."""
    hidden, grid = int(dim * mlp_ratio), img_size // patch_size
    layout = {"cls_token": (1, 1, dim), "pos_embed": (1, grid * grid + 1, dim),
              "patch_embed.proj.weight": (dim, 3, patch_size, patch_size), "patch_embed.proj.bias": (dim,),
              "norm.weight": (dim,), "norm.bias": (dim,)}
    for i in range(depth):
        for name, shape in (("norm1", (dim,)), ("norm2", (dim,))):
            layout[f"blocks.{i}.{name}.weight"] = layout[f"blocks.{i}.{name}.bias"] = shape
        for name, (out, inp) in (("attn.qkv", (3 * dim, dim)), ("attn.proj", (dim, dim)),
                                 ("mlp.fc1", (hidden, dim)), ("mlp.fc2", (dim, hidden))):
            layout[f"blocks.{i}.{name}.weight"], layout[f"blocks.{i}.{name}.bias"] = (out, inp), (out,)
    return layout


def check_dino_state_dict(state_dict: dict, where: str) -> None:
    """Raise WeightsError unless `state_dict` has exactly the keys and shapes of DINO ViT-B/16."""
    check_layout(state_dict, expected_layout(), "DINO ViT-B/16 checkpoint (dino_vitbase16_pretrain.pth)", where)


def load_dino(path: str | os.PathLike, device: torch.device | str = "cpu", **size) -> DinoViT:
    """DINO ViT (ViT-B/16 unless `size` says otherwise) from a plain state dict, loaded strictly, eval mode."""
    state_dict = load_state_dict(path)
    if not isinstance(state_dict, dict):
        raise WeightsError(f"{path}: expected a DINO state dict, got {type(state_dict).__name__}")
    model = DinoViT(**{**VIT_B16, **size})
    check_layout(state_dict, expected_layout(**{k: v for k, v in {**VIT_B16, **size}.items() if k != "heads"}),
                 "DINO ViT checkpoint", str(path))
    model.load_state_dict(state_dict)
    return model.to(device).eval().requires_grad_(False)
