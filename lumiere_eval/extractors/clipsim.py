"""CLIP (clip-anytorch) image and text embeddings for CLIPSIM, from a local weight file.

Frames are sampled uniformly over the clip and preprocessed by CLIP's own transform (PIL bicubic resize of
the short side, centre crop, CLIP mean/std). CLIPSIM of a video = mean over its frames of the similarity of
frame and prompt embeddings, computed by the metrics from the embeddings given here
(lumiere_eval.metrics.values.clipsim_per_sample: 100 * cosine, clamped at 0).
Prompts longer than the context (77 tokens) are truncated, and how many were is reported in a warning.
"""
from __future__ import annotations

import os
import warnings
import zipfile

import numpy as np
import torch

from lumiere_eval.extractors.base import Extractor, as_uint8_batch
from lumiere_eval.extractors.weight_files import ResolvedWeights, WeightsError, load_state_dict


class PromptTruncatedWarning(UserWarning):
    """Some prompts were longer than CLIP's context and were cut."""


def uniform_indices(length: int, count: int) -> np.ndarray:
    """`count` frame indices spread evenly over `length` frames, first and last included."""
    return np.unique(np.linspace(0, length - 1, num=min(count, length)).round().astype(int))


def _import_clip():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # clip imports the deprecated pkg_resources
        import clip
        import clip.model
    return clip


def clip_state_dict(path: str | os.PathLike) -> dict:
    """The tensors of a CLIP checkpoint, read without unpickling Python objects.

    OpenAI's files are TorchScript archives, read with `torch.jit.load` (TorchScript's own loader, which
    rebuilds tensors and TorchScript code, never Python callables); any other file must be a state dict that
    `torch.load(weights_only=True)` accepts. Never clip.load's fallback `torch.load(path)`, whose
    `weights_only` default TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 turns off.
    """
    if zipfile.is_zipfile(path) and any("/code/" in n for n in zipfile.ZipFile(path).namelist()):
        try:
            return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
        except Exception as err:  # a damaged archive
            raise WeightsError(f"{path}: cannot be loaded as a CLIP TorchScript archive ({err})") from err
    return load_state_dict(path)


def load_clip(weights: ResolvedWeights, device: torch.device):
    """A CLIP model built by clip-anytorch's `build_model` from the checkpoint's tensors (`clip_state_dict`),
    fp32, eval mode, on `device`; returns (model, CLIP's PIL preprocess), as `clip.load(path, jit=False)`."""
    clip = _import_clip()
    state_dict = clip_state_dict(weights.path)
    if not isinstance(state_dict, dict):
        raise WeightsError(f"{weights.path}: cannot be loaded as a CLIP checkpoint (not a state dict)")
    try:
        model = clip.model.build_model(state_dict)
    except Exception as err:  # clip raises KeyError/RuntimeError/IndexError for tensors that are not CLIP's
        raise WeightsError(f"{weights.path}: cannot be loaded as a CLIP checkpoint ({type(err).__name__}: "
                           f"{err})") from err
    model = model.to(device).float().eval().requires_grad_(False)
    return model, clip.clip._transform(model.visual.input_resolution)


class ClipExtractor(Extractor):
    """Per-clip mean of unit-normalised CLIP frame embeddings; `frame_embeddings` and `text_embeddings` are what
    CLIPSIM is computed from."""

    id = "clip"
    weights_name = "clip_vit_b32"

    def __init__(self, weights: ResolvedWeights, device=None, batch_size=None, num_frames: int = 8):
        super().__init__(weights, device, batch_size)
        self.num_frames = num_frames
        self.protocol = f"clip-uniform{num_frames}-pil-bicubic"
        self.model, self.preprocess = load_clip(weights, self.device)
        self.context_length = int(self.model.context_length)
        self.dim = int(self.model.text_projection.shape[1])

    def frame_embeddings(self, batch) -> np.ndarray:
        """Unit-normalised embeddings of uniformly sampled frames: float32 `[B, F, D]`."""
        from PIL import Image

        clips = as_uint8_batch(batch, self.id)
        index = uniform_indices(clips.shape[1], self.num_frames)
        frames = clips[:, index].reshape(-1, *clips.shape[2:]).numpy()
        images = torch.stack([self.preprocess(Image.fromarray(frame)) for frame in frames])
        self.model.eval()
        with torch.inference_mode():
            out = torch.cat([self.model.encode_image(images[i:i + 8 * self.batch_size].to(self.device)).float()
                             for i in range(0, len(images), 8 * self.batch_size)])
        out = out / out.norm(dim=-1, keepdim=True)
        return out.reshape(clips.shape[0], len(index), -1).cpu().numpy()

    def text_embeddings(self, prompts: list[str]) -> np.ndarray:
        """Unit-normalised prompt embeddings `[N, D]`; prompts over the context length are truncated (warned)."""
        clip = _import_clip()

        too_long = sum(len(clip.clip._tokenizer.encode(p)) + 2 > self.context_length for p in prompts)
        if too_long:
            warnings.warn(f"{too_long} of {len(prompts)} prompt(s) exceed CLIP's {self.context_length} tokens and "
                          "were truncated", PromptTruncatedWarning, stacklevel=2)
        tokens = clip.tokenize(prompts, context_length=self.context_length, truncate=True)
        with torch.inference_mode():
            out = self.model.encode_text(tokens.to(self.device)).float()
        return (out / out.norm(dim=-1, keepdim=True)).cpu().numpy()

    def _forward(self, clips: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.frame_embeddings(clips).mean(axis=1))
