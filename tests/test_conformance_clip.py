"""The CLIP loader builds the model from tensors it reads itself: a malicious pickle never runs, even with
TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (which turns off torch.load's weights_only default, the one clip.load
relies on); a plain state dict and a TorchScript archive both still load."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from lumiere_eval.extractors import create_extractor
from lumiere_eval.extractors.weight_files import WeightsError


class _TouchOnLoad:
    """Unpickling this calls open(path, "w"): the file appearing proves code ran at load time."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


def tiny_clip(seed: int = 0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from clip.model import CLIP
    torch.manual_seed(seed)
    return CLIP(embed_dim=32, image_resolution=32, vision_layers=1, vision_width=64, vision_patch_size=16,
                context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1,
                transformer_layers=1).eval()


def test_malicious_clip_checkpoint_is_refused_with_weights_only_forced_off(tmp_path, monkeypatch):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "ViT-B-32.pt"
    torch.save({"visual.conv1.weight": _TouchOnLoad(str(marker))}, evil)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    # the reference loader runs the payload under the variable (this is what the harness used to call)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import clip
        with pytest.raises(Exception):
            clip.load(str(evil), device="cpu", jit=False)
    assert marker.exists(), "the test's payload should run under clip.load's own loading"
    marker.unlink()
    with pytest.raises(WeightsError, match="weights_only=True"):
        create_extractor("clip", evil, device="cpu")
    assert not marker.exists()


def test_clip_loads_from_a_state_dict_and_from_a_torchscript_archive(tmp_path):
    model = tiny_clip()
    torch.save(model.state_dict(), tmp_path / "state.pt")
    image, text = torch.rand(1, 3, 32, 32), torch.zeros(1, 77, dtype=torch.long)
    torch.jit.trace(model, (image, text), check_trace=False).save(str(tmp_path / "traced.pt"))
    clips = np.random.default_rng(0).integers(0, 256, (1, 4, 36, 40, 3), dtype=np.uint8)
    rows = []
    for name in ("state.pt", "traced.pt"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            extractor = create_extractor("clip", tmp_path / name, device="cpu", num_frames=2)
        rows.append(extractor.extract(clips))
    np.testing.assert_allclose(rows[0], rows[1], rtol=1e-5, atol=1e-6)
