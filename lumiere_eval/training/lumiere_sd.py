"""One recipe to train the temporal layers of an inflated diffusers T2I model on a folder of captioned videos.

    lumiere-eval train-sd --config CONFIG.json                                  # CPU or one GPU
    accelerate launch -m lumiere_eval train-sd --config CONFIG.json             # several GPUs / machines

Only the temporal modules train (the T2I U-Net, VAE and text encoder are frozen; their weights are not
copied into any file). `accelerate` brings mixed precision (the frozen weights are cast to fp16/bf16, the
temporal weights stay fp32), several processes and gradient accumulation; the U-Net's own gradient
checkpointing is switched on by `train.gradient_checkpointing`. Every `checkpoint_every` steps the
temporal weights, the optimizer and the step are written to `OUT/state.pt` (SHA-256 in `state.json`); a
rerun resumes there. The batch of step k on process r depends on (seed, k, r) only. `OUT/temporal.pt`
(+ .json: plan, options, base identity) is what the `lumiere-sd` generator loads.

Conditioning (`model.condition`, a list of mask kinds, e.g. ["first-frame", "box"]): the first convolution is
widened for the masked latent video and its mask (zero-initialised new channels) and trains with the
temporal layers; each sample gets a random mask of one of the kinds (models/lumiere/conditioning.py).

Data: `data.folder` holds videos (.mp4 .avi .mkv .webm .gif .mov) each with a caption file of the same
stem (`clip.mp4` + `clip.txt`). A clip of `data.num_frames` frames every `data.frame_stride` is taken at a
random start, centre-cropped to a square, resized to `data.size` pixels and encoded by the VAE.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import atomic_path, atomic_write_text, read_json, sha256_file

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".gif", ".mov")
PRECISIONS = ("no", "fp16", "bf16")
CONDITION_KINDS = ("none", "first-frame", "keyframes", "box", "border")   # conditioning.training_mask kinds
VALIDATION_STEP = 2 ** 40   # the fixed validation batch is drawn as the batch of this (never reached) step


class TrainConfigError(LumiereEvalError):
    """A training config or data folder that cannot be used."""


@dataclass
class SDTrainConfig:
    """The recipe's config (a json file; relative paths are relative to it). See docs/lumiere_sd.md."""

    base: str
    data: dict[str, Any]
    revision: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)

    MODEL_DEFAULTS = {"temporal_resampling": True, "heads": 4, "max_frames": 128, "padding_mode": "replicate",
                      "plan": None, "condition": None}
    DATA_DEFAULTS = {"num_frames": 16, "frame_stride": 1, "size": 64, "caption_dropout": 0.1}
    TRAIN_DEFAULTS = {"steps": 1000, "batch_size": 1, "lr": 1e-4, "weight_decay": 0.0, "seed": 0,
                      "mixed_precision": "no", "gradient_checkpointing": False, "gradient_accumulation": 1,
                      "checkpoint_every": 100, "log_every": 10}

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SDTrainConfig":
        """Read and check a config json; unknown keys and bad values are named."""
        path = Path(path)
        raw = read_json(path, TrainConfigError, f"{path} (training config)")
        unknown = set(raw) - {"base", "revision", "data", "model", "train"}
        if unknown or "base" not in raw or "data" not in raw:
            raise TrainConfigError(f"{path}: needs 'base' and 'data'; unknown keys: {sorted(unknown)}")
        sections = {}
        for name, defaults in (("data", cls.DATA_DEFAULTS), ("model", cls.MODEL_DEFAULTS),
                               ("train", cls.TRAIN_DEFAULTS)):
            given = raw.get(name, {})
            extra = set(given) - set(defaults) - ({"folder"} if name == "data" else set())
            if extra:
                raise TrainConfigError(f"{path}: unknown {name} keys {sorted(extra)}; known: {sorted(defaults)}")
            sections[name] = {**defaults, **given}
        if "folder" not in sections["data"]:
            raise TrainConfigError(f"{path}: data.folder (the videos with captions) is missing")
        here = path.parent
        sections["data"]["folder"] = str(here / sections["data"]["folder"])
        base = raw["base"]
        if (here / base).is_dir():
            base = str(here / base)
        config = cls(base=base, revision=raw.get("revision"), **sections)
        config.check()
        return config

    def check(self) -> None:
        """TrainConfigError naming the first field out of range."""
        d, t = self.data, self.train
        condition = self.model["condition"]
        if condition is not None and (not isinstance(condition, list) or not condition
                                      or set(condition) - set(CONDITION_KINDS)):
            raise TrainConfigError(f"model.condition must be null or a non-empty list of {CONDITION_KINDS}, "
                                   f"got {condition!r}")
        if t["mixed_precision"] not in PRECISIONS:
            raise TrainConfigError(f"train.mixed_precision must be one of {PRECISIONS}, got {t['mixed_precision']!r}")
        for section, key in (("data", "num_frames"), ("data", "frame_stride"), ("data", "size"), ("train", "steps"),
                             ("train", "batch_size"), ("train", "gradient_accumulation"),
                             ("train", "checkpoint_every"), ("train", "log_every")):
            value = getattr(self, section)[key]
            if not isinstance(value, int) or value < 1:
                raise TrainConfigError(f"{section}.{key} must be an integer >= 1, got {value!r}")
        if not 0 <= d["caption_dropout"] <= 1 or not t["lr"] > 0:
            raise TrainConfigError(f"data.caption_dropout must be in [0, 1] and train.lr > 0, got "
                                   f"{d['caption_dropout']}, {t['lr']}")

    def digest(self) -> str:
        """SHA-256 of everything that changes the trained weights (the step count excepted)."""
        import hashlib
        fixed = {**asdict(self), "train": {k: v for k, v in self.train.items() if k not in ("steps", "log_every")}}
        return hashlib.sha256(json.dumps(fixed, sort_keys=True).encode()).hexdigest()


class CaptionedVideos:
    """The videos of a folder with their same-stem .txt captions; `clip(i, rng)` -> uint8 [T, H, W, 3]."""

    def __init__(self, folder: str | os.PathLike, num_frames: int, stride: int):
        folder = Path(folder)
        if not folder.is_dir():
            raise TrainConfigError(f"data.folder {folder}: not a folder")
        self.paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        missing = [p.name for p in self.paths if not p.with_suffix(".txt").is_file()]
        if not self.paths or missing:
            raise TrainConfigError(f"data.folder {folder}: " + (f"no caption file for {', '.join(missing[:5])} "
                                   f"(expected <stem>.txt)" if missing else f"no videos ({', '.join(VIDEO_SUFFIXES)})"))
        self.captions = [p.with_suffix(".txt").read_text().strip() for p in self.paths]
        self.num_frames, self.stride = num_frames, stride
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def clip(self, index: int, rng: np.random.Generator) -> np.ndarray:
        from lumiere_eval.video import read_video
        if index not in self._cache:
            self._cache[index] = read_video(self.paths[index])[0]
        frames = self._cache[index]
        span = (self.num_frames - 1) * self.stride + 1
        if len(frames) < span:
            raise TrainConfigError(f"{self.paths[index]}: {len(frames)} frames, fewer than the {span} a clip spans")
        start = int(rng.integers(0, len(frames) - span + 1))
        return frames[start:start + span:self.stride]


def to_model_video(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> float [3, T, size, size] in [-1, 1]: centre square crop, bilinear resize."""
    h, w = frames.shape[1:3]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    x = torch.from_numpy(np.ascontiguousarray(frames[:, top:top + side, left:left + side])).permute(0, 3, 1, 2)
    x = F.interpolate(x.float() / 127.5 - 1, size=(size, size), mode="bilinear", align_corners=False,
                      antialias=side > size)
    return x.transpose(0, 1)


def training_batch(data: CaptionedVideos, config: SDTrainConfig, step: int, process: int,
                   dropout: bool = True) -> tuple[torch.Tensor, list[str]]:
    """The videos [b, 3, T, S, S] and captions of `step` on process `process` (dropped to "" at random)."""
    rng = np.random.default_rng([config.train["seed"], step, process])
    picks = rng.integers(0, len(data), config.train["batch_size"])
    videos = torch.stack([to_model_video(data.clip(int(i), rng), config.data["size"]) for i in picks])
    drop = config.data["caption_dropout"] if dropout else 0.0
    captions = [("" if rng.random() < drop else data.captions[int(i)]) for i in picks]
    return videos, captions


def _save_state(out: Path, model, optimizer, step: int, config: SDTrainConfig) -> None:
    with atomic_path(out / "state.pt") as tmp:
        torch.save({"temporal": {k: v.detach().cpu() for k, v in model.new_state_dict().items()},
                    "optimizer": optimizer.state_dict(), "step": step}, tmp)
    atomic_write_text(out / "state.json", json.dumps({"sha256": sha256_file(out / "state.pt"), "step": step,
                                                      "config_sha256": config.digest()}, indent=1) + "\n")


def _load_state(out: Path, model, optimizer, config: SDTrainConfig) -> int:
    """The step to resume from (0 without a state), after checking the state's checksum and config."""
    path = out / "state.pt"
    if not path.is_file():
        return 0
    try:
        meta = json.loads((out / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError) as err:
        raise TrainConfigError(f"{out / 'state.json'}: missing or not valid json beside {path.name} "
                               f"({type(err).__name__}); delete {path.name} to restart") from None
    if sha256_file(path) != meta["sha256"]:
        raise TrainConfigError(f"{path}: SHA-256 does not match state.json (corrupt); delete it to restart")
    if meta["config_sha256"] != config.digest():
        raise TrainConfigError(f"{out}: holds a run with another config; use another --out or the same config")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["temporal"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"])


def validation_loss(model, parts: dict[str, Any], latents: torch.Tensor, text: torch.Tensor,
                    cond: torch.Tensor | None = None, seed: int = 1234, autocast=None) -> float:
    """The loss on fixed latents at fixed timesteps and noise (comparable across steps)."""
    from lumiere_eval.models.lumiere_sd.latent import training_target
    scheduler = parts["scheduler"]
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    steps = scheduler.config.num_train_timesteps
    timesteps = torch.linspace(steps * 0.05, steps * 0.95, 4).long()
    with torch.no_grad(), (autocast() if autocast else contextlib.nullcontext()):
        for t in timesteps:
            noise = torch.randn(latents.shape, generator=gen).to(latents)
            tt = t.repeat(latents.shape[0]).to(latents.device)
            noisy = scheduler.add_noise(latents, noise, tt)
            pred = model(noisy if cond is None else torch.cat([noisy, cond], 1), tt, text)
            total += F.mse_loss(pred.float(), training_target(scheduler, latents, noise, tt).float()).item()
    return total / len(timesteps)


def train(config: SDTrainConfig, out: str | os.PathLike, steps: int | None = None,
          max_minutes: float | None = None, log=print) -> Path:
    """Train (or resume) the temporal layers; returns the exported temporal weights `OUT/temporal.pt`."""
    from accelerate import Accelerator
    from diffusers import DDPMScheduler

    from lumiere_eval.models.lumiere.conditioning import training_mask
    from lumiere_eval.models.lumiere_sd.checkpoint import base_identity, load_base, save_temporal, widen_conv_in
    from lumiere_eval.models.lumiere_sd.inflate import inflate
    from lumiere_eval.models.lumiere_sd.latent import (condition_latents, encode_prompts, encode_video,
                                                       training_target)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t, d, m = config.train, config.data, config.model
    total = steps or t["steps"]
    accelerator = Accelerator(mixed_precision=t["mixed_precision"],
                              gradient_accumulation_steps=t["gradient_accumulation"])
    parts = load_base(config.base, config.revision)
    identity = base_identity(parts, config.base, config.revision)
    parts["scheduler"] = DDPMScheduler.from_config(parts["scheduler"].config)   # same schedule, for add_noise
    torch.manual_seed(t["seed"])
    cond_channels = parts["vae"].config.latent_channels + 1 if m["condition"] else 0
    if cond_channels:   # the paper's conditioning: masked latent video + mask, the first convolution trains too
        widen_conv_in(parts["unet"], cond_channels)
    model = inflate(parts["unet"], plan=m["plan"], temporal_resampling=m["temporal_resampling"], heads=m["heads"],
                    max_frames=m["max_frames"], padding_mode=m["padding_mode"], train_input=bool(cond_channels),
                    cond_channels=cond_channels)
    model.check_frames(d["num_frames"])
    if t["gradient_checkpointing"]:
        parts["unet"].enable_gradient_checkpointing()
    frozen_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(t["mixed_precision"], torch.float32)
    for name in ("vae", "text_encoder", "unet"):
        parts[name].to(accelerator.device, **({"dtype": frozen_dtype} if frozen_dtype != torch.float32 else {}))
    model.temporal.to(accelerator.device, dtype=torch.float32)
    parts["unet"].conv_in.to(dtype=torch.float32 if cond_channels else frozen_dtype)
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
    start = _load_state(out, model, optimizer, config)
    wrapped, optimizer = accelerator.prepare(model, optimizer)
    data = CaptionedVideos(d["folder"], d["num_frames"], d["frame_stride"])
    scheduler = parts["scheduler"]

    def latents_and_text(videos: torch.Tensor, captions: list[str], index: int):
        """(latents, text states, conditioning input or None) of a batch; masks drawn from (seed, index)."""
        videos = videos.to(accelerator.device, frozen_dtype)
        with torch.no_grad():
            latents = encode_video(parts["vae"], videos)
            text = encode_prompts(parts["tokenizer"], parts["text_encoder"], captions)
            if not cond_channels:
                return latents, text, None
            rng = np.random.default_rng([t["seed"], index, accelerator.process_index, 2])
            frames, size = videos.shape[2], videos.shape[-1]
            masks = torch.stack([torch.from_numpy(training_mask(str(rng.choice(m["condition"])), frames, size, size,
                                                                rng)) for _ in range(len(videos))])[:, None]
            return latents, text, condition_latents(parts["vae"], videos, masks.to(videos))

    check = latents_and_text(*training_batch(data, config, VALIDATION_STEP, 0, dropout=False), VALIDATION_STEP)
    log_path = out / "log.jsonl"
    if start == 0 and accelerator.is_main_process:
        first = validation_loss(model, parts, *check, autocast=accelerator.autocast)
        log_path.write_text(json.dumps({"step": 0, "validation_loss": first}) + "\n")
    began = time.monotonic()
    step = start
    wrapped.train()
    while step < total:
        for micro in range(t["gradient_accumulation"]):
            index = step * t["gradient_accumulation"] + micro
            latents, text, cond = latents_and_text(*training_batch(data, config, index, accelerator.process_index),
                                                   index)
            seed = np.random.default_rng([t["seed"], step, micro, accelerator.process_index, 1]).integers(2 ** 62)
            gen = torch.Generator().manual_seed(int(seed))
            noise = torch.randn(latents.shape, generator=gen).to(latents)
            timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],), generator=gen)
            timesteps = timesteps.to(latents.device)
            with accelerator.accumulate(wrapped):
                noisy = scheduler.add_noise(latents, noise, timesteps)
                prediction = wrapped(noisy if cond is None else torch.cat([noisy, cond], 1), timesteps, text)
                loss = F.mse_loss(prediction.float(), training_target(scheduler, latents, noise, timesteps).float())
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
        step += 1
        done = step == total or (max_minutes is not None and time.monotonic() - began > 60 * max_minutes)
        if accelerator.is_main_process and (step % t["log_every"] == 0 or done):
            record = {"step": step, "loss": round(loss.item(), 6)}
            if done or step % t["checkpoint_every"] == 0:
                record["validation_loss"] = validation_loss(model, parts, *check, autocast=accelerator.autocast)
            with log_path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            log(json.dumps(record))
        if step % t["checkpoint_every"] == 0 or done:
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                unwrapped = accelerator.unwrap_model(wrapped)
                _save_state(out, unwrapped, optimizer, step, config)
                save_temporal(unwrapped, out / "temporal.pt", identity,
                              extra={"steps": step, "config": asdict(config), "data_size": d["size"],
                                     "num_frames": d["num_frames"]})
        if done:
            break
    return out / "temporal.pt"

