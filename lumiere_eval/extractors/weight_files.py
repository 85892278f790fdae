"""What a weight file is once found: its identity (ResolvedWeights), the error for unusable files, safe loading.

The bottom layer of the extractors: it imports nothing from them, so the weight registry (`weights`), the
extractor base class and the networks can all build on it without import circles.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lumiere_eval import LumiereEvalError


class WeightsError(LumiereEvalError):
    """A weight file that is missing, unknown, or not what it claims to be."""


@dataclass(frozen=True)
class ResolvedWeights:
    """A weight file ready to load, with what is known about it (goes into every result)."""

    name: str
    path: Path
    sha256: str
    verified: bool  # True only when the SHA-256 equals the published one
    status: str  # "sha256 matches published" | "format checked, no published checksum" | "unverified: ..."

    def describe(self) -> dict:
        """JSON-ready summary for result records."""
        return {"name": self.name, "path": str(self.path), "sha256": self.sha256, "verified": self.verified,
                "status": self.status}


def load_state_dict(path: str | os.PathLike) -> dict:
    """torch.load with weights_only=True, on the CPU; a file that is not a tensor dict is a WeightsError.

    weights_only is passed explicitly, so TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 cannot turn it off.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and unpickler errors all mean "not usable weights"
        raise WeightsError(f"{path}: cannot be read as weights with weights_only=True ({err})") from err
