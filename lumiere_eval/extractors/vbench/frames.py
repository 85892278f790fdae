"""VBench 0.1.5's frame preprocessing, operation for operation (read from `vbench/utils.py` and the dimension
modules), on decoded frames.

VBench's `load_video` returns `torch.Tensor(frames)`: **float32** values 0..255 `[T, C, H, W]`, so every resize
below runs on float32 values, unrounded and unclamped (a bicubic overshoot stays), before `/ 255`.
- DINO (`dino_transform(224)`, subject consistency): bilinear resize of the shorter side to 224 (aspect kept, no
  crop, `antialias=False`), / 255, ImageNet mean/std.
- CLIP (`clip_transform(224)`, background consistency, aesthetic quality): bicubic resize of the shorter side to
  224 (`antialias=False`), centre crop 224, / 255, CLIP mean/std.
- MUSIQ (`imaging_quality.transform`, mode 'longer', VBench's default): when the longer side exceeds 512, a
  bilinear resize (`antialias=False`) to `(int(s * H), int(s * W))` with s = 512 / longer side; / 255.
- ViCLIP (overall consistency, temporal style) reads its 8 middle frames with decord as **uint8** and runs
  `clip_transform(224)` on them, so that resize rounds back to uint8 (`viclip_frames`).
- Appearance style feeds PIL images through `clip_transform_Image(224)` (`clip_pil_frames`).
"""
from __future__ import annotations

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

from lumiere_eval.extractors.base import ExtractorInputError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
MUSIQ_LONGER_SIDE = 512
VICLIP_FRAMES = 8  # frames of overall consistency and temporal style (`read_frames_decord_by_fps(num_frames=8)`)


def as_vbench_frames(frames, what: str = "video") -> torch.Tensor:
    """uint8 frames `[T, H, W, 3]` (numpy or torch) -> float32 0..255 `[T, 3, H, W]`, as VBench's `load_video`."""
    array = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8 or array.shape[0] < 1:
        raise ExtractorInputError(f"{what}: expected uint8 frames [T, H, W, 3], got {array.dtype} "
                                  f"{tuple(array.shape)}")
    return torch.from_numpy(np.ascontiguousarray(array)).to(torch.float32).permute(0, 3, 1, 2)


def dino_frames(frames: torch.Tensor, size: int = 224) -> torch.Tensor:
    """VBench's `dino_transform(size)` on float32 0..255 `[T, 3, H, W]` frames."""
    x = TF.resize(frames, size, interpolation=InterpolationMode.BILINEAR, antialias=False)
    return TF.normalize(x / 255.0, IMAGENET_MEAN, IMAGENET_STD)


def clip_frames(frames: torch.Tensor, size: int = 224) -> torch.Tensor:
    """VBench's `clip_transform(size)` on float32 0..255 `[T, 3, H, W]` frames."""
    x = TF.resize(frames, size, interpolation=InterpolationMode.BICUBIC, antialias=False)
    x = TF.center_crop(x, size)
    return TF.normalize(x / 255.0, CLIP_MEAN, CLIP_STD)


def musiq_frames(frames: torch.Tensor, longer_side: int = MUSIQ_LONGER_SIDE) -> torch.Tensor:
    """VBench's imaging-quality preprocessing, mode 'longer', on float32 0..255 `[T, 3, H, W]` frames."""
    h, w = frames.shape[-2:]
    if max(h, w) > longer_side:
        scale = longer_side / max(h, w)
        frames = TF.resize(frames, [int(scale * h), int(scale * w)], interpolation=InterpolationMode.BILINEAR,
                           antialias=False)
    return frames / 255.0


def middle_frame_indices(length: int, count: int = VICLIP_FRAMES) -> list[int]:
    """VBench's `get_frame_indices(count, length, sample='middle')`: `length` split into min(count, length) equal
    integer intervals (`np.linspace(0, length, k + 1).astype(int)`), the middle frame `(start + end) // 2` of each
    (end inclusive), padded with the last index to `count`."""
    if length < 1:
        raise ExtractorInputError("a video of no frames")
    edges = np.linspace(0, length, num=min(count, length) + 1).astype(int)
    picked = [int(start + end - 1) // 2 for start, end in zip(edges[:-1], edges[1:])]
    return picked + [picked[-1]] * (count - len(picked))


def viclip_frames(frames, size: int = 224, count: int = VICLIP_FRAMES) -> torch.Tensor:
    """VBench's overall-consistency / temporal-style input from uint8 frames `[T, H, W, 3]`: the `count` middle
    frames (`middle_frame_indices`), then `clip_transform(size)` on the **uint8** tensor (decord's frames): bicubic
    resize of the shorter side (`antialias=False`, rounded back to uint8 by torchvision), centre crop, / 255,
    CLIP mean/std; float32 `[count, 3, size, size]`."""
    array = as_vbench_frames(frames).to(torch.uint8)
    x = array[middle_frame_indices(len(array), count)]
    x = TF.center_crop(TF.resize(x, size, interpolation=InterpolationMode.BICUBIC, antialias=False), size)
    return TF.normalize(x.float() / 255.0, CLIP_MEAN, CLIP_STD)


def clip_pil_frames(frames, size: int = 224) -> torch.Tensor:
    """VBench's appearance-style input: every frame as a PIL image through `clip_transform_Image(size)` (PIL
    bicubic resize of the shorter side, centre crop, ToTensor, CLIP mean/std); float32 `[T, 3, size, size]`."""
    from PIL import Image

    array = as_vbench_frames(frames).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    out = []
    for frame in array:
        image = TF.center_crop(TF.resize(Image.fromarray(frame), size, interpolation=InterpolationMode.BICUBIC), size)
        out.append(TF.normalize(TF.to_tensor(image), CLIP_MEAN, CLIP_STD))
    return torch.stack(out)
