"""Shared builders of the VBench conformance tests."""
from __future__ import annotations

import torch


def perturbed(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights everywhere, norms and biases included (a zero bias would hide a missing one)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(noise * 0.1 if p.ndim > 1 else noise * 0.02 + (name.endswith("weight") or 0))
    return model.eval()
