"""RAFT optical flow as VBench's dynamic degree runs it, on torchvision's RAFT-large classes.

VBench 0.1.5 builds its own copy of princeton-vl/RAFT (`vbench/third_party/RAFT`, `RAFT(small=False,
mixed_precision=False, alternate_corr=False)`) and loads `raft-things.pth` (keys prefixed 'module.', 179 entries).
torchvision's `raft_large` is the same network under other module names: `torchvision_state_dict` renames the
checkpoint's keys (and drops the 10 `norm3` duplicates of `downsample.1`), and with those weights the two give
the same flow bit for bit on the CPU (tests/test_conformance_vbench.py). torchvision refuses inputs whose sides
are under 128 pixels (its correlation pyramid needs 16 cells at 1/8 scale); VBench's copy would run on them.

Per pair VBench pads both frames to a multiple of 8 (`InputPadder`, mode 'sintel': replicate, split evenly, the
extra pixel at the bottom/right), runs 20 refinement iterations in test mode on float 0..255 frames scaled to
[-1, 1], and keeps the upsampled flow of the padded frame (`flow_up`, padding included).
"""
from __future__ import annotations

import os
import re

import torch
import torch.nn.functional as F

from lumiere_eval.extractors.base import ExtractorInputError
from lumiere_eval.extractors.weight_files import WeightsError, load_state_dict

ITERATIONS = 20  # VBench's `iters=20`
MIN_SIDE = 128  # torchvision's RAFT: feature maps of at least 16 x 16 cells at 1/8 scale
NUM_KEYS_THINGS = 179  # raft-things.pth (RAFT-large with BatchNorm context encoder; norm3 listed twice)

# the checkpoint's module names -> torchvision's, applied in order (princeton-vl core/extractor.py, update.py)
_RENAMES = (
    (r"^fnet\.", "feature_encoder."), (r"^cnet\.", "context_encoder."),
    (r"(_encoder)\.conv1\.", r"\1.convnormrelu.0."), (r"(_encoder)\.norm1\.", r"\1.convnormrelu.1."),
    (r"(_encoder)\.conv2\.", r"\1.conv."),
    (r"(layer\d\.\d)\.conv(\d)\.", r"\1.convnormrelu\2.0."), (r"(layer\d\.\d)\.norm(\d)\.", r"\1.convnormrelu\2.1."),
    (r"^update_block\.encoder\.convc(\d)\.", r"update_block.motion_encoder.convcorr\1.0."),
    (r"^update_block\.encoder\.convf(\d)\.", r"update_block.motion_encoder.convflow\1.0."),
    (r"^update_block\.encoder\.conv\.", "update_block.motion_encoder.conv.0."),
    (r"^update_block\.gru\.conv([zrq])(\d)\.", r"update_block.recurrent_block.convgru\2.conv\1."),
    (r"^update_block\.mask\.0\.", "mask_predictor.convrelu.0."), (r"^update_block\.mask\.2\.", "mask_predictor.conv."),
)


def torchvision_state_dict(state_dict: dict) -> dict:
    """princeton-vl RAFT keys (optionally 'module.'-prefixed, as in raft-things.pth) -> torchvision `raft_large`'s;
    each residual block's `norm3` (the same module as its `downsample.1`) is dropped."""
    out = {}
    for key, value in state_dict.items():
        key = key.removeprefix("module.")
        if ".norm3." in key:
            continue
        for pattern, replacement in _RENAMES:
            key = re.sub(pattern, replacement, key)
        out[key] = value
    return out


def build_raft() -> torch.nn.Module:
    """torchvision's RAFT-large, no weights."""
    from torchvision.models.optical_flow import raft_large

    return raft_large(weights=None, progress=False)


def load_raft(path: str | os.PathLike, device: torch.device | str = "cpu") -> torch.nn.Module:
    """RAFT from VBench's `raft-things.pth` (or any princeton-vl RAFT-large state dict), loaded strictly into
    torchvision's classes with weights_only=True, eval mode."""
    state_dict = load_state_dict(path)
    if not isinstance(state_dict, dict):
        raise WeightsError(f"{path}: expected a RAFT state dict, got {type(state_dict).__name__}")
    model = build_raft()
    converted = torchvision_state_dict(state_dict)
    expected = model.state_dict()
    wrong = sorted(set(expected) ^ set(converted)) or [
        k for k in expected if tuple(expected[k].shape) != tuple(converted[k].shape)]
    if wrong:
        raise WeightsError(f"{path}: not a RAFT-large checkpoint (raft-things.pth layout): {len(wrong)} keys "
                           f"missing, extra or of another shape, first {wrong[0]}")
    model.load_state_dict(converted)
    return model.to(device).eval().requires_grad_(False)


def sintel_padding(height: int, width: int) -> list[int]:
    """VBench's `InputPadder` (mode 'sintel') amounts as F.pad's [left, right, top, bottom]."""
    pad_h, pad_w = (-height) % 8, (-width) % 8
    return [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2]


def pair_flows(model: torch.nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """Flow `[T - 1, 2, H', W']` between consecutive float 0..255 frames `[T, 3, H, W]` (H', W': padded to a
    multiple of 8), as VBench's dynamic degree computes it (module docstring)."""
    height, width = frames.shape[-2:]
    if min(height, width) < MIN_SIDE:
        raise ExtractorInputError(f"frames {height}x{width}: RAFT (torchvision) needs both sides of at least "
                                  f"{MIN_SIDE} pixels")
    device = next(model.parameters()).device
    x = F.pad(frames.to(device), sintel_padding(height, width), mode="replicate")
    x = 2 * (x / 255.0) - 1.0
    return torch.cat([model(x[i:i + 1], x[i + 1:i + 2], num_flow_updates=ITERATIONS)[-1].float().cpu()
                      for i in range(len(x) - 1)])
