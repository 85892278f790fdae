"""Resumable, deterministic training of one stage of the tiny Lumiere on the synthetic action domain.

A stage config (json) is one of
- a fresh U-Net (`"model": {...}`: the T2I model, or the SSR model when `data.low_res` is set) trained on
  single frames;
- an inflation (`"inflate": {...}` with `"parent"`, the U-Net stage whose exported model it starts from)
  trained on clips with only the temporal parameters free;
- a fine-tuning (`"finetune": {...}` with a STUNet `"parent"`), e.g. for conditional generation, or
  (`"finetune": {}`) of a U-Net parent with all its weights free, e.g. the T2I model on a visual style.
`"widen": n` adds n zero-initialised input channels to the parent first (conditioning.py); `data.masks`
({kind: weight}) then draws a mask per clip and conditions on the masked clip, `data.frame_stride` takes
every n-th frame (the keyframes of a cascade), `data.style` renders every frame in that visual style
(synthetic.STYLES; captions unchanged).
The batch at step k depends only on (seed, k), so a resumed run continues exactly where it stopped.
Files in the run folder: `state.pt` (weights, EMA, optimizer, losses; saved every `save_every_s` seconds and
at the end) and `model.pt` + `model.json` (the EMA weights in fp16 with their config, what later stages and
the generators load).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lumiere_eval import LumiereEvalError
from lumiere_eval.models.lumiere.checkpoint import load_model, save_model
from lumiere_eval.models.lumiere.conditioning import (
    MASK_KINDS,
    cinemagraph_target,
    condition_input,
    training_mask,
    widen_input,
)
from lumiere_eval.models.lumiere.diffusion import Diffusion
from lumiere_eval.models.lumiere.frames import upsample
from lumiere_eval.models.lumiere.stunet import STUNet
from lumiere_eval.models.lumiere.unet import UNet
from lumiere_eval.datasets.synthetic import STYLES, SyntheticDomain, render

TRAIN_DEFAULTS: dict[str, Any] = dict(steps=1000, batch=16, lr=3e-4, seed=0, cond_drop=0.1, cond_noise=0.05,
                                      save_every_s=180.0, ema=0.999, grad_clip=1.0)


class TrainConfigError(LumiereEvalError):
    """A stage config that is malformed or names a missing parent."""


@dataclass
class StageConfig:
    """A parsed stage config; see the module docstring."""

    stage: str
    data: dict[str, Any]
    train: dict[str, Any]
    diffusion: dict[str, Any]
    model: dict[str, Any] | None = None
    inflate: dict[str, Any] | None = None
    finetune: dict[str, Any] | None = None
    parent: str | None = None
    widen: int = 0

    @classmethod
    def load(cls, path: str | os.PathLike) -> "StageConfig":
        """Read and check a stage config json."""
        try:
            raw = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise TrainConfigError(f"{path}: config not found") from None
        except json.JSONDecodeError as err:
            raise TrainConfigError(f"{path}: not valid json ({err})") from None
        unknown = set(raw) - {"stage", "data", "train", "diffusion", "model", "inflate", "finetune", "parent",
                              "widen", "comment"}
        if unknown:
            raise TrainConfigError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
        if sum(key in raw for key in ("model", "inflate", "finetune")) != 1:
            raise TrainConfigError(f"{path}: give exactly one of 'model' (fresh U-Net), 'inflate' or 'finetune' "
                                   f"(both with 'parent')")
        if "model" not in raw and not raw.get("parent"):
            raise TrainConfigError(f"{path}: 'inflate' and 'finetune' need 'parent', the stage to start from")
        unknown_masks = set(raw.get("data", {}).get("masks", {})) - set(MASK_KINDS)
        if unknown_masks:
            raise TrainConfigError(f"{path}: unknown data.masks kind(s) {', '.join(sorted(unknown_masks))}; "
                                   f"known: {', '.join(MASK_KINDS)}")
        unknown_train = set(raw.get("train", {})) - set(TRAIN_DEFAULTS)
        if unknown_train:
            raise TrainConfigError(f"{path}: unknown train field(s) {', '.join(sorted(unknown_train))}")
        return cls(stage=raw.get("stage", Path(path).stem), data=raw.get("data", {}),
                   train={**TRAIN_DEFAULTS, **raw.get("train", {})}, diffusion=raw.get("diffusion", {}),
                   model=raw.get("model"), inflate=raw.get("inflate"), finetune=raw.get("finetune"),
                   parent=raw.get("parent"), widen=int(raw.get("widen", 0)))


class BatchMaker:
    """Training batches from the domain's train split: frames (`clip_frames` = 1) or clips (every
    `frame_stride`-th frame), with captions, and the condition: the noised low-resolution clip (`low_res`)
    or the masked clip and its mask (`masks`)."""

    def __init__(self, data: dict[str, Any], seed: int, cond_drop: float, cond_noise: float):
        self.height, self.width = int(data.get("height", 16)), int(data.get("width", 16))
        self.num_frames = int(data.get("num_frames", 16))
        self.clip_frames = int(data.get("clip_frames", 1))
        self.stride = int(data.get("frame_stride", 1))
        self.low_res = data.get("low_res")
        masks = data.get("masks", {})
        self.mask_kinds, weights = list(masks), np.asarray(list(masks.values()), np.float64)
        self.mask_weights = weights / weights.sum() if len(weights) else weights
        self.keyframe_stride = int(data.get("keyframe_stride", 5))
        self.style = data.get("style")
        if self.style is not None and self.style not in STYLES:
            raise TrainConfigError(f"data.style: unknown style {self.style!r}; known: {', '.join(STYLES)}")
        if self.stride * (self.clip_frames - 1) >= self.num_frames:
            raise TrainConfigError(f"data: {self.clip_frames} frames at stride {self.stride} do not fit in "
                                   f"{self.num_frames}")
        self.domain = SyntheticDomain(self.height, self.width, self.num_frames)
        self.seed, self.cond_drop, self.cond_noise = seed, cond_drop, cond_noise

    def _noise(self, cond: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Gaussian noise of a per-clip level drawn from [0, cond_noise] (conditioning augmentation)."""
        level = rng.uniform(0, self.cond_noise, size=(cond.shape[0], 1, 1, 1, 1)).astype(np.float32)
        return torch.from_numpy(rng.normal(size=cond.shape).astype(np.float32)) * torch.from_numpy(level)

    def __call__(self, step: int, batch: int) -> tuple[torch.Tensor, list[str], torch.Tensor | None]:
        """(video [b, 3, clip_frames, h, w] in [-1, 1], captions with dropped ones as "", condition or None)."""
        rng = np.random.default_rng([self.seed, step])
        videos, lows, masks, captions = [], [], [], []
        span = self.stride * (self.clip_frames - 1) + 1
        for _ in range(batch):
            spec = self.domain.spec(int(rng.integers(self.domain.split_size("train"))), "train")
            start = int(rng.integers(self.num_frames - span + 1))
            frames = slice(start, start + span, self.stride)
            clip = render(spec, self.height, self.width, self.num_frames, self.style)[frames]
            if self.low_res:
                lows.append(render(spec, self.low_res[0], self.low_res[1], self.num_frames, self.style)[frames])
            if self.mask_kinds:
                kind = self.mask_kinds[int(rng.choice(len(self.mask_kinds), p=self.mask_weights))]
                mask = training_mask(kind, len(clip), self.height, self.width, rng, self.keyframe_stride)
                if kind == "cinemagraph":
                    clip = cinemagraph_target(clip.astype(np.float32), mask).round().astype(np.uint8)
                masks.append(mask)
            videos.append(clip)
            captions.append("" if rng.random() < self.cond_drop else spec.caption)
        video = to_tensor(np.stack(videos))
        cond = None
        if self.low_res:
            cond = upsample(to_tensor(np.stack(lows)), self.height, self.width)
            cond = cond + self._noise(cond, rng)
        elif self.mask_kinds:
            mask = torch.from_numpy(np.stack(masks))[:, None]
            cond = condition_input(video + self._noise(video, rng), mask)
        return video, captions, cond


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 [b, t, h, w, 3] -> float [b, 3, t, h, w] in [-1, 1]."""
    return torch.from_numpy(frames).float().permute(0, 4, 1, 2, 3) / 127.5 - 1


def build_model(config: StageConfig, run_root: Path, vocab: list[str]) -> nn.Module:
    """A fresh U-Net, or the parent stage's exported model (widened if asked) inflated into a STUNet or
    prepared for fine-tuning."""
    if config.model is not None:
        return UNet(vocab=vocab, **config.model)
    parent_path = run_root / config.parent / "model.pt"
    if not parent_path.is_file():
        raise TrainConfigError(f"stage {config.stage!r} starts from {parent_path}, which does not exist yet: "
                               f"train stage {config.parent!r} first")
    parent = load_model(parent_path)
    if config.finetune is not None and isinstance(parent, UNet) and not config.widen:
        if config.finetune:
            raise TrainConfigError(f"stage {config.stage!r}: fine-tuning a U-Net takes no options (all its "
                                   f"weights train), got finetune {config.finetune}")
        return parent
    expected = UNet if config.inflate is not None else STUNet
    if not isinstance(parent, expected):
        raise TrainConfigError(f"{parent_path}: parent of {'an inflation' if expected is UNet else 'a fine-tuning'} "
                               f"must be a {expected.__name__}, got {type(parent).__name__}")
    if config.inflate is not None:
        if config.widen:
            parent = widen_input(parent, config.widen)
        return STUNet.inflate(parent, **config.inflate)
    if config.widen:
        return widen_input(parent, config.widen, **config.finetune)
    model = STUNet(**{**parent.config, **config.finetune})
    model.load_state_dict(parent.state_dict())
    return model


def denoise_call(model: nn.Module, x: torch.Tensor, t: torch.Tensor, tokens: torch.Tensor,
                 cond: torch.Tensor | None) -> torch.Tensor:
    """Call a U-Net on frames (squeezing the time axis) or a STUNet on clips."""
    if isinstance(model, STUNet):
        return model(x, t, tokens, cond)
    return model(x[:, :, 0], t, tokens, None if cond is None else cond[:, :, 0])[:, :, None]


def trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(name, parameter) pairs the optimizer updates."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def train_stage(config: StageConfig, run_root: str | os.PathLike, steps: int | None = None,
                max_minutes: float | None = None, progress: bool = True) -> Path:
    """Train (or resume) stage `config` in `<run_root>/<stage>`; returns the exported `model.pt`."""
    run_root = Path(run_root)
    run_dir = run_root / config.stage
    run_dir.mkdir(parents=True, exist_ok=True)
    tc = config.train
    total = int(steps if steps is not None else tc["steps"])
    vocab = SyntheticDomain().vocabulary()
    with torch.random.fork_rng(devices=[]):   # initial weights depend on the config's seed only
        torch.manual_seed(tc["seed"])
        model = build_model(config, run_root, vocab)
    params = trainable(model)
    optimizer = torch.optim.AdamW([p for _, p in params], lr=tc["lr"], weight_decay=0.0)
    ema = {n: p.detach().clone() for n, p in params}
    step, losses, wall = 0, [], 0.0
    state_path = run_dir / "state.pt"
    if state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        ema = state["ema"]
        step, losses, wall = state["step"], state["losses"], state["wall"]
    diffusion = Diffusion(**config.diffusion)
    batches = BatchMaker(config.data, tc["seed"], tc["cond_drop"], tc["cond_noise"])
    tokenizer = (model.t2i if isinstance(model, STUNet) else model).text.tokenizer
    (run_dir / "config.json").write_text(json.dumps(config.__dict__, indent=1) + "\n")

    def save() -> None:
        tmp = run_dir / "state.pt.tmp"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "ema": ema, "step": step,
                    "losses": losses, "wall": wall}, tmp)
        os.replace(tmp, state_path)
        export(model, ema, run_dir / "model.pt", {"stage": config.stage, "data": config.data, "steps": step,
                                                   "wall_seconds": wall,
                                                   "final_loss": losses[-1][1] if losses else None},
               parent=run_root / config.parent / "model.pt" if config.parent else None)

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total, initial=step, desc=f"train {config.stage}", unit="step", mininterval=20)
    started, last_save = time.monotonic(), time.monotonic()
    wall_at_start = wall
    model.train()
    while step < total:
        video, captions, cond = batches(step, tc["batch"])
        tokens = tokenizer.encode(captions)
        generator = torch.Generator().manual_seed(tc["seed"] * 1_000_003 + step)
        loss = diffusion.loss(lambda x, t: denoise_call(model, x, t, tokens, cond), video, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in params], tc["grad_clip"])
        optimizer.step()
        step += 1
        decay = min(tc["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            for name, p in params:
                ema[name].lerp_(p.detach(), 1 - decay)
        wall = wall_at_start + time.monotonic() - started
        losses.append([step, float(loss.detach()), round(wall, 1)])
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1][1]:.4f}", refresh=False)
        out_of_time = max_minutes is not None and (wall - wall_at_start) > 60 * max_minutes
        if time.monotonic() - last_save > tc["save_every_s"] or step == total or out_of_time:
            save()
            last_save = time.monotonic()
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    if not (run_dir / "model.pt").is_file():
        save()
    return run_dir / "model.pt"


def export(model: nn.Module, ema: dict[str, torch.Tensor], path: Path, extra: dict[str, Any],
           parent: Path | None = None) -> Path:
    """Save `model` with its EMA weights in place of the trained ones, fp16, with config json; only the
    tensors that differ from the `parent` checkpoint's (if any) are written."""
    live = {n: p.detach().clone() for n, p in model.named_parameters() if n in ema}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ema:
                p.copy_(ema[name])
        saved = save_model(model, path, half=True, extra=extra, parent=parent)
        for name, p in model.named_parameters():
            if name in live:
                p.copy_(live[name])
    return saved
