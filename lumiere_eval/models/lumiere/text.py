"""A word-level tokenizer over the domain vocabulary and a small Transformer text encoder.

Lumiere uses a frozen pre-trained T5; nothing of that kind can be downloaded here, so the text encoder is
trained with the T2I stage on the domain's captions and frozen afterwards, like the T2I weights.
Axes: b batch, l tokens, d width.
"""
from __future__ import annotations

import re
from typing import Sequence

import torch
from torch import nn

PAD, UNK, BOS = 0, 1, 2


class Tokenizer:
    """Lower-cased words -> ids; 0 = padding, 1 = unknown word, 2 = a start token every prompt gets."""

    def __init__(self, vocab: Sequence[str], max_len: int = 16):
        self.vocab = list(vocab)
        self.max_len = int(max_len)
        self.index = {w: i + 3 for i, w in enumerate(self.vocab)}

    def __len__(self) -> int:
        return len(self.vocab) + 3

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """LongTensor [b, max_len]: start token, word ids (unknown -> 1), zero padding; long prompts cut."""
        out = torch.zeros(len(texts), self.max_len, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [BOS] + [self.index.get(w, UNK) for w in re.findall(r"[a-z0-9]+", text.lower())]
            ids = ids[: self.max_len]
            out[row, : len(ids)] = torch.tensor(ids)
        return out


class TextEncoder(nn.Module):
    """Token ids [b, l] -> (context [b, l, d], key mask [b, l], True where a token is)."""

    def __init__(self, vocab: Sequence[str], dim: int = 64, depth: int = 2, heads: int = 4, max_len: int = 16):
        super().__init__()
        self.config = dict(vocab=list(vocab), dim=dim, depth=depth, heads=heads, max_len=max_len)
        self.tokenizer = Tokenizer(vocab, max_len)
        self.embed = nn.Embedding(len(self.tokenizer), dim)
        self.position = nn.Parameter(torch.randn(max_len, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = tokens != PAD
        h = self.embed(tokens) + self.position[: tokens.shape[1]]
        h = self.layers(h, src_key_padding_mask=~mask)
        return self.norm(h), mask

    def encode(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts -> (context, mask) on this module's device."""
        return self(self.tokenizer.encode(prompts).to(self.position.device))
