"""Lumiere's applications on the tiny model (Lumiere, section 4).

- image-to-video, inpainting, outpainting and cinemagraphs: one conditional STUNet (`conditional.pt`, the
  STUNet widened to 7 input channels and fine-tuned on a mix of masks: conditioning.py), given the masked
  conditioning video and its mask;
- video editing: SDEdit with the plain STUNet: the input video noised to t = strength, then denoised under
  the new prompt.
Both then run the same SSR as `lumiere`. Each task is a VideoGenerator bound to its inputs, so `lumiere-eval
generate --task ...` runs it over prompts and seeds like any text-to-video model.
User inputs: images uint8 [H, W, 3], videos uint8 [T, H, W, 3], region masks bool [H, W] with True = the
region to generate (inpaint, outpaint) or to animate (cinemagraph). Internally `keep` = 1 where known.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from lumiere_eval import LumiereEvalError
from lumiere_eval.models.base import GeneratedVideo
from lumiere_eval.models.lumiere.conditioning import condition_input
from lumiere_eval.models.lumiere.generators import CascadeGenerator, sample_videos

TASKS = ("t2v", "i2v", "inpaint", "outpaint", "cinemagraph", "edit")
# Which user inputs each task needs ("mask|border": a mask image or a border width).
TASK_INPUTS = {"i2v": ("image",), "inpaint": ("video", "mask"), "outpaint": ("video", "mask|border"),
               "cinemagraph": ("image", "mask"), "edit": ("video",)}
ASPECT_TOLERANCE = 0.05


class TaskInputError(LumiereEvalError):
    """A task input that is missing, unreadable or of the wrong shape; the message names the file."""


@dataclass
class TaskInputs:
    """What the user gave: an image, a video, a region mask (True = generate / animate), a border width."""

    image: np.ndarray | None = None
    video: np.ndarray | None = None
    mask: np.ndarray | None = None
    border: int = 0
    sources: dict[str, str] | None = None   # input name -> file it came from, for error messages


def load_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as uint8 RGB [H, W, 3]."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise TaskInputError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError) as err:
        raise TaskInputError(f"{path}: not a readable image ({err})") from None


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """A mask image as bool [H, W]: True where the pixel is light (> 127 in grey), the region to fill."""
    grey = load_image(path).astype(np.float32).mean(axis=2)
    mask = grey > 127
    if not mask.any() or mask.all():
        raise TaskInputError(f"{path}: mask is {'all dark' if not mask.any() else 'all light'}; light pixels mark "
                             f"the region to generate or animate, dark ones what to keep")
    return mask


def _check_aspect(name: str, shape: tuple[int, int], height: int, width: int, source: str) -> None:
    if abs((shape[1] / shape[0]) / (width / height) - 1) > ASPECT_TOLERANCE:
        raise TaskInputError(f"{source}: {name} is {shape[1]}x{shape[0]} (width x height), its aspect ratio "
                             f"differs from the output's {width}x{height}; crop it first")


def _frames_tensor(frames: np.ndarray, height: int, width: int) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> float [3, T, height, width] in [-1, 1] (area resize when shrinking)."""
    video = torch.from_numpy(np.array(frames, dtype=np.float32)).permute(0, 3, 1, 2) / 127.5 - 1
    if video.shape[-2:] != (height, width):
        mode = "area" if video.shape[-2] >= height and video.shape[-1] >= width else "bilinear"
        video = F.interpolate(video, size=(height, width), mode=mode,
                              **({} if mode == "area" else {"align_corners": False}))
    return video.transpose(0, 1)


def _mask_tensor(mask: np.ndarray, height: int, width: int) -> torch.Tensor:
    """bool [H, W] (True = generate) -> float keep mask [height, width], nearest resize."""
    keep = torch.from_numpy(~mask).float()[None, None]
    return F.interpolate(keep, size=(height, width), mode="nearest")[0, 0]


def _require(task: str, inputs: TaskInputs) -> None:
    """TaskInputError naming the flag(s) of the first input `task` needs and `inputs` lacks."""
    for need in TASK_INPUTS[task]:
        options = need.split("|")
        if not any(getattr(inputs, o) is not None and (o != "border" or inputs.border > 0) for o in options):
            raise TaskInputError(f"task {task!r} needs --{' or --'.join(options)}")


def _input_video(inputs: TaskInputs, num_frames: int, height: int, width: int) -> torch.Tensor:
    """The user's video as float [3, num_frames, height, width]: long enough and of the output's aspect."""
    source = (inputs.sources or {}).get("video", "video")
    if len(inputs.video) < num_frames:
        raise TaskInputError(f"{source}: {len(inputs.video)} frames, the output needs {num_frames}")
    _check_aspect("the video", inputs.video.shape[1:3], height, width, source)
    return _frames_tensor(inputs.video[:num_frames], height, width)


def _area_resize(video: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Area resize of every frame of [c, t, h, w]."""
    return F.interpolate(video.transpose(0, 1), size=(height, width), mode="area").transpose(0, 1)


def task_condition(task: str, inputs: TaskInputs, num_frames: int, height: int,
                   width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(known video [3, T, H, W] in [-1, 1], keep mask [1, T, H, W]) of `task` at the output size."""
    if task not in TASK_INPUTS or task == "edit":
        raise TaskInputError(f"task {task!r} has no conditioning video; conditional tasks: "
                             f"{', '.join(t for t in TASK_INPUTS if t != 'edit')}")
    src = inputs.sources or {}
    _require(task, inputs)
    keep = torch.zeros(1, num_frames, height, width)
    if task in ("i2v", "cinemagraph"):
        _check_aspect("the image", inputs.image.shape[:2], height, width, src.get("image", "image"))
        image = _frames_tensor(inputs.image[None], height, width)
        known = image.expand(-1, num_frames, -1, -1).clone()
    else:
        known = _input_video(inputs, num_frames, height, width)
    if task == "i2v":
        keep[:, 0] = 1
    elif inputs.mask is not None:
        _check_aspect("the mask", inputs.mask.shape, height, width, src.get("mask", "mask"))
        keep[:] = _mask_tensor(inputs.mask, height, width)
    else:
        if 2 * inputs.border >= min(height, width):
            raise TaskInputError(f"--border {inputs.border} leaves nothing of a {width}x{height} video")
        keep[:, :, inputs.border:height - inputs.border, inputs.border:width - inputs.border] = 1
    return known * keep, keep


def _downsample_condition(known: torch.Tensor, keep: torch.Tensor, height: int,
                          width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Known video and keep mask at the base model's size: area averages; a low-resolution pixel is known
    only if every pixel it covers is."""
    covered = _area_resize(keep, height, width)
    low_keep = (covered > 0.999).float()
    low_known = _area_resize(known, height, width) / covered.clamp_min(1e-6)   # the mean of the known pixels only
    return low_known * low_keep, low_keep


class ConditionalGenerator(CascadeGenerator):
    """Image-to-video, inpainting, outpainting or cinemagraph with the conditional STUNet, then the SSR.

    `known` [3, T, H, W] and `keep` [1, T, H, W] come from `task_condition` at the output size. The two options
    below are off by default, so that the measurements see the model's own output:
    - `replace_known`: known-pixel replacement while sampling, in the base stage and the SSR: at every step
      the x_0 estimate takes the known pixels where they are known, so the model generates the rest around
      them (exact at the SSR's size);
    - `paste`: the known pixels copied into the finished output.
    """

    name = "lumiere-conditional"
    base_name = "conditional.pt"

    def __init__(self, task: str, known: torch.Tensor, keep: torch.Tensor, paste: bool = False,
                 replace_known: bool = False, **options: Any):
        super().__init__(**options)
        self.task, self.known, self.keep, self.paste, self.replace_known = task, known, keep, paste, replace_known
        self.options.update(task=task, paste=paste, replace_known=replace_known)

    def _check_size(self, num_frames: int, height: int, width: int) -> None:
        if tuple(self.known.shape[1:]) != (num_frames, height, width):
            raise TaskInputError(f"the condition was built for {list(self.known.shape[1:])} (frames, height, width), "
                                 f"asked for {[num_frames, height, width]}")

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float, height: int,
                 width: int) -> list[GeneratedVideo]:
        """As CascadeGenerator.generate, for the size the condition was built for."""
        self._check_size(num_frames, height, width)
        videos = super().generate(prompts, seeds, num_frames, fps, height, width)
        if self.paste:
            known = ((self.known + 1) * 127.5).round().byte().permute(1, 2, 3, 0).numpy()
            keep = self.keep[0, :, :, :, None].numpy().astype(bool)
            for video in videos:
                video.frames = np.where(keep, known, video.frames)
        return videos

    def _condition_at(self, height: int, width: int, frames: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(known [batch, 3, frames, height, width], keep [batch, 1, ...]): downsampled, and padded with unknown
        frames beyond the condition (rounded up to the STUNet's frame multiple)."""
        known, keep = _downsample_condition(self.known, self.keep, height, width)
        pad = frames - known.shape[1]
        if pad:
            known, keep = (F.pad(v, (0, 0, 0, 0, 0, pad)) for v in (known, keep))
        return known[None].expand(batch, -1, -1, -1, -1), keep[None].expand(batch, -1, -1, -1, -1)

    def base_video(self, prompts: list[str], seeds: list[int], frames: int) -> torch.Tensor:
        """Sample the conditional STUNet on the known video and mask, downsampled to its size."""
        o = self.options
        low_hw = self.resolution("base")
        known, keep = self._condition_at(*low_hw, frames, len(prompts))
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        return sample_videos(self.base, prompts, gens, (3, frames, *low_hw), o["steps"], o["guidance"],
                             o["sampler"], cond=condition_input(known, keep),
                             known=(known, keep) if self.replace_known else None)

    def super_resolve(self, low: torch.Tensor, prompts: list[str], seeds: list[int],
                      known: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """The SSR, with known-pixel replacement at its size if `replace_known`."""
        if self.replace_known and known is None:
            known = self._condition_at(*self.resolution("ssr"), low.shape[2], len(prompts))
        return super().super_resolve(low, prompts, seeds, known=known)


class EditGenerator(CascadeGenerator):
    """SDEdit: the input video [3, T, H, W] noised to t = `strength`, denoised by the STUNet under the new
    prompt in round(steps * strength) steps, then the SSR. Strength 1 ignores the input; small keeps it."""

    name = "lumiere-edit"

    def __init__(self, video: torch.Tensor, strength: float = 0.6, **options: Any):
        if not 0 < strength <= 1:
            raise TaskInputError(f"strength must be in (0, 1], got {strength}")
        super().__init__(**options)
        self.video, self.strength = video, strength
        self.options.update(strength=strength)

    def base_video(self, prompts: list[str], seeds: list[int], frames: int) -> torch.Tensor:
        """Noise the downsampled input to `strength` and denoise it under each prompt."""
        o = self.options
        low_hw = self.resolution("base")
        video = self.video[None]
        if video.shape[2] < frames:   # rounded up to the STUNet's frame multiple: hold the last frame
            video = torch.cat([video, video[:, :, -1:].expand(-1, -1, frames - video.shape[2], -1, -1)], dim=2)
        start = _area_resize(video[0], *low_hw)[None].expand(len(prompts), -1, -1, -1, -1)
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        steps = max(1, round(o["steps"] * self.strength))
        return sample_videos(self.base, prompts, gens, (3, frames, *low_hw), steps, o["guidance"], o["sampler"],
                             start=start, strength=self.strength)


def create_task_generator(task: str, inputs: TaskInputs, num_frames: int, height: int, width: int,
                          strength: float = 0.6, paste: bool = False, replace_known: bool = False,
                          **options: Any) -> CascadeGenerator:
    """The generator of `task` bound to `inputs` at the output size (`options` go to the generator)."""
    if task not in TASKS or task == "t2v":
        raise TaskInputError(f"unknown task {task!r}; tasks with inputs: {', '.join(t for t in TASKS if t != 't2v')}")
    if task == "edit":
        _require(task, inputs)
        return EditGenerator(_input_video(inputs, num_frames, height, width), strength=strength, **options)
    known, keep = task_condition(task, inputs, num_frames, height, width)
    return ConditionalGenerator(task, known, keep, paste=paste, replace_known=replace_known, **options)


def read_task_inputs(image: Path | None, video: Path | None, mask: Path | None, border: int) -> TaskInputs:
    """Load the files the user named into TaskInputs (each error names its file)."""
    from lumiere_eval.video import read_video

    sources = {k: str(v) for k, v in (("image", image), ("video", video), ("mask", mask)) if v is not None}
    return TaskInputs(image=load_image(image) if image else None,
                      video=read_video(video)[0] if video else None,
                      mask=load_mask(mask) if mask else None, border=border, sources=sources)
