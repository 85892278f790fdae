"""Stylized generation (Lumiere, section 4): blend a style-fine-tuned T2I U-Net into a trained STUNet.

    W = alpha * W_style + (1 - alpha) * W_orig

for every weight of the STUNet's T2I U-Net (`stunet.t2i`: input/output convolutions, residual and attention
blocks, the time-embedding MLP), which the style fine-tuning started from; the text encoder
(`stunet.t2i.text`) and the temporal modules (`stunet.temporal`) are copied unchanged: the frozen text
encoder is not part of the paper's interpolation, and the temporal layers were trained on its states. The paper
picks alpha per style in [0.5, 1]; any alpha in [0, 1] is accepted here (alpha = 0 is the original model,
alpha = 1 the style U-Net's spatial weights with the original text encoder and temporal layers).

    base = load_model(asset("models", "lumiere-tiny", "stunet.pt"))
    styled = stylize(base, load_style_t2i("sketch"), alpha=0.75)
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from lumiere_eval import LumiereEvalError
from lumiere_eval.models.lumiere.checkpoint import checkpoint_folder, load_model
from lumiere_eval.models.lumiere.stunet import STUNet
from lumiere_eval.models.lumiere.unet import UNet

PAPER_ALPHA_RANGE = (0.5, 1.0)   # the range the paper chooses alpha from; [0, 1] is accepted
STYLE_PREFIX = "t2i-"            # style checkpoints: t2i-<style>.pt (+ .json) beside the other stages
TEXT_ENCODER_PREFIX = "text."    # the U-Net's text encoder: kept as it is


class StyleError(LumiereEvalError):
    """A stylized-generation request that cannot be served."""


class StyleAlphaError(StyleError):
    """An interpolation weight alpha outside [0, 1] (or not a finite number)."""


class StyleMismatchError(StyleError):
    """A style U-Net whose architecture or vocabulary differs from the STUNet's T2I U-Net."""


class UnknownStyleError(StyleError):
    """A style name with no checkpoint in the folder looked in."""


def check_alpha(alpha: float) -> float:
    """`alpha` as a float, or StyleAlphaError unless it is a finite number in [0, 1]."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise StyleAlphaError(f"alpha must be a number in [0, 1], got {alpha!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise StyleAlphaError(f"alpha must be in [0, 1] (the paper uses {PAPER_ALPHA_RANGE[0]}.."
                              f"{PAPER_ALPHA_RANGE[1]}), got {alpha!r}")
    return value


def stylize(stunet: STUNet, style_t2i: UNet, alpha: float) -> STUNet:
    """A new STUNet (eval mode; inputs untouched) whose T2I weights are alpha * style + (1 - alpha) * original
    and whose text encoder and temporal weights are the original ones."""
    alpha = check_alpha(alpha)
    if not isinstance(stunet, STUNet) or not isinstance(style_t2i, UNet):
        raise StyleMismatchError(f"stylize takes a STUNet and a UNet, got {type(stunet).__name__} and "
                                 f"{type(style_t2i).__name__}")
    ours, theirs = stunet.config["t2i"], style_t2i.config
    differ = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    if differ:
        raise StyleMismatchError(f"the style U-Net does not match the STUNet's T2I U-Net: {', '.join(differ)} "
                                 f"differ (a widened/conditional STUNet cannot take a plain style U-Net)")
    model = STUNet(**stunet.config)
    model.load_state_dict(stunet.state_dict())
    style = style_t2i.state_dict()
    with torch.no_grad():
        for name, weight in model.t2i.state_dict().items():   # all float tensors (a U-Net has no int buffers)
            if not name.startswith(TEXT_ENCODER_PREFIX):
                weight.copy_(alpha * style[name].to(weight.dtype) + (1.0 - alpha) * weight)
    return model.eval()


def available_styles(folder: str | os.PathLike | None = None) -> list[str]:
    """Names of the style checkpoints (`t2i-<name>.pt`) in `folder` (default: the shipped models/lumiere-tiny),
    sorted."""
    return sorted(p.stem[len(STYLE_PREFIX):] for p in checkpoint_folder(folder).glob(f"{STYLE_PREFIX}*.pt"))


def style_checkpoint(name: str, folder: str | os.PathLike | None = None) -> Path:
    """Path of the style U-Net `t2i-<name>.pt` in `folder` (default: the shipped one); UnknownStyleError
    listing the styles there."""
    path = checkpoint_folder(folder) / f"{STYLE_PREFIX}{name}.pt"
    if not isinstance(name, str) or not name or "/" in name or not path.is_file():
        known = available_styles(folder)
        raise UnknownStyleError(f"unknown style {name!r}; styles in {path.parent}: "
                                f"{', '.join(known) if known else 'none'}")
    return path


def load_style_t2i(name: str, folder: str | os.PathLike | None = None) -> UNet:
    """The style U-Net `name` from `folder` (default: the shipped one), checksum-verified, float32, eval mode."""
    path = style_checkpoint(name, folder)
    model = load_model(path)
    if not isinstance(model, UNet):
        raise StyleMismatchError(f"{path}: a style checkpoint must hold a UNet, got {type(model).__name__}")
    return model
