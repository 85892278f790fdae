"""Weights and the constructor config that rebuilds their model, saved side by side (`x.pt` + `x.json`).

The json holds the class name, its constructor arguments and the SHA-256 of the weights file; loading
rebuilds the class from a fixed list, checks the checksum and loads with `torch.load(weights_only=True)`.

A model derived from another stage (a STUNet around frozen T2I weights, a fine-tuned STUNet) can be saved
against that parent checkpoint: only the tensors that differ from the parent's are written, and the json
names the parent stage and its SHA-256. Loading finds the parent beside the file (`<stage>.pt`, the shipped
layout) or in the run layout (`../<stage>/model.pt`), checks its checksum, and fills in the rest from it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lumiere_eval import LumiereEvalError
from lumiere_eval.files import sha256_file


class CheckpointError(LumiereEvalError):
    """A missing, corrupt or mismatched checkpoint file."""


def checkpoint_folder(folder: str | os.PathLike | None = None) -> Path:
    """`folder`, or the shipped models/lumiere-tiny (looked up through the package) when it is None."""
    if folder is not None:
        return Path(folder)
    from lumiere_eval.assets import asset
    return Path(str(asset("models", "lumiere-tiny")))


def _classes() -> dict[str, type[nn.Module]]:
    from lumiere_eval.models.lumiere.stunet import STUNet
    from lumiere_eval.models.lumiere.unet import UNet
    return {"UNet": UNet, "STUNet": STUNet}


def _parent_state(model: nn.Module, parent: nn.Module) -> tuple[str, dict[str, torch.Tensor]]:
    """(key prefix, parent tensors) as they appear in `model`'s state dict: a U-Net parent is a STUNet's `t2i.`."""
    from lumiere_eval.models.lumiere.stunet import STUNet
    prefix = "t2i." if isinstance(model, STUNet) and not isinstance(parent, STUNet) else ""
    return prefix, {prefix + k: v for k, v in parent.state_dict().items()}


def save_model(model: nn.Module, path: str | os.PathLike, half: bool = False,
               extra: dict[str, Any] | None = None, parent: str | os.PathLike | None = None) -> Path:
    """Write `model`'s weights (fp16 if `half`) to `path` and its config json beside it, atomically.

    With `parent` (a saved checkpoint `model` was derived from), tensors equal to the parent's are left out.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    parent_record = None
    if parent is not None:
        _, inherited = _parent_state(model, load_model(parent))   # verifies the parent's SHA-256
        same = {k for k, v in state.items() if k in inherited and inherited[k].shape == v.shape
                and torch.equal(inherited[k].to(v.dtype), v)}
        if same:
            state = {k: v for k, v in state.items() if k not in same}
            parent_meta = read_meta(parent)
            parent_record = {"stage": parent_meta.get("stage"), "sha256": parent_meta["sha256"],
                             "tensors": len(same)}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    meta = {"class": type(model).__name__, "config": model.config, "weights": path.name,
            "sha256": sha256_file(path), **({"parent": parent_record} if parent_record else {}), **(extra or {})}
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
    """Rebuild the model saved at `path` (float32, eval mode), checking its SHA-256 first (a parent checkpoint
    it was saved against is always checked)."""
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
        if "parent" in meta:
            _, inherited = _parent_state(model, load_model(parent_path(path, meta["parent"])))
            own = model.state_dict().keys()  # built once: state_dict() walks every module
            state = {**{k: v for k, v in inherited.items() if k in own}, **state}
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (RuntimeError, EOFError, KeyError) as err:
        raise CheckpointError(f"{path}: cannot load weights ({str(err).splitlines()[0]})") from None
    return model.eval()


def parent_path(path: Path, record: dict[str, Any]) -> Path:
    """The parent checkpoint named in `path`'s json: `<stage>.pt` beside it, else `../<stage>/model.pt`,
    whichever has the recorded SHA-256 in its own json (loading it then checks its bytes against that)."""
    stage = record.get("stage")
    candidates = [path.parent / f"{stage}.pt", path.parent.parent / str(stage) / "model.pt"]
    for candidate in candidates:
        if (candidate.is_file() and candidate.with_suffix(".json").is_file()
                and read_meta(candidate).get("sha256") == record.get("sha256")):
            return candidate
    raise CheckpointError(f"{path}: its parent checkpoint (stage {stage!r}, SHA-256 {str(record.get('sha256'))[:12]}...) "
                          f"is not at {candidates[0]} or {candidates[1]}, or has another checksum")
