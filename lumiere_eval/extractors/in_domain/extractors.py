"""The in-domain extractors, interchangeable with the reference ones on the synthetic domain:

- `synthetic-i3d`: penultimate features of the in-domain classifier (FVD; the role of I3D),
- `synthetic-c3d`: its class probabilities (Inception Score; the role of C3D),
- `synthetic-clip`: the video-text model with ClipExtractor's methods (`frame_embeddings`,
  `text_embeddings`), from which the metrics compute CLIPSIM.

Clips of any length and size are brought to the models' 16 frames of 32x32 inside (`to_model_input`).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from lumiere_eval.extractors.base import Extractor
from lumiere_eval.extractors.in_domain.networks import load_checkpoint, protocol_name, to_model_input
from lumiere_eval.extractors.weight_files import ResolvedWeights


class UnknownWordsWarning(UserWarning):
    """Some prompt words are outside the in-domain text model's vocabulary (they were read as `<unk>`)."""


class _ClassifierExtractor(Extractor):
    """Shared part of synthetic-i3d and synthetic-c3d: the classifier on the model input protocol."""

    weights_name = "synthetic_classifier"

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None):
        super().__init__(weights, device, batch_size)
        self.model = load_checkpoint(weights.path, "classifier").to(self.device)
        self.protocol = protocol_name(self.model.num_frames, self.model.size)

    def _features_and_logits(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = to_model_input(clips, self.model.num_frames, self.model.size).to(self.device)
        return self.model.features_and_logits(x)


class SyntheticI3DExtractor(_ClassifierExtractor):
    """FVD features: the classifier's penultimate (pre-activation) embedding."""

    id = "synthetic-i3d"

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None):
        super().__init__(weights, device, batch_size)
        self.dim = int(self.model.config["feature_dim"])

    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self._features_and_logits(clips)[0]


class SyntheticC3DExtractor(_ClassifierExtractor):
    """Class probabilities (softmax of the logits) for the Inception Score.

    `frame_size` first resizes every frame to that square (bicubic, rounded to uint8 values) as the C3D
    extractor does for TGAN's protocol; None feeds frames as they are.
    """

    id = "synthetic-c3d"
    output = "probs"

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None, frame_size: int | None = None):
        super().__init__(weights, device, batch_size)
        self.dim = int(self.model.config["num_classes"])
        self.frame_size = frame_size
        if frame_size is not None:
            self.protocol = f"bicubic{frame_size}-{self.protocol}"

    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        if self.frame_size is not None:
            b, t, h, w, c = clips.shape
            frames = clips.reshape(b * t, h, w, c).permute(0, 3, 1, 2).float()
            frames = F.interpolate(frames, size=(self.frame_size, self.frame_size), mode="bicubic",
                                   align_corners=False).round().clamp(0, 255).to(torch.uint8)
            clips = frames.permute(0, 2, 3, 1).reshape(b, t, self.frame_size, self.frame_size, c)
        return self._features_and_logits(clips)[1].softmax(-1)


class SyntheticClipExtractor(Extractor):
    """In-domain CLIPSIM: unit clip embeddings against unit prompt embeddings of the video-text model.

    The video encoder embeds a whole clip (motion included), so `frame_embeddings` returns one row per clip
    (`[B, 1, D]`); CLIPSIM of that row with a prompt (computed by the metrics) is 100 * cosine, clamped at 0,
    as for CLIP.
    `num_frames` is accepted for ClipExtractor's signature and is not used: the encoder always sees the
    clip resampled to its own frame count.
    """

    id = "synthetic-clip"
    weights_name = "synthetic_video_text"

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None, num_frames: int | None = None):
        super().__init__(weights, device, batch_size)
        self.model = load_checkpoint(weights.path, "video_text").to(self.device)
        self.protocol = "clip-" + protocol_name(self.model.num_frames, self.model.size)
        self.dim = int(self.model.config["dim"])

    def frame_embeddings(self, batch) -> np.ndarray:
        """Unit-normalised clip embeddings as one "frame" per clip: float32 `[B, 1, D]`."""
        return self.extract(batch)[:, None, :]

    def text_embeddings(self, prompts: list[str]) -> np.ndarray:
        """Unit-normalised prompt embeddings `[N, D]`; words outside the vocabulary are read as `<unk>` (warned)."""
        tokenizer = self.model.tokenizer
        unknown = sorted({w for p in prompts for w in tokenizer.unknown_words(p)})
        if unknown:
            warnings.warn(f"{self.id}: {len(unknown)} word(s) outside the synthetic vocabulary read as <unk>: "
                          f"{', '.join(unknown[:10])}", UnknownWordsWarning, stacklevel=2)
        self.model.eval()
        with torch.inference_mode():
            return self.model.encode_text(tokenizer(list(prompts)).to(self.device)).float().cpu().numpy()

    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = to_model_input(clips, self.model.num_frames, self.model.size).to(self.device)
        return self.model.encode_video(x)
