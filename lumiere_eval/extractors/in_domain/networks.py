"""The in-domain networks: a small 3D-conv video classifier, a video-text contrastive model, the input
protocol they share (uint8 clips of any size -> 16 frames of 32x32 in [-1, 1]), and their checkpoint loader.

Axis legend: b batch, c channels, t frames, h height, w width, n tokens, d embedding.
"""
from __future__ import annotations

import os
import pickle
import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lumiere_eval import LumiereEvalError
from lumiere_eval.extractors.weight_files import WeightsError

UNKNOWN = "<unk>"
PAD = "<pad>"


class InDomainInputError(LumiereEvalError):
    """A clip or prompt the in-domain models cannot take."""


def protocol_name(num_frames: int, size: int) -> str:
    """Name of the input protocol: frames picked uniformly to `num_frames`, bilinear (antialiased) to `size`."""
    return f"synthetic-t{num_frames}-s{size}-uniform-bilinear-aa"


def to_model_input(clips: torch.Tensor, num_frames: int, size: int) -> torch.Tensor:
    """uint8 `[b, t, h, w, 3]` -> float32 `[b, 3, num_frames, size, size]` in [-1, 1].

    Frames are picked at evenly spaced indices when the clip length is not `num_frames` (repeating frames of
    shorter clips); frames are resized with antialiased bilinear interpolation when not `size` x `size`.
    """
    if clips.dtype != torch.uint8 or clips.ndim != 5 or clips.shape[-1] != 3:
        raise InDomainInputError(f"expected uint8 clips [b, t, h, w, 3], got {clips.dtype} {list(clips.shape)}")
    b, t, h, w, _ = clips.shape
    if t != num_frames:
        index = torch.from_numpy(np.linspace(0, t - 1, num_frames).round().astype(np.int64))
        clips = clips[:, index]
    x = clips.permute(0, 1, 4, 2, 3).reshape(b * num_frames, 3, h, w).float()   # (b t) c h w
    if (h, w) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    x = x.reshape(b, num_frames, 3, size, size).permute(0, 2, 1, 3, 4)           # b c t h w
    return (x / 127.5 - 1.0).contiguous()


class ConvTrunk(nn.Module):
    """3D-conv trunk: four 3x3x3 conv + GroupNorm + SiLU stages, pooled to one vector `[b, widths[-1]]`.

    The first stage halves space only; the next two halve space and time.
    """

    def __init__(self, widths: tuple[int, ...] = (8, 16, 32, 64)):
        super().__init__()
        strides = [(1, 2, 2), (2, 2, 2), (2, 2, 2)] + [(1, 1, 1)] * (len(widths) - 3)
        layers, channels = [], 3
        for width, stride in zip(widths, strides):
            layers += [nn.Conv3d(channels, width, 3, stride=stride, padding=1),
                       nn.GroupNorm(min(8, width // 4), width), nn.SiLU()]
            channels = width
        self.body = nn.Sequential(*layers)
        self.out_dim = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3, 4))   # b c t h w -> b c


class VideoClassifier(nn.Module):
    """Trunk -> linear `feature_dim` (the Frechet features, pre-activation) -> SiLU -> linear class logits."""

    def __init__(self, num_classes: int = 12, widths: tuple[int, ...] = (8, 16, 32, 64), feature_dim: int = 64,
                 num_frames: int = 16, size: int = 32):
        super().__init__()
        self.config = {"num_classes": num_classes, "widths": list(widths), "feature_dim": feature_dim,
                       "num_frames": num_frames, "size": size}
        self.num_frames, self.size = num_frames, size
        self.trunk = ConvTrunk(tuple(widths))
        self.embed = nn.Linear(self.trunk.out_dim, feature_dim)
        self.head = nn.Linear(feature_dim, num_classes)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Model input `[b, 3, t, h, w]` -> (features `[b, feature_dim]`, logits `[b, num_classes]`)."""
        features = self.embed(self.trunk(x))
        return features, self.head(F.silu(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]


def words(text: str) -> list[str]:
    """Lower-cased words of `text` (letters only)."""
    return re.findall(r"[a-z]+", text.lower())


class Tokenizer:
    """Word-level tokenizer over a fixed vocabulary; unknown words map to `<unk>`, sequences padded with `<pad>`.

    A text without any word becomes a single `<unk>`, so every text has at least one token to attend to.
    """

    def __init__(self, vocabulary: list[str], max_words: int = 16):
        self.vocabulary = [PAD, UNKNOWN, *vocabulary]
        self.index = {word: i for i, word in enumerate(self.vocabulary)}
        self.max_words = max_words

    def unknown_words(self, text: str) -> list[str]:
        """Words of `text` outside the vocabulary."""
        return [w for w in words(text) if w not in self.index]

    def __call__(self, texts: list[str]) -> torch.Tensor:
        """Token ids `[n, max_words]` (longer texts are cut, 0 = padding)."""
        out = torch.zeros(len(texts), self.max_words, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [self.index.get(w, 1) for w in words(text)][:self.max_words] or [1]
            out[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out


class TextEncoder(nn.Module):
    """Token + position embeddings, one transformer layer, masked mean over words -> `[n, dim]`."""

    def __init__(self, vocab_size: int, dim: int = 64, max_words: int = 16, heads: int = 4):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = nn.Parameter(torch.zeros(max_words, dim))
        self.layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, batch_first=True)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pad = ids == 0
        x = self.tokens(ids) + self.positions[:ids.shape[1]]          # n l d
        x = self.layer(x, src_key_padding_mask=pad)
        keep = (~pad).float().unsqueeze(-1)
        return (x * keep).sum(1) / keep.sum(1).clamp(min=1.0)


class VideoTextModel(nn.Module):
    """Contrastive video-text model: conv-trunk clip encoder and word-level text encoder, unit embeddings."""

    def __init__(self, vocabulary: list[str], widths: tuple[int, ...] = (8, 16, 32, 64), dim: int = 64,
                 max_words: int = 16, num_frames: int = 16, size: int = 32):
        super().__init__()
        self.config = {"vocabulary": list(vocabulary), "widths": list(widths), "dim": dim, "max_words": max_words,
                       "num_frames": num_frames, "size": size}
        self.num_frames, self.size = num_frames, size
        self.tokenizer = Tokenizer(list(vocabulary), max_words)
        self.video = nn.Sequential(ConvTrunk(tuple(widths)), nn.Linear(widths[-1], dim))
        self.text_encoder = TextEncoder(len(self.tokenizer.vocabulary), dim, max_words)
        self.text_proj = nn.Linear(dim, dim)
        self.log_scale = nn.Parameter(torch.tensor(float(np.log(10.0))))

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        """Model input `[b, 3, t, h, w]` -> unit embeddings `[b, dim]`."""
        return F.normalize(self.video(x), dim=-1)

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids `[n, l]` -> unit embeddings `[n, dim]`."""
        return F.normalize(self.text_proj(self.text_encoder(ids)), dim=-1)


MODEL_KINDS = ("classifier", "video_text")
LOAD_ERRORS = (KeyError, TypeError, ValueError, RuntimeError, OSError, EOFError, pickle.UnpicklingError)


def build_model(kind: str, config: dict) -> nn.Module:
    """A fresh model of `kind` ("classifier" | "video_text") from its constructor config."""
    if kind == "classifier":
        return VideoClassifier(**config)
    if kind == "video_text":
        return VideoTextModel(**config)
    raise LumiereEvalError(f"unknown model kind {kind!r}; expected one of {', '.join(MODEL_KINDS)}")


def load_checkpoint(path: str | os.PathLike, kind: str) -> nn.Module:
    """Load an exported checkpoint (`{"config", "state_dict"}`) with `weights_only=True`, in eval mode;
    WeightsError naming the file if it is not one."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = build_model(kind, blob["config"])
        model.load_state_dict(blob["state_dict"])
    except LOAD_ERRORS as err:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise WeightsError(f"{path}: not a {kind} checkpoint of the in-domain evaluators ({first_line})") from err
    return model.eval().requires_grad_(False)
