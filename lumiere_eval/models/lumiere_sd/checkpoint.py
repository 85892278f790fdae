"""The base T2I model (a diffusers folder or hub id) and the temporal-weights file saved against it.

    temporal.pt    only the new tensors: the temporal modules (+ the widened first convolution if it trains)
    temporal.json  {"format", "plan", "options", "base": {"source", "revision", "sha256": {component: hash}},
                    "sha256" (of temporal.pt), "steps", ...}

The base is identified by the SHA-256 of its weights as tensors (names, dtypes, shapes and bytes, in name
order), so a converted or re-saved copy of the same weights is recognised, and another base is refused.
Loading checks the file's SHA-256 and the base's hashes, then `torch.load(..., weights_only=True)`.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import atomic_path, atomic_write_text, read_json, sha256_file
from lumiere_eval.models.lumiere_sd.inflate import SpaceTimeUNet

FORMAT = "lumiere-sd-temporal/1"
COMPONENTS = ("unet", "vae", "text_encoder")


class TemporalCheckpointError(LumiereEvalError):
    """A missing, corrupt or mismatched temporal-weights file, or a base model that cannot be loaded."""


def load_base(source: str, revision: str | None = None, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """{"unet", "vae", "text_encoder", "tokenizer", "scheduler"} of a model in the Stable Diffusion layout:
    a local folder, or a hub id (downloaded by diffusers only when asked for here), in eval mode."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.schedulers import DDIMScheduler, SchedulerMixin
    from transformers import CLIPTextModel, CLIPTokenizer

    local = Path(source).is_dir()
    if not local and Path(source).exists():
        raise TemporalCheckpointError(f"base {source}: not a folder in the Stable Diffusion layout")
    if local and not (Path(source) / "unet").is_dir():
        raise TemporalCheckpointError(f"base {source}: no unet/ subfolder (expected the Stable Diffusion layout: "
                                      f"unet, vae, text_encoder, tokenizer, scheduler)")
    kwargs = {"revision": revision} if revision else {}
    try:
        parts: dict[str, Any] = {
            "unet": UNet2DConditionModel.from_pretrained(source, subfolder="unet", **kwargs),
            "vae": AutoencoderKL.from_pretrained(source, subfolder="vae", **kwargs),
            "text_encoder": CLIPTextModel.from_pretrained(source, subfolder="text_encoder", **kwargs),
            "tokenizer": CLIPTokenizer.from_pretrained(source, subfolder="tokenizer", **kwargs),
        }
        config = DDIMScheduler.load_config(source, subfolder="scheduler", **kwargs)
    except (OSError, ValueError) as err:
        raise TemporalCheckpointError(f"base {source}: cannot load ({str(err).splitlines()[0]})") from None
    import diffusers
    scheduler_class = getattr(diffusers, config.get("_class_name", "DDIMScheduler"), DDIMScheduler)
    if not (isinstance(scheduler_class, type) and issubclass(scheduler_class, SchedulerMixin)):
        scheduler_class = DDIMScheduler
    parts["scheduler"] = scheduler_class.from_config(config)
    for name in COMPONENTS:
        if dtype != torch.float32:
            parts[name].to(dtype)
        parts[name].eval().requires_grad_(False)
    return parts


def tensors_sha256(module: nn.Module) -> str:
    """SHA-256 over a module's state dict: names, dtypes, shapes and raw bytes, in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def base_identity(parts: dict[str, Any], source: str, revision: str | None = None) -> dict[str, Any]:
    """What identifies the base: where it came from and the hashes of its U-Net, VAE and text encoder."""
    return {"source": str(source), "revision": revision,
            "sha256": {name: tensors_sha256(parts[name]) for name in COMPONENTS}}


def widen_conv_in(unet: nn.Module, extra: int) -> nn.Module:
    """`unet` with `extra` more input channels after its own; their weights start at zero (same outputs)."""
    if extra < 1:
        raise TemporalCheckpointError(f"widen by at least one channel, got {extra}")
    old = unet.conv_in
    new = nn.Conv2d(old.in_channels + extra, old.out_channels, old.kernel_size, old.stride, old.padding,
                    dtype=old.weight.dtype, device=old.weight.device)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, :old.in_channels] = old.weight
        new.bias.copy_(old.bias)
    unet.conv_in = new
    unet.register_to_config(in_channels=old.in_channels + extra)
    return unet


def build(unet: nn.Module, plan: list[dict[str, Any]], options: dict[str, Any]) -> SpaceTimeUNet:
    """A SpaceTimeUNet around `unet` from a saved plan and options (widening the input if they say so)."""
    if options.get("cond_channels"):
        widen_conv_in(unet, int(options["cond_channels"]))
    return SpaceTimeUNet(unet, plan, **options)


def save_temporal(model: SpaceTimeUNet, path: str | os.PathLike, base: dict[str, Any],
                  extra: dict[str, Any] | None = None) -> Path:
    """Write the new weights of `model` to `path` and the plan, options and base identity beside it (.json)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu().contiguous() for k, v in model.new_state_dict().items()}, tmp)
    meta = {"format": FORMAT, "weights": path.name, "sha256": sha256_file(path), "plan": model.plan,
            "options": model.options, "base": base,
            **(extra or {})}
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    return path


def read_temporal_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The json beside a temporal-weights file, checked to be of this format."""
    meta_path = Path(path).with_suffix(".json")
    meta = read_json(meta_path, TemporalCheckpointError, f"{meta_path} (beside the temporal weights)")
    if meta.get("format") != FORMAT:
        raise TemporalCheckpointError(f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta


def load_temporal(path: str | os.PathLike, parts: dict[str, Any], check_base: bool = True) -> SpaceTimeUNet:
    """Inflate `parts["unet"]` with the temporal weights at `path`, after checking the file's SHA-256 and that
    `parts` are the base the weights were trained on."""
    path = Path(path)
    meta = read_temporal_meta(path)
    if not path.is_file():
        raise TemporalCheckpointError(f"{path}: temporal weights file not found")
    if sha256_file(path) != meta.get("sha256"):
        raise TemporalCheckpointError(f"{path}: SHA-256 does not match {path.with_suffix('.json').name} "
                                      f"(corrupt or replaced)")
    if check_base:
        expected = meta["base"]["sha256"]
        differ = [name for name in COMPONENTS if tensors_sha256(parts[name]) != expected.get(name)]
        if differ:
            raise TemporalCheckpointError(f"{path}: trained on base {meta['base']['source']} whose "
                                          f"{', '.join(differ)} weights differ from the base given")
    model = build(parts["unet"], meta["plan"], meta["options"])
    state = torch.load(path, map_location="cpu", weights_only=True)
    expected_keys = set(model.new_state_dict())
    if set(state) != expected_keys:
        missing, unknown = sorted(expected_keys - set(state)), sorted(set(state) - expected_keys)
        raise TemporalCheckpointError(f"{path}: tensors do not fit the plan (missing {missing[:3]}, "
                                      f"unexpected {unknown[:3]})")
    model.load_state_dict(state, strict=False)
    return model.eval()
