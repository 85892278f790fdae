"""Per-frame outputs of VBench's networks on one video's decoded frames, with VBench's preprocessing
(`frames`): DINO ViT-B/16 features (subject consistency), CLIP ViT-B/32 image features (background consistency),
LAION aesthetic scores on CLIP ViT-L/14 features (aesthetic quality), MUSIQ scores (imaging quality), AMT-S
re-synthesised frames (motion smoothness).

Every network runs in float32 with TF32 off (`steady_math`). VBench itself runs CLIP in float16 on a GPU
(`clip.load` keeps the half-precision weights on CUDA, float32 on the CPU): a named difference, docs/vbench.md.
"""
from __future__ import annotations

import contextlib
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from lumiere_eval.extractors.base import ExtractorInputError
from lumiere_eval.extractors.vbench.frames import as_vbench_frames, clip_frames, dino_frames, musiq_frames
from lumiere_eval.extractors.vit import check_layout
from lumiere_eval.extractors.weight_files import WeightsError, load_state_dict

AESTHETIC_BATCH = 32  # frames per CLIP ViT-L/14 batch (VBench's `batch_size`)
CLIP_L14_WIDTH = 768


@contextlib.contextmanager
def steady_math():
    """TF32 and cuDNN benchmark off, inference mode: the same numbers on every GPU type and run."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = torch.backends.cudnn.benchmark = False
    try:
        with torch.inference_mode():
            yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
         torch.backends.cudnn.benchmark) = saved


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def dino_features(model: nn.Module, frames, batch: int = 16) -> torch.Tensor:
    """L2-normalised DINO features `[T, D]` of uint8 frames `[T, H, W, 3]` (VBench's subject consistency)."""
    x = dino_frames(as_vbench_frames(frames))
    with steady_math():
        out = torch.cat([model(x[i:i + batch].to(_device(model))).float() for i in range(0, len(x), batch)])
    return F.normalize(out, dim=-1, p=2).cpu()


def clip_image_features(clip_model: nn.Module, frames, batch: int = 32) -> torch.Tensor:
    """L2-normalised CLIP image features `[T, D]` of uint8 frames (VBench's background consistency)."""
    x = clip_frames(as_vbench_frames(frames))
    with steady_math():
        out = torch.cat([clip_model.encode_image(x[i:i + batch].to(_device(clip_model))).float()
                         for i in range(0, len(x), batch)])
    return F.normalize(out, dim=-1, p=2).cpu()


def aesthetic_scores(clip_model: nn.Module, head: nn.Linear, frames) -> torch.Tensor:
    """LAION aesthetic score / 10 of each frame `[T]` (VBench's aesthetic quality before the per-video mean)."""
    features = clip_image_features(clip_model, frames, batch=AESTHETIC_BATCH)
    with steady_math():
        return head(features.to(head.weight.device)).squeeze(-1).cpu() / 10


def musiq_scores(model: nn.Module, frames) -> torch.Tensor:
    """MUSIQ score (0..100) of each frame `[T]`, frames fed one at a time after VBench's 'longer' resize."""
    x = musiq_frames(as_vbench_frames(frames))
    with steady_math():
        return torch.tensor([float(model(x[i:i + 1].to(_device(model)))) for i in range(len(x))])


def load_aesthetic_head(path: str | os.PathLike, device: torch.device | str = "cpu",
                        width: int = CLIP_L14_WIDTH) -> nn.Linear:
    """The LAION aesthetic predictor `sa_0_4_vit_l_14_linear.pth`: a state dict of one `nn.Linear(768, 1)`."""
    state_dict = load_state_dict(path)
    if not isinstance(state_dict, dict):
        raise WeightsError(f"{path}: expected the aesthetic predictor's state dict, got {type(state_dict).__name__}")
    check_layout(state_dict, {"weight": (1, width), "bias": (1,)}, "LAION aesthetic predictor (linear head)",
                 str(path))
    head = nn.Linear(width, 1)
    head.load_state_dict(state_dict)
    return head.to(device).eval().requires_grad_(False)


def build_musiq(**size) -> nn.Module:
    """pyiqa's MUSIQ network as VBench builds it (`MUSIQ(pretrained_model_path=...)`: one output, the SPAQ
    head), without weights; `size` overrides its arguments (tests build it small)."""
    try:
        from pyiqa.archs.musiq_arch import MUSIQ
    except ImportError as err:
        raise WeightsError(f"imaging quality needs pyiqa's MUSIQ network (pip install --no-deps pyiqa==0.1.16): "
                           f"{err}") from err
    return MUSIQ(pretrained=False, num_class=1, **size)


def load_musiq(path: str | os.PathLike, device: torch.device | str = "cpu", **size) -> nn.Module:
    """MUSIQ from a pyiqa checkpoint (`musiq_spaq_ckpt-358bb6af.pth`: its state dict, keys optionally
    'module.'-prefixed, loaded strictly as pyiqa does), read with weights_only=True, eval mode."""
    from lumiere_eval.extractors.vit import strip_prefix

    state_dict = load_state_dict(path)
    if not isinstance(state_dict, dict):
        raise WeightsError(f"{path}: expected a MUSIQ state dict, got {type(state_dict).__name__}")
    model = build_musiq(**size)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    check_layout(strip_prefix(state_dict, ("module.",)), expected, "pyiqa MUSIQ checkpoint (one-output head)",
                 str(path))
    model.load_state_dict(strip_prefix(state_dict, ("module.",)))
    return model.to(device).eval().requires_grad_(False)


def raft_flows(model: nn.Module, frames, fps: float) -> tuple[torch.Tensor, tuple[int, int], int]:
    """RAFT flows between the consecutive frames VBench's dynamic degree takes (every max(1, round(fps / 8))-th of
    uint8 `[T, H, W, 3]`): `[T' - 1, 2, H', W']` (padded to a multiple of 8), the frame size before padding, T'."""
    from lumiere_eval.extractors.vbench.raft import pair_flows

    taken = as_vbench_frames(frames)[::max(1, round(fps / 8))]
    with steady_math():
        return pair_flows(model, taken), tuple(taken.shape[-2:]), len(taken)


def raft_static_flows(model: nn.Module, frames) -> tuple[torch.Tensor, tuple[int, int], int]:
    """RAFT flows of the pairs VBench's static filter scores (`cli/static_filter.py`): every consecutive pair of
    all frames of uint8 `[T, H, W, 3]` (T >= 2), then (first, last) and (last, first): `[T + 1, 2, H', W']`
    (padded to a multiple of 8), the frame size before padding, T."""
    from lumiere_eval.extractors.vbench.raft import pair_flows

    x = as_vbench_frames(frames)
    if len(x) < 2:
        raise ExtractorInputError(f"the static filter needs at least 2 frames, got {len(x)}")
    with steady_math():
        flows = torch.cat([pair_flows(model, x), pair_flows(model, x[[0, -1]]), pair_flows(model, x[[-1, 0]])])
    return flows, tuple(x.shape[-2:]), len(x)


def amt_interpolated(model: nn.Module, frames) -> torch.Tensor:
    """VBench's motion-smoothness re-synthesis of uint8 frames `[T, H, W, 3]` (T >= 3, at their own size): frames
    0, 2, 4, ... kept, AMT-S's midpoint of each consecutive two of them, uint8 `[ceil(T / 2) - 1, H, W, 3]` (to be
    compared with frames 1, 3, ...)."""
    from lumiere_eval.extractors.vbench.amt import interpolate_pairs

    kept = as_vbench_frames(frames)[::2]
    if len(kept) < 2:
        raise ExtractorInputError(f"motion smoothness needs at least 3 frames, got {len(frames)}")
    with steady_math():
        return interpolate_pairs(model, kept)
