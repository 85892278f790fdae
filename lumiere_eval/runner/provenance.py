"""What a result needs to be trusted and reproduced: versions, git commit, machine, timings."""
from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("lumiere-eval", "torch", "torchvision", "numpy", "scipy", "decord", "av", "clip-anytorch",
            "diffusers", "transformers")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that can change a number (None where not installed)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    """The commit of the checkout the package runs from (with `+dirty` when modified), or None."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def machine(device: str) -> dict:
    """Python, platform and the compute device used."""
    import torch

    return {"python": sys.version.split()[0], "platform": platform.platform(), "device": device,
            "cuda": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
            "torch_threads": torch.get_num_threads()}
