"""Named FVD and IS protocols: everything that changes the number is in the name (StyleGAN-V's convention).

Facts from /work/shared/PROTOCOLS.md sections 2-3 (sources named there).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.video import ClipSampling


@dataclass(frozen=True)
class FVDProtocol:
    """How FVD clips are chosen and embedded, and how the covariance is estimated."""

    name: str
    num_samples: int  # clips per side
    real_sampling: ClipSampling
    fake_sampling: ClipSampling
    extractor: str  # extractor registry name
    unbiased_covariance: bool
    source: str


@dataclass(frozen=True)
class ISProtocol:
    """How the video Inception Score is computed from C3D class probabilities."""

    name: str
    num_samples: int
    splits: int
    shuffle_seed: int | None  # np.random.RandomState(seed).shuffle before splitting, as StyleGAN-V
    sampling: ClipSampling
    frame_size: int | None  # frames resized to a square (bicubic) before the detector, or None
    source: str


FVD_PROTOCOLS: dict[str, FVDProtocol] = {p.name: p for p in (
    FVDProtocol("fvd2048_16f", 2048, ClipSampling("random", 16), ClipSampling("first", 16), "i3d-torchscript",
                False, "StyleGAN-V: real = 16 consecutive frames at a random offset, fake = first 16, biased cov"),
    FVDProtocol("fvd2048_128f", 2048, ClipSampling("random", 128), ClipSampling("first", 128), "i3d-torchscript",
                False, "StyleGAN-V: as fvd2048_16f with 128 frames"),
    FVDProtocol("fvd2048_16f_videogpt", 2048, ClipSampling("random", 16), ClipSampling("first", 16), "i3d-native",
                True, "VideoGPT/TATS I3D (i3d_pretrained_400.pt), short side 224 + centre crop, unbiased cov"),
)}

IS_PROTOCOLS: dict[str, ISProtocol] = {p.name: p for p in (
    ISProtocol("isv2048_ucf", 2048, 10, 42, ClipSampling("first", 16), None,
               "StyleGAN-V video_inception_score.py: first 16 frames, RandomState(42) shuffle, 10 splits"),
    ISProtocol("is10k_tgan_ucf", 10000, 1, None, ClipSampling("first", 16), 128,
               "TGAN calc_inception.py: frames resized to 128x128 (cubic), about 10k videos, one split; the "
               "crop to 112 and mean subtraction are left to the C3D TorchScript (NOT CONFIRMED that it does "
               "exactly TGAN's)"),
)}


def get_fvd_protocol(name: str) -> FVDProtocol:
    """The FVD protocol called `name`."""
    try:
        return FVD_PROTOCOLS[name]
    except KeyError:
        raise LumiereEvalError(f"unknown FVD protocol {name!r}; known: {', '.join(FVD_PROTOCOLS)}") from None


def get_is_protocol(name: str) -> ISProtocol:
    """The IS protocol called `name`."""
    try:
        return IS_PROTOCOLS[name]
    except KeyError:
        raise LumiereEvalError(f"unknown IS protocol {name!r}; known: {', '.join(IS_PROTOCOLS)}") from None


def protocol_inception_score(protocol: ISProtocol, probs: np.ndarray) -> tuple[float, float]:
    """Mean and std of the IS over the protocol's splits (StyleGAN-V's shuffle: RandomState(seed))."""
    from lumiere_eval.metrics import inception_score

    probs = np.asarray(probs, dtype=np.float64)
    return inception_score(probs, splits=min(protocol.splits, len(probs)), shuffle_seed=protocol.shuffle_seed)
