"""Generators backed by Hugging Face diffusers pipelines (extra `diffusers`: diffusers, transformers, accelerate).

- `zeroscope` / `modelscope`: `TextToVideoSDPipeline` (UNet3DConditionModel).
- `animatediff`: `AnimateDiffPipeline`: a Stable Diffusion 1.x folder plus `motion_adapter=` (a MotionAdapter
  folder), or a saved AnimateDiff pipeline folder.
- `cogvideox`: `CogVideoXPipeline`. It makes 4k+1 frames (k latent frames); the smallest such count that is
  at least `num_frames` is generated and the first `num_frames` kept.
- `svd`: `StableVideoDiffusionPipeline`, image-to-video. `images=DIR` holds one conditioning image per
  prompt, named `{slugified prompt}-{seed}.png` or `{slugified prompt}.png` (.jpg/.jpeg/.webp too); the
  protocol fps is passed as SVD's fps micro-conditioning.
- `diffusers`: any other pipeline by class name (`pipeline=...`) whose call takes prompt, num_frames,
  height, width, generator and output_type="np".

Weights come from a local folder (`path=`, read with local_files_only) or, only when asked for explicitly,
from a Hub id (`hub_id=`, needs internet). Nothing is loaded before the first `generate`; nothing is ever
downloaded at import or construction. Each video gets its own CPU `torch.Generator` seeded with its seed,
so a video depends on its prompt and seed only, not on the batch it is in or the device.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import sha256_file
from lumiere_eval.models.base import GeneratedVideo, VideoGenerator
from lumiere_eval.models.manifest import slugify

DTYPES = ("float32", "float16", "bfloat16")
OFFLOAD_MODES = ("none", "model", "sequential")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


class DiffusersError(LumiereEvalError):
    """A diffusers model that cannot be used: missing folder, bad option, missing extra, failed load or output."""


def _require_diffusers():
    try:
        import diffusers
    except ImportError as err:
        raise DiffusersError("diffusers models need the 'diffusers' extra: "
                             "pip install 'lumiere-eval[diffusers]' (diffusers, transformers, accelerate)") from err
    return diffusers


def _check_folder(path: Path, what: str) -> Path:
    if not path.exists():
        raise DiffusersError(f"{what} folder {path} does not exist (for a Hub download pass hub_id=... explicitly)")
    if not path.is_dir():
        raise DiffusersError(f"{what} {path} is a file; expected a folder written by save_pretrained")
    return path


def weight_checksums(folder: Path) -> dict[str, str]:
    """sha256 of every weight file under `folder`, by path relative to it."""
    sums = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES):
        sums[str(path.relative_to(folder))] = sha256_file(path, chunk=1 << 22)
    return sums


def to_uint8_videos(frames: Any) -> np.ndarray:
    """Pipeline output (`output_type="np"`: float `[B, T, H, W, 3]` in [0, 1]) -> uint8 `[B, T, H, W, 3]`."""
    array = np.asarray(frames)
    if array.ndim != 5 or array.shape[-1] != 3:
        raise DiffusersError(f"pipeline returned frames of shape {list(array.shape)}, expected [B, T, H, W, 3]")
    if array.dtype == np.uint8:
        return array
    return np.round(np.clip(array.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


class DiffusersGenerator(VideoGenerator):
    """A diffusers video pipeline behind the generator interface.

    Options: `path` (local pipeline folder) or `hub_id` (explicit Hub download); `pipeline` (class name, for
    the generic `diffusers` model only); `dtype` (float32 | float16 | bfloat16); `device` (cpu, cuda, cuda:1,
    mps); `offload` (none | model | sequential CPU offload through accelerate, needs an accelerator device);
    `num_inference_steps`; `guidance_scale` (None: the pipeline's default); `negative_prompt`; `batch_size`
    (videos per pipeline call); `variant` (e.g. fp16 weight files); `revision` (Hub only); `motion_adapter`
    (AnimateDiff: MotionAdapter folder or, with hub_id, a Hub id); `images` (SVD: conditioning images);
    `call_kwargs` (a JSON object of extra pipeline call arguments, e.g. '{"motion_bucket_id": 127}').
    """

    name = "diffusers"
    pipeline_class: str | None = None  # fixed by the named subclasses; the generic one takes `pipeline=`

    def __init__(self, path: str | None = None, hub_id: str | None = None, pipeline: str | None = None,
                 dtype: str = "float32", device: str = "cpu", offload: str = "none", num_inference_steps: int = 25,
                 guidance_scale: float | None = None, negative_prompt: str | None = None, batch_size: int = 1,
                 variant: str | None = None, revision: str | None = None, motion_adapter: str | None = None,
                 images: str | None = None, call_kwargs: str | None = None):
        if (path is None) == (hub_id is None):
            raise DiffusersError(f"model {self.name!r} needs exactly one of path=LOCAL_FOLDER or hub_id=ORG/NAME "
                                 "(a Hub id downloads weights and needs internet)")
        self.path = _check_folder(Path(path).expanduser(), "model") if path is not None else None
        if self.path is not None and not (self.path / "model_index.json").is_file():
            raise DiffusersError(f"model folder {self.path} has no model_index.json: not a diffusers pipeline "
                                 "folder (write one with pipeline.save_pretrained)")
        self.hub_id = hub_id
        if self.pipeline_class is not None and pipeline not in (None, self.pipeline_class):
            raise DiffusersError(f"model {self.name!r} always uses {self.pipeline_class}; for {pipeline} use "
                                 "model 'diffusers' with pipeline=...")
        self.pipeline_name = self.pipeline_class or pipeline
        if self.pipeline_name is None:
            raise DiffusersError("model 'diffusers' needs pipeline=CLASS_NAME (e.g. TextToVideoSDPipeline)")
        if dtype not in DTYPES:
            raise DiffusersError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
        if offload not in OFFLOAD_MODES:
            raise DiffusersError(f"offload {offload!r} is not one of {', '.join(OFFLOAD_MODES)}")
        if offload != "none" and str(device).startswith("cpu"):
            raise DiffusersError(f"offload={offload} moves weights between the CPU and an accelerator; "
                                 "pass device=cuda (or mps), or offload=none on CPU")
        if int(num_inference_steps) < 1 or int(batch_size) < 1:
            raise DiffusersError("num_inference_steps and batch_size must be >= 1")
        if motion_adapter is not None and self.pipeline_name != "AnimateDiffPipeline":
            raise DiffusersError("motion_adapter= is an AnimateDiff option")
        if (images is not None) != (self.pipeline_name == "StableVideoDiffusionPipeline"):
            raise DiffusersError("images= (a folder of conditioning images) is needed by, and only by, svd")
        self.motion_adapter = motion_adapter
        # a motion adapter is a local folder, or a Hub id only where the model itself comes from the Hub
        self.motion_adapter_is_local = motion_adapter is not None and Path(motion_adapter).expanduser().is_dir()
        if motion_adapter is not None and not self.motion_adapter_is_local and hub_id is None:
            _check_folder(Path(motion_adapter).expanduser(), "motion adapter")
        self.images = _check_folder(Path(images).expanduser(), "conditioning image") if images is not None else None
        try:
            self.call_kwargs = json.loads(call_kwargs) if call_kwargs else {}
        except json.JSONDecodeError as err:
            raise DiffusersError(f"call_kwargs is not valid JSON ({err.msg}): {call_kwargs!r}") from None
        if not isinstance(self.call_kwargs, dict):
            raise DiffusersError(f"call_kwargs must be a JSON object, got {call_kwargs!r}")
        self.dtype, self.device, self.offload = dtype, str(device), offload
        self.num_inference_steps, self.batch_size = int(num_inference_steps), int(batch_size)
        self.guidance_scale = None if guidance_scale is None else float(guidance_scale)
        self.negative_prompt, self.variant, self.revision = negative_prompt, variant, revision
        self._pipe = None
        self._checksums: dict[str, dict[str, str]] | None = None

    # ---- loading --------------------------------------------------------------------------------------
    def _source(self) -> tuple[str, dict[str, Any]]:
        """What to pass to from_pretrained: the folder or Hub id, and the matching download options."""
        if self.path is not None:
            return str(self.path), {"local_files_only": True}
        return str(self.hub_id), ({"revision": self.revision} if self.revision else {})

    def load(self):
        """Load the pipeline (once) onto the device, with offload; errors name the folder or Hub id."""
        if self._pipe is not None:
            return self._pipe
        import torch

        diffusers = _require_diffusers()
        cls = getattr(diffusers, self.pipeline_name, None)
        if cls is None or not hasattr(cls, "from_pretrained"):
            raise DiffusersError(f"diffusers {diffusers.__version__} has no pipeline class {self.pipeline_name!r}")
        source, hub = self._source()
        dtype = getattr(torch, self.dtype)
        kwargs: dict[str, Any] = {"torch_dtype": dtype, **hub}
        if self.variant:
            kwargs["variant"] = self.variant
        try:
            if self.motion_adapter_is_local:
                kwargs["motion_adapter"] = diffusers.MotionAdapter.from_pretrained(
                    str(Path(self.motion_adapter).expanduser()), torch_dtype=dtype, local_files_only=True)
            elif self.motion_adapter is not None:
                kwargs["motion_adapter"] = diffusers.MotionAdapter.from_pretrained(self.motion_adapter,
                                                                                   torch_dtype=dtype)
            pipe = cls.from_pretrained(source, **kwargs)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as err:
            raise DiffusersError(f"cannot load {self.pipeline_name} from {source}: "
                                 f"{type(err).__name__}: {err}") from err
        pipe.set_progress_bar_config(disable=True)
        if self.offload == "model":
            pipe.enable_model_cpu_offload(device=self.device)
        elif self.offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)
        self._pipe = pipe
        return pipe

    # ---- generation -----------------------------------------------------------------------------------
    def frames_to_generate(self, num_frames: int) -> int:
        """How many frames to ask the pipeline for to get `num_frames` (more where the model constrains it)."""
        return num_frames

    def call_arguments(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float,
                       height: int, width: int) -> dict[str, Any]:
        """Keyword arguments of one pipeline call for these prompts (one CPU generator per video)."""
        import torch

        args: dict[str, Any] = {
            "prompt": list(prompts), "num_frames": self.frames_to_generate(num_frames), "height": height,
            "width": width, "num_inference_steps": self.num_inference_steps, "output_type": "np",
            "generator": [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]}
        if self.guidance_scale is not None:
            args["guidance_scale"] = self.guidance_scale
        if self.negative_prompt is not None:
            args["negative_prompt"] = [self.negative_prompt] * len(prompts)
        return {**args, **self.call_kwargs}

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float,
                 height: int, width: int) -> list[GeneratedVideo]:
        """Run the pipeline in batches of `batch_size`; each video seeded by its own generator."""
        if len(prompts) != len(seeds):
            raise DiffusersError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        pipe = self.load()
        import torch

        videos: list[GeneratedVideo] = []
        for start in range(0, len(prompts), self.batch_size):
            batch_prompts = list(prompts[start:start + self.batch_size])
            batch_seeds = list(seeds[start:start + self.batch_size])
            args = self.call_arguments(batch_prompts, batch_seeds, num_frames, fps, height, width)
            try:
                with torch.inference_mode():
                    output = pipe(**args)
            except ValueError as err:  # diffusers' own input checks (size not divisible by 8, frame count, ...)
                raise DiffusersError(f"{self.pipeline_name} refused the request: {err}") from err
            frames = to_uint8_videos(output.frames)
            if frames.shape[0] != len(batch_prompts) or frames.shape[1] < num_frames \
                    or frames.shape[2:4] != (height, width):
                raise DiffusersError(f"{self.pipeline_name} returned {list(frames.shape)} for {len(batch_prompts)} "
                                     f"videos of {num_frames}x{height}x{width}; check the model's frame count "
                                     "and that height and width are multiples of its downsampling factor")
            for prompt, seed, video in zip(batch_prompts, batch_seeds, frames):
                videos.append(GeneratedVideo(frames=np.ascontiguousarray(video[:num_frames]), fps=fps, meta={
                    "prompt": prompt, "seed": int(seed), "generated_frames": int(video.shape[0])}))
        return videos

    def describe(self) -> dict[str, Any]:
        """Pipeline, source, options, versions, and sha256 of every local weight file (computed once)."""
        import diffusers

        if self._checksums is None:
            self._checksums = {}
            if self.path is not None:
                self._checksums["model"] = weight_checksums(self.path)
            if self.motion_adapter_is_local:
                self._checksums["motion_adapter"] = weight_checksums(Path(self.motion_adapter).expanduser())
        return {"name": self.name, "pipeline": self.pipeline_name,
                "source": str(self.path.resolve()) if self.path else f"hub:{self.hub_id}",
                "revision": self.revision, "variant": self.variant, "motion_adapter": self.motion_adapter,
                "images": str(self.images) if self.images else None, "dtype": self.dtype, "device": self.device,
                "offload": self.offload, "num_inference_steps": self.num_inference_steps,
                "guidance_scale": self.guidance_scale, "negative_prompt": self.negative_prompt,
                "call_kwargs": self.call_kwargs, "diffusers_version": diffusers.__version__,
                "weights_sha256": self._checksums}


class TextToVideoSDGenerator(DiffusersGenerator):
    """ZeroScope and ModelScope text-to-video (TextToVideoSDPipeline)."""

    name = "text-to-video-sd"
    pipeline_class = "TextToVideoSDPipeline"


class AnimateDiffGenerator(DiffusersGenerator):
    """AnimateDiff: a Stable Diffusion 1.x pipeline with a motion adapter (AnimateDiffPipeline)."""

    name = "animatediff"
    pipeline_class = "AnimateDiffPipeline"


class CogVideoXGenerator(DiffusersGenerator):
    """CogVideoX text-to-video (CogVideoXPipeline); generates 4k+1 frames and keeps the first `num_frames`."""

    name = "cogvideox"
    pipeline_class = "CogVideoXPipeline"

    def frames_to_generate(self, num_frames: int) -> int:
        """The smallest 4k+1 >= num_frames (the VAE compresses time by 4 and keeps the first frame)."""
        return 4 * ((max(num_frames, 1) - 1 + 3) // 4) + 1


class StableVideoDiffusionGenerator(DiffusersGenerator):
    """Stable Video Diffusion image-to-video: each prompt's conditioning image comes from `images=DIR`."""

    name = "svd"
    pipeline_class = "StableVideoDiffusionPipeline"

    def image_for(self, prompt: str, seed: int) -> Path | None:
        """`{slug}-{seed}.<ext>`, else `{slug}.<ext>`, in the images folder; None when neither exists."""
        assert self.images is not None
        slug = slugify(prompt)
        for stem in (f"{slug}-{seed}", slug):
            for suffix in IMAGE_SUFFIXES:
                if (self.images / f"{stem}{suffix}").is_file():
                    return self.images / f"{stem}{suffix}"
        return None

    def call_arguments(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float,
                       height: int, width: int) -> dict[str, Any]:
        """SVD takes images instead of prompts and min/max guidance; a missing image is an error naming all."""
        from PIL import Image

        paths = [self.image_for(p, s) for p, s in zip(prompts, seeds)]
        missing = [f"{slugify(p)}-{s}.png or {slugify(p)}.png"
                   for p, s, path in zip(prompts, seeds, paths) if path is None]
        if missing:
            raise DiffusersError(f"{self.images}: no conditioning image {'; '.join(missing)}")
        args = super().call_arguments(prompts, seeds, num_frames, fps, height, width)
        del args["prompt"]
        args.pop("negative_prompt", None)
        if "guidance_scale" in args:
            args["max_guidance_scale"] = args.pop("guidance_scale")
        images = []
        for path in paths:
            with Image.open(path) as image:
                images.append(image.convert("RGB"))
        return {"image": images, "fps": int(round(fps)), **args}
