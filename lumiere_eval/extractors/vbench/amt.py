"""AMT-S (Li et al., "AMT: All-Pairs Multi-Field Transforms for Efficient Frame Interpolation", CVPR 2023), the
network of VBench's motion smoothness, in the layout of MCG-NKU/AMT's released `amt-s.pth` (the network's state
dict under the file's 'state_dict' key, 213 tensors, 2,990,543 parameters; vbench 0.1.5 builds it from
`third_party/amt/cfgs/AMT-S.yaml`: correlation radius 3, 4 correlation levels, 3 flows).

Facts of that network (vbench 0.1.5 `third_party/amt/networks/AMT-S.py` and its `blocks/`):
- both frames (float 0..1) lose their joint mean (one number per sample over channels and both frames' pixels);
- a correlation encoder (RAFT's small bottleneck encoder: 7x7 stride-2 conv, instance norms without parameters,
  three stages of two bottleneck blocks of 32, 64, 96 channels, a 1x1 conv to 84) gives 1/8-scale features of
  both frames at once; their all-pairs correlation (dot product / sqrt(84)) is pooled into 4 levels, both ways;
- a 4-level context pyramid (channels 20, 32, 44, 56; each level a stride-2 and a stride-1 3x3 conv with PReLU)
  of each frame feeds three coarse-to-fine decoders (1/16 -> 1/8 -> 1/4 -> 1/2) that predict the two flows from
  the intermediate time and an intermediate feature; after each, a residual update block looks the correlation
  up at 7x7 windows around the flows rescaled to 0->1 and 1->0 (x 1/t and x 1/(1 - t)) at 1/8 scale;
- the last decoder predicts 3 flow pairs, blend masks and residual images at full size; the 3 warped blends are
  averaged and a 2-layer combination conv adds its correction; the result is clamped to [0, 1].
- warping: bilinear `grid_sample` on a `linspace(-1, 1)` grid, border padding, align_corners=True; correlation
  lookup: bilinear with zero padding on pixel coordinates normalised by (side - 1); window offsets ordered with the
  x offset slowest (RAFT's convention).

Axis legend: b batch, c channels, h w height width (at the scale named), n flows.
"""
from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from lumiere_eval.extractors.base import ExtractorInputError
from lumiere_eval.extractors.vit import check_layout
from lumiere_eval.extractors.weight_files import WeightsError, load_state_dict

AMT_S = {"radius": 3, "levels": 4, "num_flows": 3}  # cfgs/AMT-S.yaml
CHANNELS, SKIP = (20, 32, 44, 56), 20
CORR_DIM, HIDDEN, FLOW_DIM, MOTION_DIM, FC_DIM = 84, 76, 20, 64, 68
NUM_KEYS = 213
MULTIPLE = 16  # VBench pads every frame to a multiple of 16 (`InputPadder(shape, 16)` at scale 1)
MIN_PADDED_SIDE = 128  # the coarsest correlation level (1/64 scale) needs 2 cells per side


def conv_prelu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv then a per-channel PReLU (keys `0.weight`, `0.bias`, `1.weight`)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.PReLU(cout))


def resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Bilinear resize by `factor` (align_corners=False), as AMT does between scales."""
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """`x` sampled at each pixel plus `flow` (pixels), bilinear, border padding."""
    b, _, h, w = flow.shape
    gx = torch.linspace(-1.0, 1.0, w).view(1, 1, w).expand(b, h, w)
    gy = torch.linspace(-1.0, 1.0, h).view(1, h, 1).expand(b, h, w)
    grid = torch.stack((gx, gy), dim=-1).to(x)  # b h w 2
    grid = grid + torch.stack((flow[:, 0] / ((w - 1.0) / 2.0), flow[:, 1] / ((h - 1.0) / 2.0)), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


class Bottleneck(nn.Module):
    """RAFT's bottleneck block with parameter-free instance norms (keys `conv1..3`, `downsample.0` when strided)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout // 4, 1)
        self.conv2 = nn.Conv2d(cout // 4, cout // 4, 3, stride, 1)
        self.conv3 = nn.Conv2d(cout // 4, cout, 1)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride)) if stride != 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for conv in (self.conv1, self.conv2, self.conv3):
            y = F.relu(F.instance_norm(conv(y)))
        skip = x if self.downsample is None else F.instance_norm(self.downsample(x))
        return F.relu(skip + y)


class CorrelationEncoder(nn.Module):
    """1/8-scale features for the correlation volume (`feat_encoder`)."""

    def __init__(self, out_dim: int = CORR_DIM):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 7, 2, 3)
        widths = ((32, 32, 1), (32, 64, 2), (64, 96, 2))
        for i, (cin, cout, stride) in enumerate(widths, 1):
            self.add_module(f"layer{i}", nn.Sequential(Bottleneck(cin, cout, stride), Bottleneck(cout, cout, 1)))
        self.conv2 = nn.Conv2d(96, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.instance_norm(self.conv1(x)))
        return self.conv2(self.layer3(self.layer2(self.layer1(x))))


class SideChannelBlock(nn.Module):
    """IFRNet's residual block whose last `side` channels get extra 3x3 convs (keys `conv1..5`, `prelu`)."""

    def __init__(self, channels: int, side: int):
        super().__init__()
        self.side = side
        self.conv1, self.conv3 = conv_prelu(channels, channels), conv_prelu(channels, channels)
        self.conv2, self.conv4 = conv_prelu(side, side), conv_prelu(side, side)
        self.conv5 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.prelu = nn.PReLU(channels)

    def _side(self, x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
        return torch.cat((x[:, :-self.side], conv(x[:, -self.side:])), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._side(self.conv1(x), self.conv2)
        out = self.conv5(self._side(self.conv3(out), self.conv4))
        return self.prelu(x + out)


class Decoder(nn.Module):
    """One decoder level (`convblock`: conv + PReLU, side-channel block, 4x4 stride-2 transposed conv)."""

    def __init__(self, cin: int, width: int, cout: int):
        super().__init__()
        self.convblock = nn.Sequential(conv_prelu(cin, width), SideChannelBlock(width, SKIP),
                                       nn.ConvTranspose2d(width, cout, 4, 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convblock(x)


class UpdateBlock(nn.Module):
    """AMT's small update block: correlation and flow encoders, then heads for a feature and a flow residual,
    run at 1/8 scale (`scale` > 1: the level's features are shrunk by it and the residuals enlarged back)."""

    def __init__(self, feature_dim: int, scale: int, levels: int, radius: int):
        super().__init__()
        self.scale = scale
        corr_planes = 2 * levels * (2 * radius + 1) ** 2
        self.convc1 = nn.Conv2d(corr_planes, MOTION_DIM, 1)
        self.convf1 = nn.Conv2d(4, 2 * FLOW_DIM, 7, padding=3)
        self.convf2 = nn.Conv2d(2 * FLOW_DIM, FLOW_DIM, 3, padding=1)
        self.conv = nn.Conv2d(MOTION_DIM + FLOW_DIM, FC_DIM, 3, padding=1)

        def head(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, HIDDEN, 3, padding=1), nn.LeakyReLU(0.1),
                                 nn.Conv2d(HIDDEN, cout, 3, padding=1))

        self.gru = head(FC_DIM + 4 + feature_dim, HIDDEN)
        self.feat_head, self.flow_head = head(HIDDEN, feature_dim), head(HIDDEN, 4)

    def forward(self, feature: torch.Tensor, flow: torch.Tensor, corr: torch.Tensor):
        if self.scale != 1:
            feature = resize(feature, 1 / self.scale)
        motion = F.leaky_relu(self.convc1(corr), 0.1)
        flo = F.leaky_relu(self.convf2(F.leaky_relu(self.convf1(flow), 0.1)), 0.1)
        motion = F.leaky_relu(self.conv(torch.cat((motion, flo), dim=1)), 0.1)
        hidden = self.gru(torch.cat((motion, flow, feature), dim=1))
        d_feature, d_flow = self.feat_head(hidden), self.flow_head(hidden)
        if self.scale != 1:
            d_feature, d_flow = resize(d_feature, self.scale), self.scale * resize(d_flow, self.scale)
        return d_feature, d_flow


class BidirectionalCorrelation:
    """All-pairs correlation of two 1/8-scale feature maps, pooled into `levels` levels, looked up from either side."""

    def __init__(self, f0: torch.Tensor, f1: torch.Tensor, levels: int, radius: int):
        b, c, h, w = f0.shape
        corr = torch.matmul(f0.view(b, c, h * w).transpose(1, 2), f1.view(b, c, h * w))
        corr = corr / torch.sqrt(torch.tensor(c).float())  # b (h w of f0) (h w of f1)
        self.radius = radius
        self.pyramids = []
        for volume in (corr, corr.transpose(1, 2)):
            level = volume.reshape(b * h * w, 1, h, w)
            pyramid = [level]
            for _ in range(levels - 1):
                level = F.avg_pool2d(level, 2, stride=2)
                pyramid.append(level)
            self.pyramids.append(pyramid)

    def _lookup(self, pyramid: list, coords: torch.Tensor) -> torch.Tensor:
        b, _, h, w = coords.shape
        d = torch.linspace(-self.radius, self.radius, 2 * self.radius + 1, device=coords.device)
        offsets = torch.stack(torch.meshgrid(d, d, indexing="ij"), dim=-1).view(1, len(d), len(d), 2)  # x slowest
        centres = coords.permute(0, 2, 3, 1).reshape(b * h * w, 1, 1, 2)
        out = []
        for i, volume in enumerate(pyramid):
            points = centres / 2 ** i + offsets
            side_h, side_w = volume.shape[-2:]
            grid = torch.cat((2 * points[..., :1] / (side_w - 1) - 1, 2 * points[..., 1:] / (side_h - 1) - 1), -1)
            out.append(F.grid_sample(volume, grid, align_corners=True).view(b, h, w, -1))
        return torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous().float()

    def __call__(self, coords0: torch.Tensor, coords1: torch.Tensor) -> torch.Tensor:
        """Correlation around `coords0` (pixels of frame 1 seen from frame 0) and `coords1` (the reverse), stacked."""
        return torch.cat((self._lookup(self.pyramids[0], coords0), self._lookup(self.pyramids[1], coords1)), dim=1)


class AmtS(nn.Module):
    """AMT-S; `forward(img0, img1, t)`: float 0..1 frames `b 3 H W` (H, W multiples of 16) -> the frame at time t."""

    def __init__(self, radius: int = 3, levels: int = 4, num_flows: int = 3):
        super().__init__()
        c1, c2, c3, c4 = CHANNELS
        self.num_flows = num_flows
        self.feat_encoder = CorrelationEncoder()
        self.encoder = nn.Module()
        for i, (cin, cout) in enumerate(zip((3, c1, c2, c3), CHANNELS), 1):
            self.encoder.add_module(f"pyramid{i}", nn.Sequential(conv_prelu(cin, cout, 2), conv_prelu(cout, cout)))
        self.decoder4 = Decoder(2 * c4 + 1, 2 * c4, c3 + 4)
        self.decoder3 = Decoder(3 * c3 + 4, 3 * c3, c2 + 4)
        self.decoder2 = Decoder(3 * c2 + 4, 3 * c2, c1 + 4)
        self.decoder1 = Decoder(3 * c1 + 4, 3 * c1, 8 * num_flows)
        self.update4 = UpdateBlock(c3, 1, levels, radius)
        self.update3 = UpdateBlock(c2, 2, levels, radius)
        self.update2 = UpdateBlock(c1, 4, levels, radius)
        self.comb_block = nn.Sequential(nn.Conv2d(3 * num_flows, 6 * num_flows, 3, 1, 1), nn.PReLU(6 * num_flows),
                                        nn.Conv2d(6 * num_flows, 3, 3, 1, 1))
        self.levels, self.radius = levels, radius

    def _pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i in range(1, len(CHANNELS) + 1):
            x = getattr(self.encoder, f"pyramid{i}")(x)
            out.append(x)
        return out

    @staticmethod
    def _upsampled(decoded: torch.Tensor, flow0: torch.Tensor, flow1: torch.Tensor):
        """An intermediate decoder's output -> (flow0, flow1, feature) at its scale, flows as residuals."""
        return (decoded[:, 0:2] + 2.0 * resize(flow0, 2.0), decoded[:, 2:4] + 2.0 * resize(flow1, 2.0),
                decoded[:, 4:])

    def _refine(self, update: UpdateBlock, corr, coords, flow0, flow1, feature, t: float, down: int):
        """One update step: correlation looked up with the flows rescaled to 0->1 and 1->0 at 1/8 scale."""
        small0, small1 = flow0, flow1
        if down != 1:
            small0, small1 = resize(flow0, 1 / down) * (1 / down), resize(flow1, 1 / down) * (1 / down)
        looked = corr(coords + small1 * (1.0 / t), coords + small0 * (1.0 / (1.0 - t)))
        d_feature, d_flow = update(feature, torch.cat((small0, small1), dim=1), looked)
        return flow0 + d_flow[:, 0:2], flow1 + d_flow[:, 2:4], feature + d_feature

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: float = 0.5) -> torch.Tensor:
        mean = torch.cat((img0, img1), dim=2).mean(1, keepdim=True).mean(2, keepdim=True).mean(3, keepdim=True)
        x0, x1 = img0 - mean, img1 - mean
        b, _, h, w = x0.shape
        ys, xs = torch.meshgrid(torch.arange(h // 8, device=x0.device), torch.arange(w // 8, device=x0.device),
                                indexing="ij")
        coords = torch.stack((xs, ys)).float()[None].repeat(b, 1, 1, 1)  # b 2 h/8 w/8, (x, y)
        f0, f1 = self.feat_encoder(torch.cat((x0, x1))).split(b)
        corr = BidirectionalCorrelation(f0, f1, self.levels, self.radius)
        p0, p1 = self._pyramid(x0), self._pyramid(x1)

        time = torch.full((b, 1, *p0[3].shape[-2:]), t, dtype=x0.dtype, device=x0.device)
        out = self.decoder4(torch.cat((p0[3], p1[3], time), dim=1))
        state = self._refine(self.update4, corr, coords, out[:, 0:2], out[:, 2:4], out[:, 4:], t, 1)
        for decoder, update, level, down in ((self.decoder3, self.update3, 2, 2), (self.decoder2, self.update2, 1, 4)):
            flow0, flow1, feature = state
            out = decoder(torch.cat((feature, warp(p0[level], flow0), warp(p1[level], flow1), flow0, flow1), dim=1))
            state = self._refine(update, corr, coords, *self._upsampled(out, flow0, flow1), t, down)

        flow0, flow1, feature = state
        n = self.num_flows
        out = self.decoder1(torch.cat((feature, warp(p0[0], flow0), warp(p1[0], flow1), flow0, flow1), dim=1))
        d0, d1, mask, residual = torch.split(out, [2 * n, 2 * n, n, 3 * n], dim=1)
        flows0 = (d0 + 2.0 * resize(flow0, 2.0).repeat(1, n, 1, 1)).reshape(b * n, 2, h, w)
        flows1 = (d1 + 2.0 * resize(flow1, 2.0).repeat(1, n, 1, 1)).reshape(b * n, 2, h, w)
        mask = torch.sigmoid(mask).reshape(b * n, 1, h, w)
        warped0 = warp(x0.repeat_interleave(n, dim=0), flows0)
        warped1 = warp(x1.repeat_interleave(n, dim=0), flows1)
        blends = (mask * warped0 + (1 - mask) * warped1 + mean.repeat_interleave(n, dim=0)
                  + residual.reshape(b * n, 3, h, w)).reshape(b, n, 3, h, w)
        frame = blends.mean(1) + self.comb_block(blends.view(b, 3 * n, h, w))
        return frame.clamp(0, 1)


def expected_layout(**size) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of an AMT-S checkpoint's state dict (`NUM_KEYS` entries at AMT-S's size)."""
    return {k: tuple(v.shape) for k, v in AmtS(**{**AMT_S, **size}).state_dict().items()}


def amt_state_dict(checkpoint, where: str) -> dict:
    """The network's state dict of an AMT checkpoint (the released files keep it under 'state_dict')."""
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        found = sorted(checkpoint)[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise WeightsError(f"{where}: expected an AMT checkpoint with a 'state_dict' entry, found {found}")
    return checkpoint["state_dict"]


def load_amt(path: str | os.PathLike, device: torch.device | str = "cpu") -> AmtS:
    """AMT-S from `amt-s.pth` (read with weights_only=True; its 'state_dict' loaded strictly), eval mode."""
    state_dict = amt_state_dict(load_state_dict(path), str(path))
    check_layout(state_dict, expected_layout(), "AMT-S checkpoint (amt-s.pth)", str(path))
    model = AmtS(**AMT_S)
    model.load_state_dict(state_dict)
    return model.to(device).eval().requires_grad_(False)


def centred_padding(height: int, width: int, multiple: int = MULTIPLE) -> list[int]:
    """VBench's `InputPadder` amounts to the next multiple, as F.pad's [left, right, top, bottom] (extra pixel at
    the bottom/right)."""
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    return [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2]


def interpolate_pairs(model: AmtS, frames: torch.Tensor) -> torch.Tensor:
    """The midpoint frame (t = 0.5) of each consecutive pair of float 0..255 frames `[K, 3, H, W]`, as uint8
    `[K - 1, H, W, 3]`: frames / 255 padded by replication to multiples of 16, one pair at a time, the output
    unpadded, times 255, truncated to uint8 (VBench's `tensor2img`)."""
    height, width = frames.shape[-2:]
    pad = centred_padding(height, width)
    if min(height + pad[2] + pad[3], width + pad[0] + pad[1]) < MIN_PADDED_SIDE:
        raise ExtractorInputError(f"frames {height}x{width}: AMT-S needs both sides padded to at least "
                                  f"{MIN_PADDED_SIDE} pixels (its coarsest correlation level)")
    device = next(model.parameters()).device
    x = F.pad(frames.to(device) / 255.0, pad, mode="replicate").contiguous()  # NCHW, as VBench's per-frame pad
    out = [model(x[i:i + 1], x[i + 1:i + 2], 0.5)[0, :, pad[2]:pad[2] + height, pad[0]:pad[0] + width]
           for i in range(len(x) - 1)]
    return (torch.stack(out) * 255.0).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu()
