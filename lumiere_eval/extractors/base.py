"""The interface every feature extractor follows, and the choices they share (device, batch size, dtype).

An extractor turns a batch of decoded clips, uint8 `[B, T, H, W, 3]`, into one row per clip
(`[B, D]` features, or `[B, C]` class probabilities), or one row per frame for per-frame extractors.
It records which weights (name, SHA-256, verified or not) and which preprocessing protocol it used, so a
number can always be traced to what produced it. Models run in fp32, in eval mode, under inference_mode.

On the CPU the round-off of a convolution depends on torch's intra-op thread count (1 against 2 threads moved
I3D-like features by ~5e-7 here), and other code in the process changes it (generation workers and tests call
torch.set_num_threads(1)). An extractor therefore fixes the thread count it was built with and runs every batch
under it, so its rows never depend on what ran before in the process.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from contextlib import contextmanager

import numpy as np
import torch

from lumiere_eval import LumiereEvalError
from lumiere_eval.extractors.weight_files import ResolvedWeights


class ExtractorInputError(LumiereEvalError):
    """A batch an extractor cannot take (wrong dtype or shape), or an extractor output that is not finite."""


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """`device` if given, else CUDA when present, else CPU. A CUDA device without an index is the rank's own GPU
    under torchrun (`cuda:$LOCAL_RANK`), so 8 ranks on one node use 8 GPUs, not all GPU 0."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_gpu(os.environ, torch.cuda.device_count()))
    return device


def local_gpu(env, gpus: int) -> int:
    """The GPU index of this process: torchrun's LOCAL_RANK modulo the visible GPUs (0 without torchrun)."""
    return int(env.get("LOCAL_RANK", "0") or 0) % max(1, gpus)


def default_batch_size(device: torch.device) -> int:
    """Clips per forward pass: 16 on a GPU, 4 on a CPU (enough to fill the cores, small in memory)."""
    return 16 if device.type == "cuda" else 4


def as_uint8_batch(batch, name: str) -> torch.Tensor:
    """`batch` (numpy or torch) as a CPU uint8 tensor `[B, T, H, W, 3]`, or an error naming the extractor."""
    if isinstance(batch, np.ndarray):
        batch = torch.from_numpy(np.ascontiguousarray(batch))
    if (not isinstance(batch, torch.Tensor) or batch.dtype != torch.uint8 or batch.ndim != 5 or batch.shape[-1] != 3
            or 0 in batch.shape):
        shape = list(getattr(batch, "shape", []))
        raise ExtractorInputError(f"{name}: expected uint8 clips [B, T, H, W, 3], got "
                                  f"{getattr(batch, 'dtype', type(batch).__name__)} {shape}")
    return batch


@contextmanager
def fixed_threads(threads: int):
    """Run the block with torch's intra-op thread count at `threads`, restored afterwards."""
    before = torch.get_num_threads()
    if before != threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class Extractor(ABC):
    """Base class: subclasses set `id`, `protocol`, `output`, `dim`, build `self.model`, define `_forward`."""

    id: str = ""
    weights_name: str = ""  # registered weights (lumiere_eval.extractors.weights.WEIGHTS) it loads
    protocol: str = ""  # preprocessing protocol name (a resize protocol of lumiere_eval.video, or own)
    output: str = "features"  # "features" | "probs"
    per_frame: bool = False  # True: one row per frame instead of one per clip
    dim: int = 0

    def __init__(self, weights: ResolvedWeights, device: str | torch.device | None = None,
                 batch_size: int | None = None):
        self.weights = weights
        self.device = pick_device(device)
        self.batch_size = int(batch_size or default_batch_size(self.device))
        self.threads = torch.get_num_threads()  # intra-op threads of every CPU batch (see the module docstring)
        self.model: torch.nn.Module | None = None

    @abstractmethod
    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        """uint8 `[b, T, H, W, 3]` (CPU) -> float `[b, D]` (or `[b * frames, D]` when per_frame)."""

    def extract(self, batch, batch_size: int | None = None) -> np.ndarray:
        """Rows for a batch of clips: float32 `[B, D]` (per clip) or `[B * frames, D]` (per frame), `batch_size`
        clips per forward pass (default: the extractor's own)."""
        clips = as_uint8_batch(batch, self.id)
        step = int(batch_size or self.batch_size)
        if self.model is not None:
            self.model.eval()  # never leave eval mode, whatever a caller did to the module
        rows = []
        with torch.inference_mode(), fixed_threads(self.threads):
            for start in range(0, clips.shape[0], step):
                rows.append(self._forward(clips[start:start + step]).float().cpu())
        out = torch.cat(rows).numpy()
        if not np.isfinite(out).all():
            raise ExtractorInputError(f"{self.id}: produced {int((~np.isfinite(out)).sum())} NaN or infinite values "
                                      f"(weights {self.weights.path})")
        return out

    def describe(self) -> dict:
        """What produced the features: extractor id, protocol, output kind and the weights' identity."""
        return {"id": self.id, "protocol": self.protocol, "output": self.output, "dim": self.dim,
                "per_frame": self.per_frame, "device": str(self.device), "dtype": "float32",
                "threads": self.threads,
                "weights": self.weights.describe()}
