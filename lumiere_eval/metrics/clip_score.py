"""CLIP similarity of a video to its text: frame-by-frame cosine against the text embedding, averaged."""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics.checks import MetricInputError, as_float64_matrix


def clip_similarity(frame_embeddings, text_embedding, scale: float = 100.0, clamp: bool = True) -> float:
    """Mean over frames of `max(scale * cos(frame, text), 0)` (torchmetrics CLIPScore per frame).

    `scale=1, clamp=False` gives the raw mean cosine that Video LDM reports as CLIPSIM.
    """
    frames = as_float64_matrix(frame_embeddings, "frame embeddings")
    text = np.asarray(text_embedding, dtype=np.float64).reshape(1, -1)
    text = as_float64_matrix(text, "text embedding")
    if text.shape[1] != frames.shape[1]:
        raise MetricInputError(f"frame embeddings have dimension {frames.shape[1]}, text embedding {text.shape[1]}")
    norms = np.linalg.norm(frames, axis=1) * np.linalg.norm(text)
    if (norms == 0).any():
        raise MetricInputError("clip similarity: an embedding has zero norm")
    cosine = (frames @ text[0]) / norms
    per_frame = scale * cosine
    if clamp:
        per_frame = np.maximum(per_frame, 0.0)
    return float(per_frame.mean())
