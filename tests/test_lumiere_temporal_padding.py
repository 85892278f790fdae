"""Temporal padding at a clip's ends: with replicate padding a still clip stays still up to its ends."""
from __future__ import annotations

import pytest
import torch

from lumiere_eval.models.lumiere.stunet import STUNet, TemporalConv, TemporalDown, TemporalUp


def _trained_like(module: torch.nn.Module) -> torch.nn.Module:
    """The module with random (non-identity, non-zero) temporal weights, as after training."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    return module


def _still(frames: int, batch: int = 1) -> torch.Tensor:   # (b t) c h w, equal frames
    frame = torch.randn(batch, 1, 8, 4, 4, generator=torch.Generator().manual_seed(1))
    return frame.expand(batch, frames, 8, 4, 4).reshape(batch * frames, 8, 4, 4)


def _frame_spread(x: torch.Tensor, frames: int) -> float:
    """Largest difference between any frame and the first one."""
    video = x.reshape(-1, frames, *x.shape[1:])
    return float((video - video[:, :1]).abs().max())


@pytest.mark.parametrize("cls", [TemporalConv, TemporalDown, TemporalUp])
def test_replicate_padding_keeps_a_still_clip_still_and_zero_padding_does_not(cls):
    spreads = {}
    for mode in ("zeros", "replicate"):
        module = _trained_like(cls(8, padding_mode=mode))
        with torch.no_grad():
            out, frames = module(_still(8), 8)
        spreads[mode] = _frame_spread(out, frames)
    assert spreads["replicate"] < 1e-5 < 1e-2 < spreads["zeros"], spreads


def test_stunet_padding_mode_is_in_its_config_only_when_not_the_default():
    t2i = dict(vocab=["a"], channels=[8, 8], attention_levels=[1], text_dim=8, heads=2)
    assert "padding_mode" not in STUNet(t2i).config     # configs of the shipped checkpoints: zeros
    model = STUNet(t2i, padding_mode="replicate")
    assert model.config["padding_mode"] == "replicate"
    assert {m.padding_mode for m in model.temporal.modules() if isinstance(m, torch.nn.Conv1d)} == {"replicate"}
