"""Embeddings for VBench's text-video dimensions, with VBench's preprocessing (`frames`): ViCLIP video and text
embeddings (overall consistency, temporal style) and CLIP ViT-B/32 frame and text embeddings (appearance style).
Every embedding is float32 and L2-normalised, as VBench normalises them before its dot products; the scores
themselves are in `lumiere_eval.metrics.vbench`.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lumiere_eval.extractors.vbench.features import steady_math
from lumiere_eval.extractors.vbench.frames import clip_pil_frames, viclip_frames

CLIP_CONTEXT = 77


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def viclip_video_embedding(model: nn.Module, frames) -> torch.Tensor:
    """ViCLIP's embedding `[D]` of a video (uint8 `[T, H, W, 3]`): its 8 middle frames at 224 (`viclip_frames`)."""
    x = viclip_frames(frames)[None]
    with steady_math():
        out = model.encode_video(x.to(_device(model))).float()
    return F.normalize(out, dim=-1)[0].cpu()


def viclip_text_embeddings(model: nn.Module, texts: list[str]) -> torch.Tensor:
    """ViCLIP's embeddings `[N, D]` of texts (CLIP BPE, 32 tokens, long texts cut)."""
    with steady_math():
        out = model.encode_text(list(texts)).float()
    return F.normalize(out, dim=-1).cpu()


def clip_frame_embeddings(clip_model: nn.Module, frames, batch: int = 32) -> torch.Tensor:
    """CLIP's embeddings `[T, D]` of every frame through VBench's PIL route (`clip_pil_frames`)."""
    x = clip_pil_frames(frames)
    with steady_math():
        out = torch.cat([clip_model.encode_image(x[i:i + batch].to(_device(clip_model))).float()
                         for i in range(0, len(x), batch)])
    return F.normalize(out, dim=-1).cpu()


def clip_text_embeddings(clip_model: nn.Module, texts: list[str]) -> torch.Tensor:
    """CLIP's embeddings `[N, D]` of texts (`clip.tokenize`, 77 tokens; a longer text is cut)."""
    from lumiere_eval.extractors.clipsim import _import_clip

    tokens = _import_clip().tokenize(list(texts), context_length=CLIP_CONTEXT, truncate=True)
    with steady_math():
        out = clip_model.encode_text(tokens.to(_device(clip_model))).float()
    return F.normalize(out, dim=-1).cpu()


def clip_logit_scale(clip_model: nn.Module) -> float:
    """exp(logit_scale) of a CLIP model (100 for OpenAI's checkpoints): the factor of CLIP's `logits_per_text`."""
    return float(clip_model.logit_scale.detach().float().exp())
