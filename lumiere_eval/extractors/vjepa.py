"""V-JEPA ViT-H/16 and its SSv2 attentive probe's pooler: the features of JEDi.

`VJEPAEncoder` loads exactly the keys and shapes of `target_encoder` in `vith16.pth.tar` (after the
DistributedDataParallel prefix 'module.' is removed): `patch_embed.proj` (Conv3d over tubelets of 2 frames x
16 x 16 pixels), `pos_embed` (a 3-D sine-cosine table stored in the checkpoint), `blocks.N.{norm1, attn.qkv,
attn.proj, norm2, mlp.fc1, mlp.fc2}` and the final `norm` (LayerNorm eps 1e-6).
`AttentiveProbe` loads `classifier` of `ssv2-probe.pth.tar` (also 'module.'-prefixed): `pooler.query_tokens`
(one learned query), `pooler.cross_attention_block.{norm1, xattn.q, xattn.kv, xattn.proj, norm2, mlp.fc1,
mlp.fc2}` (LayerNorm eps 1e-5, torch's default) and the 174-class `linear` head. The query attends to the
normalised encoder tokens; query + attention output, then + MLP(norm2(query)): that 1280-d vector is the
JEDi feature (what the videojedi package's `VJEPA.get_feats` returns).
Preprocessing: uint8 -> float in [0, 1], ImageNet mean/std per channel. videojedi leaves the frame size to the
caller's data loader (the encoder stretches its position table to other sizes); our protocol resizes each frame
to 224x224 bilinearly (align_corners=False), the size V-JEPA was trained and probed at.
Facts (with their sources): docs/protocols.md, "The newer video metrics";
tests/test_extractors_vjepa.py compares with the vjepa classes.

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
from lumiere_eval.extractors.vit import (Block, Mlp, TubeletEmbed, attend, check_layout, load_checkpoint, precision,
                                        strip_prefix, unit_frames)
from lumiere_eval.extractors.weight_files import ResolvedWeights, WeightsError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class VJEPAConfig:
    """Sizes of encoder and probe; the defaults are those of vith16.pth.tar and its ssv2-probe.pth.tar."""

    embed_dim: int = 1280
    depth: int = 32
    heads: int = 16
    mlp_hidden: int = 5120
    patch_size: int = 16
    tubelet: int = 2
    frames: int = 16
    img_size: int = 224
    uniform_power: bool = True  # position table layout of the ViT-H/16 configs (only used without a checkpoint)
    eps: float = 1e-6
    probe_eps: float = 1e-5
    num_classes: int = 174

    @property
    def grid(self) -> tuple[int, int, int]:
        """Tokens along (t, h, w) for the native clip size."""
        side = self.img_size // self.patch_size
        return self.frames // self.tubelet, side, side


VIT_H16 = VJEPAConfig()


def sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    """`m dim`: [sin(p w_k), cos(p w_k)] with w_k = 10000^(-2k/dim), k < dim/2 (sines first, then cosines)."""
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2))
    angles = positions.reshape(-1)[:, None] * omega[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def sincos_3d(dim: int, grid: tuple[int, int, int], uniform_power: bool) -> torch.Tensor:
    """`1 n dim` table over tokens in (t, h, w) order: [time | height | width] 1-D tables, cut to `dim` columns.
    Widths dim/2, dim/4, dim/4, or with `uniform_power` 2 ceil(dim/6) each."""
    t, h, w = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in grid), indexing="ij")
    if uniform_power:
        dt = dh = dw = int(np.ceil(dim / 6) * 2)
    else:
        dt, dh, dw = dim // 2, dim // 4, dim // 4
    table = np.concatenate([sincos_1d(dt, t), sincos_1d(dh, h), sincos_1d(dw, w)], axis=1)[:, :dim]
    return torch.tensor(table, dtype=torch.float32).unsqueeze(0)


class SelfAttention(nn.Module):
    """Multi-head self-attention with a biased qkv projection."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.proj(attend(q, k, v, self.heads))


class VJEPAEncoder(nn.Module):
    """The V-JEPA video ViT: tokens `b n d` after the final LayerNorm."""

    def __init__(self, config: VJEPAConfig = VIT_H16):
        super().__init__()
        self.config = config
        self.patch_embed = TubeletEmbed(config.embed_dim, config.tubelet, config.patch_size)
        self.pos_embed = nn.Parameter(sincos_3d(config.embed_dim, config.grid, config.uniform_power),
                                      requires_grad=False)
        self.blocks = nn.ModuleList(
            Block(config.embed_dim, SelfAttention(config.embed_dim, config.heads), config.mlp_hidden, config.eps)
            for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.embed_dim, eps=config.eps)

    def position_embedding(self, x: torch.Tensor) -> torch.Tensor:
        """The stored table, or for another clip size the table stretched trilinearly with V-JEPA's scale
        factors (input tokens / native tokens along t, h, w)."""
        c = self.config
        _, _, t, h, w = x.shape
        if (t, h, w) == (c.frames, c.img_size, c.img_size):
            return self.pos_embed
        native = c.grid
        tokens = (t // c.tubelet, h // c.patch_size, w // c.patch_size)
        table = self.pos_embed.reshape(1, *native, c.embed_dim).permute(0, 4, 1, 2, 3)
        table = F.interpolate(table, scale_factor=tuple(n / n0 for n, n0 in zip(tokens, native)), mode="trilinear")
        return table.permute(0, 2, 3, 4, 1).reshape(1, -1, c.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`b 3 t h w` (normalised frames) -> `b n d`."""
        pos = self.position_embedding(x)
        x = self.patch_embed(x)
        if pos.shape[1] != x.shape[1]:
            raise ExtractorInputError(f"V-JEPA: {x.shape[1]} tokens but a position table of {pos.shape[1]} "
                                      f"(input {list(x.shape)})")
        x = x + pos.to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class CrossAttention(nn.Module):
    """Queries attend to tokens: q from the queries, k and v from one `kv` projection of the tokens."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        k, v = self.kv(tokens).chunk(2, dim=-1)
        return self.proj(attend(self.q(queries), k, v, self.heads))


class CrossAttentionBlock(nn.Module):
    """q + xattn(q, norm1(tokens)), then + mlp(norm2(q)) (the queries themselves are not normalised first)."""

    def __init__(self, config: VJEPAConfig):
        super().__init__()
        dim = config.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=config.probe_eps)
        self.xattn = CrossAttention(dim, config.heads)
        self.norm2 = nn.LayerNorm(dim, eps=config.probe_eps)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        q = queries + self.xattn(queries, self.norm1(tokens))
        return q + self.mlp(self.norm2(q))


class AttentivePooler(nn.Module):
    """One learned query token and one cross-attention block: tokens `b n d` -> `b d`."""

    def __init__(self, config: VJEPAConfig):
        super().__init__()
        self.query_tokens = nn.Parameter(torch.zeros(1, 1, config.embed_dim))
        self.cross_attention_block = CrossAttentionBlock(config)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        queries = self.query_tokens.expand(tokens.shape[0], -1, -1)
        return self.cross_attention_block(queries, tokens).squeeze(1)


class AttentiveProbe(nn.Module):
    """The SSv2 attentive probe: pooler + linear classifier (the classifier is loaded, not used for features)."""

    def __init__(self, config: VJEPAConfig = VIT_H16):
        super().__init__()
        self.pooler = AttentivePooler(config)
        self.linear = nn.Linear(config.embed_dim, config.num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """SSv2 class logits `b classes`."""
        return self.linear(self.pooler(tokens))


@functools.lru_cache(maxsize=8)
def reference_shapes(part: str, config: VJEPAConfig = VIT_H16) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the 'encoder' (target_encoder) or 'probe' (classifier) state dict, without 'module.'."""
    with torch.device("meta"):
        module = VJEPAEncoder(config) if part == "encoder" else AttentiveProbe(config)
        return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def encoder_state_dict(checkpoint: dict, where: str) -> dict:
    """`target_encoder` of a V-JEPA checkpoint, without the 'module.' / 'backbone.' prefixes (as videojedi)."""
    if "target_encoder" not in checkpoint:
        raise WeightsError(f"{where}: no 'target_encoder' in this checkpoint (keys: {sorted(checkpoint)[:8]}); "
                           "expected vith16.pth.tar")
    return strip_prefix(checkpoint["target_encoder"], ("module.", "backbone."))


def probe_state_dict(checkpoint: dict, where: str) -> dict:
    """`classifier` of an attentive-probe checkpoint, without the 'module.' prefix."""
    if "classifier" not in checkpoint:
        raise WeightsError(f"{where}: no 'classifier' in this checkpoint (keys: {sorted(checkpoint)[:8]}); "
                           "expected ssv2-probe.pth.tar")
    return strip_prefix(checkpoint["classifier"], ("module.",))


def check_vjepa_state_dict(state_dict: dict, part: str, where: str, config: VJEPAConfig = VIT_H16) -> None:
    """Raise WeightsError unless `state_dict` has exactly the keys and shapes of the `part` ('encoder' | 'probe')."""
    what = "V-JEPA ViT-H/16 target_encoder" if part == "encoder" else "V-JEPA SSv2 attentive probe classifier"
    check_layout(state_dict, reference_shapes(part, config), what, where)


def load_vjepa(encoder_path: str | os.PathLike, probe_path: str | os.PathLike,
               config: VJEPAConfig = VIT_H16) -> tuple[VJEPAEncoder, AttentiveProbe]:
    """Encoder and probe in eval mode holding the weights of the two checkpoints (checked key by key)."""
    modules = []
    for part, path, extract, cls in (("encoder", encoder_path, encoder_state_dict, VJEPAEncoder),
                                     ("probe", probe_path, probe_state_dict, AttentiveProbe)):
        state_dict = extract(load_checkpoint(path), str(path))
        check_vjepa_state_dict(state_dict, part, str(path), config)
        modules.append(from_state_dict(cls, state_dict, config))
    return modules[0], modules[1]


def from_state_dict(cls: type, state_dict: dict, config: VJEPAConfig = VIT_H16) -> nn.Module:
    """A VJEPAEncoder or AttentiveProbe in eval mode whose parameters are the tensors of `state_dict` (no copy,
    no random initialisation: ViT-H is 2.5 GB in fp32)."""
    with torch.device("meta"):
        module = cls(config)
    module.load_state_dict(state_dict, strict=True, assign=True)
    return module.eval().requires_grad_(False)


class VJEPAFeatures(nn.Module):
    """Normalised frames `b 3 t h w` -> pooled JEDi features `b d`."""

    def __init__(self, encoder: VJEPAEncoder, probe: AttentiveProbe):
        super().__init__()
        self.encoder = encoder
        self.pooler = probe.pooler
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames in [0, 1] `b 3 t h w` -> `b d`."""
        x = (frames - self.mean.to(frames.dtype)) / self.std.to(frames.dtype)
        return self.pooler(self.encoder(x))


class VJEPAExtractor(Extractor):
    """JEDi features (1280-d): V-JEPA ViT-H/16 tokens pooled by the SSv2 probe's attentive pooler, fp32."""

    id = "vjepa-h16-ssv2"
    weights_name = "vjepa_vith16"
    probe_weights_name = "vjepa_vith16_ssv2_probe"
    companion_weights = {"probe": probe_weights_name}  # resolved by create_extractor like the main weights
    protocol = "stretch224-bilinear_unit_imagenet-norm"
    dim = VIT_H16.embed_dim
    precision = "float32"

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None,
                 probe: ResolvedWeights | None = None, config: VJEPAConfig = VIT_H16):
        """`probe`: the SSv2 probe's resolved weights (`create_extractor` resolves them: a local file given as
        `probe=PATH`, else the registered ones)."""
        super().__init__(weights, device, batch_size)
        if not isinstance(probe, ResolvedWeights):
            raise WeightsError(f"{self.id}: needs the SSv2 probe's resolved weights ({self.probe_weights_name}); "
                               "build it with lumiere_eval.extractors.create_extractor, which resolves them")
        self.probe_weights = probe
        # the features depend on both files; the protocol string (part of feature-cache keys) names the probe's
        self.protocol = f"{type(self).protocol}+probe-sha256-{probe.sha256[:16]}"
        self.dtype, _ = precision(self.precision)
        self.config = config
        self.dim = config.embed_dim
        encoder, attentive_probe = load_vjepa(weights.path, probe.path, config)
        self.model = VJEPAFeatures(encoder, attentive_probe).to(self.device, self.dtype)

    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.model(unit_frames(clips, self.config.img_size).to(self.device, self.dtype))

    def describe(self) -> dict:
        """As Extractor.describe, with the precision and the probe's weights."""
        return {**super().describe(), "dtype": str(self.dtype).replace("torch.", ""),
                "probe_weights": self.probe_weights.describe()}


class VJEPAFP16Extractor(VJEPAExtractor):
    """As VJEPAExtractor with the networks and their input in float16."""

    id = "vjepa-h16-ssv2-fp16"
    precision = "float16"


class VJEPABF16Extractor(VJEPAExtractor):
    """As VJEPAExtractor with the networks and their input in bfloat16 (V-JEPA's own evaluations use bf16)."""

    id = "vjepa-h16-ssv2-bf16"
    precision = "bfloat16"
