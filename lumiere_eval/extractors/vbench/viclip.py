"""ViCLIP ViT-L/14 (Wang et al., InternVid, ICLR 2024), the network of VBench's overall consistency and temporal
style, in the layout of `ViClip-InternVid-10M-FLT.pth` (its `model` entry: the state dict of vbench 0.1.5's
`third_party/ViCLIP/viclip.py` `ViCLIP`, which VBench loads strictly).

Facts of that network (vbench 0.1.5 `third_party/ViCLIP/viclip.py`, `viclip_vision.py`, `viclip_text.py`):
- vision tower (`vision_encoder.*`): a Conv3d patch embedding of kernel (1, 14, 14) without bias, a class token, a
  spatial position table for 224x224 (16x16 + 1) and a temporal one for 8 frames (`[1, 8, width]`); each frame's
  patch tokens get the spatial table, then every patch token its frame's temporal entry, and the tokens are
  ordered patch-major (`b (n t) d`) after one class token; `ln_pre`, 24 pre-norm blocks of width 1024 with 16 heads
  (packed `in_proj` attention, QuickGELU MLP of ratio 4, LayerNorm eps 1e-5), `ln_post` of the class token, then
  `proj` to 768. Drop path (0.1) and masking (0.9) act only in training; VBench calls `encode_vision(test=True)`.
- text tower (`text_encoder.*`): CLIP's text transformer with a context of 32 tokens (`max_txt_l`): token and
  position embedding, 12 causal blocks of width 768 with 12 heads, `ln_final`, the end-of-text token's row (the
  largest id) times `text_projection` (768 x 768).
- tokenizer: CLIP's BPE (`bpe_simple_vocab_16e6.txt.gz`, which VBench downloads from openai/CLIP and clip-anytorch
  ships); texts longer than 32 tokens are cut to 32 with the last set to end-of-text (`tokenize(truncate=True)`).
- `temp` (a scalar temperature) is in the checkpoint but not used by VBench's scores.

Axis legend: b batch, t frames, c channels, h w patch grid, n patches, d width, l text tokens.
"""
from __future__ import annotations

import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from lumiere_eval.extractors.vit import check_layout
from lumiere_eval.extractors.weight_files import WeightsError, load_state_dict

VICLIP_L14 = {"vision_width": 1024, "vision_layers": 24, "vision_heads": 16, "patch_size": 14, "image_size": 224,
              "num_frames": 8, "embed_dim": 768, "text_width": 768, "text_layers": 12, "text_heads": 12,
              "context_length": 32, "vocab_size": 49408}
NUM_KEYS_L14 = 447  # temp + 9 vision tensors + 24 x 12 vision block tensors + 5 text tensors + 12 x 12 text ones


class PackedAttention(nn.Module):
    """Multi-head attention with one packed q/k/v projection (keys `in_proj_weight`, `in_proj_bias`, `out_proj`:
    the layout of torch's `nn.MultiheadAttention`), on batch-first tokens."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (y.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
                   for y in F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # b heads n d/heads
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class QuickGeluMlp(nn.Module):
    """c_fc -> x * sigmoid(1.702 x) -> c_proj (CLIP's MLP; keys `c_fc`, `c_proj`)."""

    def __init__(self, width: int):
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c_fc(x)
        return self.c_proj(x * torch.sigmoid(1.702 * x))


class ResidualBlock(nn.Module):
    """x + attn(ln_1(x)), then x + mlp(ln_2(x)) (CLIP's `ResidualAttentionBlock` keys)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attn = PackedAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = QuickGeluMlp(width)
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of `ResidualBlock`s (keys `resblocks.<i>.*`)."""

    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualBlock(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class ViClipVision(nn.Module):
    """ViCLIP's video tower; forward: normalised frames `b t 3 H W` (t = `num_frames`, or 1) -> `b embed_dim`."""

    def __init__(self, width: int, layers: int, heads: int, patch_size: int, image_size: int, num_frames: int,
                 embed_dim: int):
        super().__init__()
        grid = image_size // patch_size
        self.conv1 = nn.Conv3d(3, width, (1, patch_size, patch_size), (1, patch_size, patch_size), bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, width))
        self.temporal_positional_embedding = nn.Parameter(torch.zeros(1, num_frames, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, embed_dim))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        b, t = video.shape[:2]
        frames = self.temporal_positional_embedding.shape[1]
        if t not in (1, frames):
            raise ValueError(f"ViCLIP takes {frames} frames (or 1), got {t}")
        x = self.conv1(video.transpose(1, 2))  # b d t h w
        d = x.shape[1]
        patches = x.permute(0, 2, 3, 4, 1).reshape(b, t, -1, d)  # b t n d
        if patches.shape[2] + 1 != self.positional_embedding.shape[0]:
            raise ValueError(f"ViCLIP's position table is for {self.positional_embedding.shape[0] - 1} patches, "
                             f"the frames give {patches.shape[2]}")
        patches = patches + self.positional_embedding[1:]
        if t == 1:  # one image: the mean of the temporal table (as ViCLIP does)
            patches = patches + self.temporal_positional_embedding.mean(1)
        else:
            patches = patches + self.temporal_positional_embedding[:, :, None]
        tokens = patches.transpose(1, 2).reshape(b, -1, d)  # b (n t) d
        cls = (self.class_embedding + self.positional_embedding[0]).expand(b, 1, d)
        x = self.transformer(self.ln_pre(torch.cat((cls, tokens), dim=1)))
        return self.ln_post(x[:, 0]) @ self.proj


class ViClipText(nn.Module):
    """ViCLIP's text tower; forward: token ids `b l` (l = `context_length`) -> `b embed_dim`."""

    def __init__(self, width: int, layers: int, heads: int, context_length: int, vocab_size: int, embed_dim: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.zeros(context_length, width))
        self.transformer = Transformer(width, layers, heads)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.zeros(width, embed_dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens.long()
        length = tokens.shape[1]
        causal = torch.full((length, length), float("-inf"), device=tokens.device).triu(1)
        x = self.token_embedding(tokens) + self.positional_embedding
        x = self.ln_final(self.transformer(x, causal.to(x.dtype)))
        return x[torch.arange(len(x), device=x.device), tokens.argmax(dim=-1)] @ self.text_projection


class ViClip(nn.Module):
    """ViCLIP at any size (`VICLIP_L14` is the checkpoint's): `encode_video`, `encode_text`, `tokenize`."""

    def __init__(self, vision_width: int = 1024, vision_layers: int = 24, vision_heads: int = 16,
                 patch_size: int = 14, image_size: int = 224, num_frames: int = 8, embed_dim: int = 768,
                 text_width: int = 768, text_layers: int = 12, text_heads: int = 12, context_length: int = 32,
                 vocab_size: int = 49408):
        super().__init__()
        self.context_length = context_length
        self.vision_encoder = ViClipVision(vision_width, vision_layers, vision_heads, patch_size, image_size,
                                           num_frames, embed_dim)
        self.text_encoder = ViClipText(text_width, text_layers, text_heads, context_length, vocab_size, embed_dim)
        self.temp = nn.Parameter(torch.tensor(1 / 100.0))

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """Video embeddings `b embed_dim` of normalised frames `b t 3 H W` (not L2-normalised)."""
        return self.vision_encoder(video)

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """CLIP BPE token ids `[len(texts), context_length]`, long texts cut (last token end-of-text)."""
        from lumiere_eval.extractors.clipsim import _import_clip

        return _import_clip().tokenize(texts, context_length=self.context_length, truncate=True)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """Text embeddings `len(texts) embed_dim` (not L2-normalised)."""
        device = self.text_encoder.positional_embedding.device
        return self.text_encoder(self.tokenize(texts).to(device))


def expected_layout(vision_width: int = 1024, vision_layers: int = 24, patch_size: int = 14, image_size: int = 224,
                    num_frames: int = 8, embed_dim: int = 768, text_width: int = 768, text_layers: int = 12,
                    context_length: int = 32, vocab_size: int = 49408, **_heads) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of a ViCLIP state dict of this size (ViT-L/14: `NUM_KEYS_L14` entries)."""
    grid = image_size // patch_size

    def blocks(prefix: str, width: int, layers: int) -> dict[str, tuple[int, ...]]:
        out = {}
        for i in range(layers):
            p = f"{prefix}.transformer.resblocks.{i}"
            out |= {f"{p}.attn.in_proj_weight": (3 * width, width), f"{p}.attn.in_proj_bias": (3 * width,),
                    f"{p}.attn.out_proj.weight": (width, width), f"{p}.attn.out_proj.bias": (width,),
                    f"{p}.mlp.c_fc.weight": (4 * width, width), f"{p}.mlp.c_fc.bias": (4 * width,),
                    f"{p}.mlp.c_proj.weight": (width, 4 * width), f"{p}.mlp.c_proj.bias": (width,)}
            out |= {f"{p}.{norm}.{part}": (width,) for norm in ("ln_1", "ln_2") for part in ("weight", "bias")}
        return out

    vision, text = "vision_encoder", "text_encoder"
    layout = {"temp": (), f"{vision}.class_embedding": (vision_width,),
              f"{vision}.positional_embedding": (grid * grid + 1, vision_width),
              f"{vision}.temporal_positional_embedding": (1, num_frames, vision_width),
              f"{vision}.conv1.weight": (vision_width, 3, 1, patch_size, patch_size),
              f"{vision}.proj": (vision_width, embed_dim),
              f"{text}.token_embedding.weight": (vocab_size, text_width),
              f"{text}.positional_embedding": (context_length, text_width),
              f"{text}.text_projection": (text_width, embed_dim)}
    layout |= {f"{m}.{norm}.{part}": (w,) for m, norm, w in ((vision, "ln_pre", vision_width),
                                                             (vision, "ln_post", vision_width),
                                                             (text, "ln_final", text_width))
               for part in ("weight", "bias")}
    return layout | blocks(vision, vision_width, vision_layers) | blocks(text, text_width, text_layers)


def viclip_state_dict(checkpoint, where: str) -> dict:
    """The state dict of a ViCLIP checkpoint: its `model` entry (ViClip-InternVid-10M-FLT.pth), or the dict itself."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
        return checkpoint["model"]
    if isinstance(checkpoint, dict) and checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    raise WeightsError(f"{where}: expected a ViCLIP checkpoint (a dict with a 'model' state dict), got "
                       f"{type(checkpoint).__name__}" + (f" with keys {sorted(checkpoint)[:5]}"
                                                         if isinstance(checkpoint, dict) else ""))


def viclip_size(state_dict: dict, where: str) -> dict:
    """The constructor arguments of the ViCLIP whose state dict this is, read from its shapes; heads are not
    stored, so each tower gets width // 64 (ViT-L/14: 1024 / 64 = 16 and 768 / 64 = 12, ViCLIP's own)."""
    def shape(key: str) -> tuple[int, ...]:
        if key not in state_dict:
            raise WeightsError(f"{where}: not a ViCLIP checkpoint: no {key}")
        return tuple(state_dict[key].shape)

    def layers(prefix: str) -> int:
        return sum(1 for k in state_dict if k.startswith(f"{prefix}.transformer.resblocks.")
                   and k.endswith(".ln_1.weight"))

    vision_width, text_width = shape("vision_encoder.class_embedding")[0], shape("text_encoder.ln_final.weight")[0]
    patch_size = shape("vision_encoder.conv1.weight")[-1]
    grid = math.isqrt(max(shape("vision_encoder.positional_embedding")[0] - 1, 0))
    return {"vision_width": vision_width, "vision_layers": layers("vision_encoder"),
            "vision_heads": max(1, vision_width // 64), "patch_size": patch_size, "image_size": grid * patch_size,
            "num_frames": shape("vision_encoder.temporal_positional_embedding")[1],
            "embed_dim": shape("vision_encoder.proj")[1], "text_width": text_width,
            "text_layers": layers("text_encoder"), "text_heads": max(1, text_width // 64),
            "context_length": shape("text_encoder.positional_embedding")[0],
            "vocab_size": shape("text_encoder.token_embedding.weight")[0]}


def check_viclip_state_dict(state_dict: dict, where: str) -> dict:
    """Raise WeightsError unless `state_dict` is a complete ViCLIP layout (exact keys and shapes of the size its
    shapes give: `viclip_size`, ViT-L/14 for ViClip-InternVid-10M-FLT.pth); returns that size."""
    size = viclip_size(state_dict, where)
    check_layout(state_dict, expected_layout(**size), "ViCLIP checkpoint (ViClip-InternVid-10M-FLT.pth layout)",
                 where)
    return size


def load_viclip(path: str | os.PathLike, device: torch.device | str = "cpu", **heads) -> ViClip:
    """ViCLIP of the size its checkpoint holds (`viclip_size`; `heads` may override vision_heads/text_heads), read
    with weights_only=True and loaded strictly, float32, eval mode."""
    state_dict = viclip_state_dict(load_state_dict(path), str(path))
    model = ViClip(**{**check_viclip_state_dict(state_dict, str(path)), **heads})
    model.load_state_dict({k: v.float() for k, v in state_dict.items()})
    return model.to(device).eval().requires_grad_(False)
