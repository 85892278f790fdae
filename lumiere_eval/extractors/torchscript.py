"""StyleGAN-V's TorchScript detectors: I3D for FVD (`i3d_torchscript.pt`) and C3D for the UCF101 IS
(`c3d_ucf101.pt`).

Call convention (universome/stylegan-v src/metrics/metric_utils.py): `detector(x, **kwargs)` with x of shape
`[B, 3, T, H, W]` holding uint8 values 0..255; `forward(x, rescale=False, resize=False, return_features=False)`.
FVD calls it with all three flags True (the detector scales to [-1, 1] and resizes to 224 itself, so the input
must NOT be rescaled beforehand); the IS calls it without flags and gets class probabilities. We pass float32
tensors holding the uint8 values.

A scripted module run by the profiling executor profiles its first calls and then runs an optimised graph (on a
GPU with fused elementwise kernels, whose round-off differs from the unfused ones), so its outputs could depend
on how many calls it had made. The detectors run with graph optimisation off (`torch.jit.optimized_execution(
False)`, thread-local): every call runs the same kernels, the first as the thousandth. On this CPU build (no CPU
fuser) the two settings gave identical rows over repeated calls; the fixed setting is what makes it so on a GPU.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from lumiere_eval.extractors.base import Extractor, ExtractorInputError
from lumiere_eval.extractors.weights import ResolvedWeights, WeightsError

SIGNATURE = ("x", "rescale", "resize", "return_features")


def load_detector(weights: ResolvedWeights, device: torch.device) -> torch.jit.ScriptModule:
    """torch.jit.load a StyleGAN-V detector and check it has the StyleGAN-V forward signature."""
    try:
        detector = torch.jit.load(str(weights.path), map_location=device)
    except Exception as err:  # TorchScript raises RuntimeError and friends for any unreadable archive
        raise WeightsError(f"{weights.path}: cannot be loaded as TorchScript ({err})") from err
    names = tuple(arg.name for arg in detector.forward.schema.arguments[1:])
    if names[:4] != SIGNATURE:
        raise WeightsError(f"{weights.path}: forward{names} is not the StyleGAN-V detector signature "
                           f"forward{SIGNATURE}")
    return detector.eval()


def uint8_valued(clips: torch.Tensor) -> torch.Tensor:
    """uint8 `[B, T, H, W, 3]` -> float32 `[B, 3, T, H, W]` holding the same 0..255 values ("none-uint8")."""
    from lumiere_eval.video import get_resize_protocol

    return get_resize_protocol("none-uint8").apply(clips)


class I3DTorchScriptExtractor(Extractor):
    """FVD features (400-d pre-softmax logits) from StyleGAN-V's i3d_torchscript.pt."""

    id = "i3d-torchscript"
    weights_name = "i3d_torchscript"
    protocol = "none-uint8"  # uint8 values in; the detector rescales and resizes to 224 itself (flags True)
    dim = 400

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None):
        super().__init__(weights, device, batch_size)
        self.model = load_detector(weights, self.device)

    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = uint8_valued(clips).to(self.device)
        with torch.jit.optimized_execution(False):
            return self.model(x, rescale=True, resize=True, return_features=True)


class C3DTorchScriptExtractor(Extractor):
    """UCF101 class probabilities (101) from StyleGAN-V's c3d_ucf101.pt, for the Inception Score.

    `frame_size` resizes every frame to a square first (bicubic, as TGAN's 128x128 resize); None feeds the
    frames as they are (StyleGAN-V isv2048_ucf).
    """

    id = "c3d-ucf101"
    weights_name = "c3d_ucf101"
    output = "probs"
    dim = 101

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None, frame_size: int | None = None):
        super().__init__(weights, device, batch_size)
        self.frame_size = frame_size
        self.protocol = "none-uint8" if frame_size is None else f"bicubic{frame_size}-uint8"
        self.model = load_detector(weights, self.device)

    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = uint8_valued(clips)
        if self.frame_size is not None:
            b, c, t, h, w = x.shape
            frames = x.transpose(1, 2).reshape(b * t, c, h, w)
            frames = F.interpolate(frames, size=(self.frame_size, self.frame_size), mode="bicubic",
                                   align_corners=False).round().clamp(0, 255)
            x = frames.reshape(b, t, c, self.frame_size, self.frame_size).transpose(1, 2).contiguous()
        with torch.jit.optimized_execution(False):
            probs = self.model(x.to(self.device))
        sums_to_one = probs.ndim == 2 and torch.allclose(probs.sum(1), torch.ones_like(probs[:, 0]), atol=1e-3)
        if not sums_to_one or (probs < 0).any():
            raise ExtractorInputError(f"{self.id}: {self.weights.path} did not return class probabilities "
                                      f"(shape {list(probs.shape)}, row sums must be 1)")
        return probs
