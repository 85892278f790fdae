"""Pieces shared by the video ViT extractors (VideoMAE-v2, V-JEPA): the tubelet embedding, the MLP, the block,
attention, frame resizing, the numeric precision option and state-dict loading.

Axis legend: b batch, c channels, t time, h height, w width, n tokens, d width of a token.
"""
from __future__ import annotations

import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from lumiere_eval import LumiereEvalError
from lumiere_eval.extractors.weight_files import WeightsError

# Precision option -> (torch dtype, the short name that goes into protocol ids).
PRECISIONS: dict[str, tuple[torch.dtype, str]] = {
    "float32": (torch.float32, "fp32"),
    "float16": (torch.float16, "fp16"),
    "bfloat16": (torch.bfloat16, "bf16"),
}


def precision(name: str) -> tuple[torch.dtype, str]:
    """(dtype, short name) of a precision option: float32 | float16 | bfloat16 (also fp32 | fp16 | bf16)."""
    for long_name, (dtype, short) in PRECISIONS.items():
        if name in (long_name, short):
            return dtype, short
    raise LumiereEvalError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")


class Mlp(nn.Module):
    """fc1 -> exact GELU -> fc2 (the MLP of both ViTs; key names fc1, fc2)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class TubeletEmbed(nn.Module):
    """Non-overlapping tubelets (tubelet x patch x patch) -> tokens `b n d`, in (t, h, w) order."""

    def __init__(self, dim: int, tubelet: int, patch_size: int):
        super().__init__()
        kernel = (tubelet, patch_size, patch_size)
        self.proj = nn.Conv3d(3, dim, kernel_size=kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)) (key names of both ViTs)."""

    def __init__(self, dim: int, attention: nn.Module, mlp_hidden: int, eps: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = attention
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Softmax attention with scale head_dim^-1/2: `b n d` queries over `b m d` keys/values -> `b n d`."""
    b, n, d = q.shape
    q, k, v = (x.reshape(b, -1, heads, d // heads).transpose(1, 2) for x in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)  # b heads n d/heads
    return out.transpose(1, 2).reshape(b, n, d)


def unit_frames(clips: torch.Tensor, size: int | None) -> torch.Tensor:
    """uint8 `b t h w c` -> float `b c t size size` in [0, 1]: each frame resized bilinearly
    (align_corners=False, no antialiasing), or left as it is when `size` is None."""
    b, t, h, w, c = clips.shape
    x = clips.permute(0, 4, 1, 2, 3).to(torch.float32) / 255  # b c t h w
    if size is not None and (h, w) != (size, size):
        x = F.interpolate(x.reshape(b * c, t, h, w), size=(size, size), mode="bilinear", align_corners=False)
        x = x.reshape(b, c, t, size, size)
    return x


def load_checkpoint(path: str | os.PathLike) -> dict:
    """torch.load(weights_only=True) of a training checkpoint (argparse.Namespace entries allowed: VideoMAE-v2
    checkpoints may hold the training arguments); anything else unreadable is a WeightsError."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and unpickler errors all mean "not usable weights"
        raise WeightsError(f"{path}: cannot be read as weights with weights_only=True ({err})") from err
    if not isinstance(checkpoint, dict):
        raise WeightsError(f"{path}: expected a checkpoint dict, got {type(checkpoint).__name__}")
    return checkpoint


def strip_prefix(state_dict: dict, prefixes: tuple[str, ...]) -> dict:
    """The state dict with each key's leading `prefixes` (e.g. DistributedDataParallel's 'module.') removed."""
    out = {}
    for key, value in state_dict.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out


def check_layout(state_dict: dict, expected: dict[str, tuple[int, ...]], what: str, where: str) -> None:
    """Raise WeightsError unless `state_dict` has exactly the keys and shapes `expected`."""
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state_dict)
                   if tuple(getattr(state_dict[k], "shape", ())) != expected[k])
    if missing or unexpected or wrong:
        shapes = [f"{k} {tuple(getattr(state_dict[k], 'shape', ()))} != {expected[k]}" for k in wrong[:3]]
        raise WeightsError(f"{where}: not a {what} ({len(state_dict)} entries, expected {len(expected)}); "
                           f"missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {shapes}")
