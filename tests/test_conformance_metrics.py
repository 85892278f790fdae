"""Conformance with torchmetrics 1.9.

- Kernel distance (KID / KVD) against `torchmetrics.image.kid.poly_mmd` (cubic polynomial kernel, gamma = 1/d,
  coef 1, unbiased MMD^2) on the same features. With one subset holding every sample the subset draw is a
  permutation, which MMD^2 ignores, so the two must agree to round-off; with several subsets the two draw
  different random subsets.
- CLIPSIM against torchmetrics' CLIPScore scoring code on the same frames, prompts and CLIP network.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lumiere_eval.metrics import kernel_distance


@pytest.mark.parametrize("n,dim", [(50, 16), (200, 400)])
def test_kernel_distance_matches_torchmetrics_poly_mmd(n, dim):
    kid = pytest.importorskip("torchmetrics.image.kid", reason="torchmetrics (dev extra) is not installed")
    rng = np.random.default_rng(dim)
    real = rng.normal(size=(n, dim))
    fake = rng.normal(0.1, 1.2, size=(n, dim))
    ours, std = kernel_distance(real, fake, num_subsets=1, subset_size=n)
    reference = float(kid.poly_mmd(torch.from_numpy(real), torch.from_numpy(fake)))
    print(f"\nKID n={n} d={dim}: ours {ours:.12g} torchmetrics {reference:.12g} "
          f"relative {abs(ours - reference) / abs(reference):.1e}")
    assert std == 0.0 and reference > 0
    assert ours == pytest.approx(reference, rel=1e-10, abs=0)


class _ClipAnytorchModel:
    """clip-anytorch's CLIP behind the two methods torchmetrics' CLIPScore calls on a transformers CLIPModel."""

    def __init__(self, model):
        self.model, self.config = model, object()  # no text_config: torchmetrics skips its truncation branch

    def to(self, device):
        return self

    def get_image_features(self, pixel_values):
        return self.model.encode_image(pixel_values).float()

    def get_text_features(self, input_ids, attention_mask):
        return self.model.encode_text(input_ids).float()


class _ClipAnytorchProcessor:
    """clip-anytorch's preprocess and tokenizer behind the call torchmetrics makes on a CLIPProcessor."""

    def __init__(self, preprocess):
        self.preprocess = preprocess

    def __call__(self, images=None, text=None, return_tensors="pt", padding=True):
        from PIL import Image

        from lumiere_eval.extractors.clipsim import _import_clip

        if images is not None:
            return {"pixel_values": torch.stack([self.preprocess(Image.fromarray(i.permute(1, 2, 0).numpy()))
                                                 for i in images])}
        tokens = _import_clip().tokenize(text, truncate=True)
        return {"input_ids": tokens, "attention_mask": (tokens != 0).long()}


def test_clipsim_convention_against_torchmetrics_clip_score(tmp_path):
    """torchmetrics 1.9 CLIPScore on a video's frames with its prompt: 100 * cosine per image, then
    max(mean, 0). Ours: the same per-frame 100 * cosine, clamped per frame, then the mean. Run on one tiny CLIP
    (clip-anytorch classes, random weights) through torchmetrics' own scoring code."""
    import warnings

    pytest.importorskip("torchmetrics", reason="torchmetrics (dev extra) is not installed")
    from torchmetrics.functional.multimodal.clip_score import _clip_score_update

    from lumiere_eval.extractors import create_extractor
    from lumiere_eval.extractors.clipsim import uniform_indices
    from lumiere_eval.metrics import clip_similarity
    from lumiere_eval.metrics.values import clipsim_per_sample

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from clip.model import CLIP
    torch.manual_seed(0)
    tiny = CLIP(embed_dim=32, image_resolution=32, vision_layers=1, vision_width=64, vision_patch_size=16,
                context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1, transformer_layers=1)
    torch.save(tiny.state_dict(), tmp_path / "tiny_clip.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        extractor = create_extractor("clip", tmp_path / "tiny_clip.pt", device="cpu", num_frames=6)
    model, processor = _ClipAnytorchModel(extractor.model), _ClipAnytorchProcessor(extractor.preprocess)
    for seed, prompt in enumerate(["a person playing basketball", "a dog running on a beach", "two people dancing"]):
        video = np.random.default_rng(seed).integers(0, 256, (1, 12, 40, 48, 3), dtype=np.uint8)
        frames = [torch.from_numpy(video[0, i]).permute(2, 0, 1) for i in uniform_indices(12, 6)]
        with torch.no_grad():
            per_frame, _ = _clip_score_update(frames, [prompt] * len(frames), model, processor)
        per_frame = per_frame.double().numpy()
        ours_raw = clip_similarity(extractor.frame_embeddings(video)[0], extractor.text_embeddings([prompt])[0],
                                   clamp=False)
        assert ours_raw == pytest.approx(per_frame.mean(), abs=1e-4, rel=1e-5)  # same 100 * cosine per frame
        ours = float(clipsim_per_sample(extractor.frame_embeddings(video), extractor.text_embeddings([prompt]))[0])
        assert ours == pytest.approx(np.maximum(per_frame, 0).mean(), abs=1e-4, rel=1e-5)
        torchmetrics_value = max(per_frame.mean(), 0.0)
        if (per_frame >= 0).all():
            assert ours == pytest.approx(torchmetrics_value, abs=1e-4, rel=1e-5)
        print(f"\nCLIPSIM ours {ours:.5f} torchmetrics {torchmetrics_value:.5f} (frames with negative cosine: "
              f"{int((per_frame < 0).sum())})")
