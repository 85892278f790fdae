"""Stylized generation on an inflated diffusers U-Net (Lumiere, section 4):

    W = alpha * W_style + (1 - alpha) * W_orig

for every weight of the frozen T2I U-Net, with W_style from a U-Net fine-tuned from the same base (e.g. a
DreamBooth/LoRA-merged style model in the same layout). The temporal layers stay as trained and the text
encoder is not touched (it is not part of the interpolation in the paper).
"""
from __future__ import annotations

import torch
from torch import nn

from lumiere_eval.models.lumiere.style import StyleMismatchError, check_alpha
from lumiere_eval.models.lumiere_sd.inflate import SpaceTimeUNet


def stylize_unet(model: SpaceTimeUNet, style_unet: nn.Module, alpha: float) -> SpaceTimeUNet:
    """Interpolate `model.unet`'s weights towards `style_unet`'s in place; returns `model`.

    A widened first convolution interpolates only the channels the style U-Net has (the new ones stay).
    """
    alpha = check_alpha(alpha)
    style = style_unet.state_dict()
    ours = model.unet.state_dict()
    differ = sorted(k for k in set(ours) ^ set(style))
    if differ:
        raise StyleMismatchError(f"the style U-Net's layers differ from the base U-Net's: {', '.join(differ[:5])}")
    with torch.no_grad():
        for name, weight in ours.items():
            other = style[name].to(weight.dtype)
            if other.shape != weight.shape:
                if name != "conv_in.weight" or other.shape[1] > weight.shape[1]:
                    raise StyleMismatchError(f"{name}: style shape {tuple(other.shape)} against {tuple(weight.shape)}")
                weight = weight[:, :other.shape[1]]
            weight.mul_(1.0 - alpha).add_(alpha * other)
    return model
