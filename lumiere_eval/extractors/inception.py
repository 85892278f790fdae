"""pytorch-fid's InceptionV3 (the TF FID network) for per-frame FID, built from a local weight file.

The network is torchvision's Inception-v3 with 1008 classes and pytorch-fid's FID blocks (FIDInceptionA, C,
E_1, E_2), exactly as `pytorch_fid.inception.fid_inception_v3` builds it, but the weights come from the given
file (torch.load weights_only=True) instead of a download. Forward as pytorch-fid's InceptionV3 with its
defaults: bilinear resize to 299 (align_corners=False), scale [0, 1] -> [-1, 1], pool3 features (2048).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lumiere_eval.extractors.base import Extractor
from lumiere_eval.extractors.weight_files import ResolvedWeights, WeightsError, load_state_dict


def build_fid_inception() -> nn.Module:
    """pytorch-fid's FID Inception-v3 architecture with untrained weights (no download)."""
    import torchvision
    from pytorch_fid import inception as fid

    net = torchvision.models.inception_v3(num_classes=1008, aux_logits=False, weights=None, init_weights=False)
    net.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fid.FIDInceptionE_1(1280)
    net.Mixed_7c = fid.FIDInceptionE_2(2048)
    return net


class FIDInceptionFeatures(nn.Module):
    """Images `[N, 3, H, W]` in [0, 1] -> pool3 features `[N, 2048]`."""

    STAGES = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
              "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
              "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        for name in self.STAGES:
            x = getattr(self.net, name)(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class InceptionFrameExtractor(Extractor):
    """Per-frame 2048-d pool3 features of pytorch-fid's InceptionV3 (frame FID: every frame is a sample)."""

    id = "inception-fid"
    weights_name = "pt_inception"
    protocol = "pytorch-fid-bilinear299"
    per_frame = True
    dim = 2048

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None):
        super().__init__(weights, device, batch_size)
        net = build_fid_inception()
        try:
            net.load_state_dict(load_state_dict(weights.path), strict=True)
        except RuntimeError as err:
            raise WeightsError(f"{weights.path}: not pytorch-fid InceptionV3 weights ({err})") from err
        self.model = FIDInceptionFeatures(net).eval().requires_grad_(False).to(self.device)

    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        frames = clips.reshape(-1, *clips.shape[2:]).permute(0, 3, 1, 2).float() / 255
        return torch.cat([self.model(frames[i:i + 8 * self.batch_size].to(self.device))
                          for i in range(0, len(frames), 8 * self.batch_size)])
