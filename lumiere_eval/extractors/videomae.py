"""VideoMAE-v2 ViT-g/14 fine-tuned on SSv2 (`vit_g_hybrid_pt_1200e_ssv2_ft.pth`): the features of cd-FVD.

`VideoMAEv2` loads exactly the keys and shapes of that checkpoint's state dict (under its 'model' or 'module'
key): `patch_embed.proj` (a Conv3d over tubelets of 2 frames x 14 x 14 pixels), `blocks.N.{norm1, attn.qkv,
attn.q_bias, attn.v_bias, attn.proj, norm2, mlp.fc1, mlp.fc2}`, `fc_norm` and the 174-class `head`.
The maths is VideoMAE-v2's: a fixed 1-D sine-cosine table over the flattened token index added to the tokens,
pre-norm blocks (LayerNorm eps 1e-6) whose qkv projection has a bias on q and v only (k's is zero),
and features = fc_norm(mean of the tokens), 1408-d (`forward_features`).
Preprocessing as the cd-fvd package (`preprocess_videomae`): uint8 -> float in [0, 1], each frame resized to
224x224 bilinearly (align_corners=False), no mean/std normalisation.
Facts (with their sources): docs/protocols.md, "The newer video metrics";
tests/test_extractors_videomae.py compares with cd-fvd's classes.

Axis legend: b batch, c channels, t time, h height, w width, n tokens, d token width.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from lumiere_eval.extractors.base import Extractor, ExtractorInputError
from lumiere_eval.extractors.vit import (Block, TubeletEmbed, attend, check_layout, load_checkpoint, precision,
                                        unit_frames)
from lumiere_eval.extractors.weight_files import ResolvedWeights


@dataclass(frozen=True)
class VideoMAEConfig:
    """Sizes of the network; the defaults are those of vit_g_hybrid_pt_1200e_ssv2_ft.pth."""

    embed_dim: int = 1408
    depth: int = 40
    heads: int = 16
    mlp_hidden: int = 6144  # int(1408 * 48 / 11), VideoMAE-v2's mlp_ratio 48/11
    patch_size: int = 14
    tubelet: int = 2
    frames: int = 16
    img_size: int = 224
    num_classes: int = 174
    eps: float = 1e-6

    @property
    def grid(self) -> int:
        """Patches per side of a frame."""
        return self.img_size // self.patch_size

    @property
    def tokens(self) -> int:
        """Tokens of a clip of `frames` frames."""
        return (self.frames // self.tubelet) * self.grid ** 2


VIT_G_SSV2 = VideoMAEConfig()


def sinusoid_table(positions: int, dim: int) -> torch.Tensor:
    """`1 n d` table: angle pos / 10000^(2 floor(j/2) / d), sine in even columns j, cosine in odd ones."""
    pos = np.arange(positions, dtype=np.float64)[:, None]
    exponent = 2 * (np.arange(dim) // 2) / dim
    angles = pos / np.power(10000, exponent)[None, :]
    table = np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))
    return torch.tensor(table, dtype=torch.float32).unsqueeze(0)


class Attention(nn.Module):
    """Multi-head self-attention; the qkv projection's bias is (q_bias, 0, v_bias)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
        q, k, v = F.linear(x, self.qkv.weight, bias).chunk(3, dim=-1)
        return self.proj(attend(q, k, v, self.heads))


class VideoMAEv2(nn.Module):
    """The VideoMAE-v2 classification ViT with mean pooling, in the layout of the cd-FVD checkpoint."""

    def __init__(self, config: VideoMAEConfig = VIT_G_SSV2):
        super().__init__()
        self.config = config
        self.patch_embed = TubeletEmbed(config.embed_dim, config.tubelet, config.patch_size)
        self.blocks = nn.ModuleList(
            Block(config.embed_dim, Attention(config.embed_dim, config.heads), config.mlp_hidden, config.eps)
            for _ in range(config.depth))
        self.fc_norm = nn.LayerNorm(config.embed_dim, eps=config.eps)
        self.head = nn.Linear(config.embed_dim, config.num_classes)
        # fixed, not in the checkpoint
        self.register_buffer("pos_embed", sinusoid_table(config.tokens, config.embed_dim), persistent=False)

    def position_embedding(self, time_tokens: int) -> torch.Tensor:
        """The table for `time_tokens` tubelets in time: as built, or stretched along time (trilinear, scale
        (t + 0.1) / t0, VideoMAE-v2's `interpolate_pos_encoding`) for clips of another length."""
        c = self.config
        native = c.frames // c.tubelet
        if time_tokens == native:
            return self.pos_embed
        grid = self.pos_embed.transpose(1, 2).reshape(1, c.embed_dim, native, c.grid, c.grid)
        grid = F.interpolate(grid, scale_factor=((time_tokens + 0.1) / native, 1, 1), mode="trilinear")
        return grid.reshape(1, c.embed_dim, -1).transpose(1, 2)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """`b 3 t h w` (h = w = img_size) -> `b d`: fc_norm of the mean token."""
        c = self.config
        if x.shape[-2:] != (c.img_size, c.img_size) or x.shape[2] < c.tubelet:
            raise ExtractorInputError(f"VideoMAE-v2 expects b 3 t {c.img_size} {c.img_size} with t >= {c.tubelet}, "
                                      f"got {list(x.shape)}")
        x = self.patch_embed(x)
        x = x + self.position_embedding(x.shape[1] // c.grid ** 2).to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return self.fc_norm(x.mean(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """SSv2 class logits `b classes`."""
        return self.head(self.forward_features(x))


@functools.lru_cache(maxsize=4)
def reference_shapes(config: VideoMAEConfig = VIT_G_SSV2) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the checkpoint's state dict for `config` (built on the meta device: no memory)."""
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in VideoMAEv2(config).state_dict().items()}


def videomae_state_dict(checkpoint: dict) -> dict:
    """The model's state dict inside a VideoMAE-v2 checkpoint: under 'model', else 'module' (cd-fvd's order),
    else the checkpoint itself."""
    for key in ("model", "module"):
        if key in checkpoint:
            return checkpoint[key]
    return checkpoint


def check_videomae_state_dict(state_dict: dict, where: str, config: VideoMAEConfig = VIT_G_SSV2) -> None:
    """Raise WeightsError unless `state_dict` has exactly the keys and shapes of `config`'s checkpoint."""
    check_layout(state_dict, reference_shapes(config), "VideoMAE-v2 ViT-g/14 SSv2 state dict", where)


def load_videomae(path: str | os.PathLike, config: VideoMAEConfig = VIT_G_SSV2) -> VideoMAEv2:
    """A VideoMAEv2 in eval mode holding the weights of checkpoint `path` (checked key by key)."""
    state_dict = videomae_state_dict(load_checkpoint(path))
    check_videomae_state_dict(state_dict, str(path), config)
    return from_state_dict(state_dict, config)


def from_state_dict(state_dict: dict, config: VideoMAEConfig = VIT_G_SSV2) -> VideoMAEv2:
    """A VideoMAEv2 in eval mode whose parameters are the tensors of `state_dict` (no copy, no random
    initialisation: ViT-g is 4 GB in fp32)."""
    with torch.device("meta"):
        model = VideoMAEv2(config)
    model.load_state_dict(state_dict, strict=True, assign=True)
    model.pos_embed = sinusoid_table(config.tokens, config.embed_dim)
    return model.eval().requires_grad_(False)


class VideoMAEv2Extractor(Extractor):
    """cd-FVD features (1408-d) from vit_g_hybrid_pt_1200e_ssv2_ft.pth, cd-fvd's preprocessing, in fp32."""

    id = "videomae-v2-g-ssv2"
    weights_name = "videomae_v2_g_ssv2"
    protocol = "cdfvd-v1_stretch224-bilinear_unit"
    dim = VIT_G_SSV2.embed_dim
    precision = "float32"

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None,
                 config: VideoMAEConfig = VIT_G_SSV2):
        super().__init__(weights, device, batch_size)
        self.dtype, _ = precision(self.precision)
        self.config = config
        self.dim = config.embed_dim
        self.model = load_videomae(weights.path, config).to(self.device, self.dtype)

    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = unit_frames(clips, self.config.img_size).to(self.device, self.dtype)
        return self.model.forward_features(x)

    def describe(self) -> dict:
        """As Extractor.describe, with the network's precision."""
        return {**super().describe(), "dtype": str(self.dtype).replace("torch.", "")}


class VideoMAEv2FP16Extractor(VideoMAEv2Extractor):
    """As VideoMAEv2Extractor with the network and its input in float16 (cd-fvd's `half_precision=True`)."""

    id = "videomae-v2-g-ssv2-fp16"
    precision = "float16"


class VideoMAEv2BF16Extractor(VideoMAEv2Extractor):
    """As VideoMAEv2Extractor with the network and its input in bfloat16."""

    id = "videomae-v2-g-ssv2-bf16"
    precision = "bfloat16"
