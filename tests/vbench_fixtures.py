"""Shared builders of the VBench conformance tests."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch


def perturbed(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights everywhere, norms and biases included (a zero bias would hide a missing one)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(noise * 0.1 if p.ndim > 1 else noise * 0.02 + (name.endswith("weight") or 0))
    return model.eval()


def save_tiny_semantic_weights(folder: Path) -> dict[str, Path]:
    """A tiny clip-anytorch CLIP at VBench's 224 x 224 input (seed 0) and a tiny random ViCLIP (ours, in
    ViClip-InternVid-10M-FLT.pth's layout), saved in `folder`: weight registry name -> file."""
    from lumiere_eval.extractors.vbench.viclip import ViClip

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clip imports the deprecated pkg_resources
        from clip.model import CLIP
    torch.manual_seed(0)
    clip_model = CLIP(embed_dim=32, image_resolution=224, vision_layers=1, vision_width=64, vision_patch_size=32,
                      context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1,
                      transformer_layers=1)
    torch.save(clip_model.state_dict(), folder / "ViT-B-32.pt")
    viclip = perturbed(ViClip(vision_width=64, vision_layers=2, vision_heads=1, patch_size=56, embed_dim=32,
                              text_width=64, text_layers=1, text_heads=1), 1)
    torch.save({"model": viclip.state_dict()}, folder / "ViClip-InternVid-10M-FLT.pth")
    return {"clip_vit_b32": folder / "ViT-B-32.pt", "viclip_internvid_10m_flt": folder / "ViClip-InternVid-10M-FLT.pth"}
