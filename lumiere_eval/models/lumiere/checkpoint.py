"""Weights and the constructor config that rebuilds their model, saved side by side (`x.pt` + `x.json`).

The json holds the class name, its constructor arguments and the SHA-256 of the weights file; loading
rebuilds the class from a fixed list, checks the checksum and loads with `torch.load(weights_only=True)`.
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


class CheckpointError(LumiereEvalError):
    """A missing, corrupt or mismatched checkpoint file."""


def _classes() -> dict[str, type[nn.Module]]:
    from lumiere_eval.models.lumiere.stunet import STUNet
    from lumiere_eval.models.lumiere.unet import UNet
    return {"UNet": UNet, "STUNet": STUNet}


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: nn.Module, path: str | os.PathLike, half: bool = False,
               extra: dict[str, Any] | None = None) -> Path:
    """Write `model`'s weights (fp16 if `half`) to `path` and its config json beside it, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    meta = {"class": type(model).__name__, "config": model.config, "weights": path.name,
            "sha256": sha256_file(path), **(extra or {})}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return path


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The json written beside the weights file `path`."""
    meta_path = Path(path).with_suffix(".json")
    try:
        return json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{meta_path}: config json not found beside the weights") from None
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{meta_path}: not valid json ({err})") from None


def load_model(path: str | os.PathLike, verify: bool = True) -> nn.Module:
    """Rebuild the model saved at `path` (float32, eval mode), checking its SHA-256 first."""
    path = Path(path)
    meta = read_meta(path)
    classes = _classes()
    if meta.get("class") not in classes:
        raise CheckpointError(f"{path}: unknown model class {meta.get('class')!r}; known: {', '.join(classes)}")
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    if verify and sha256_file(path) != meta.get("sha256"):
        raise CheckpointError(f"{path}: SHA-256 does not match {path.with_suffix('.json').name} (corrupt or replaced)")
    model = classes[meta["class"]](**meta["config"])
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (RuntimeError, EOFError, KeyError) as err:
        raise CheckpointError(f"{path}: cannot load weights ({str(err).splitlines()[0]})") from None
    return model.eval()
