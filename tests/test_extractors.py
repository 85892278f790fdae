"""Extractors without downloads: tiny TorchScript I3D/C3D with StyleGAN-V's real signature, a tiny CLIP from
clip-anytorch's own classes with its real tokenizer, pytorch-fid's InceptionV3 with random weights."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lumiere_eval.extractors import create_extractor, extractor_class, UnknownExtractorError
from lumiere_eval.extractors import weights
from lumiere_eval.extractors.base import ExtractorInputError
from lumiere_eval.metrics.protocols import get_is_protocol, protocol_inception_score


class TinyDetector(nn.Module):
    """StyleGAN-V detector signature; `classes` logits (features) or softmax probabilities."""

    def __init__(self, classes: int):
        super().__init__()
        self.conv = nn.Conv3d(3, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False):
        if rescale:
            x = x / 255.0 * 2 - 1
        if resize:
            x = F.interpolate(x, size=(x.shape[2], 32, 32), mode="trilinear", align_corners=False)
        logits = self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3, 4)))
        if return_features:
            return logits
        return torch.softmax(logits, dim=1)


def save_tiny_detector(path, classes: int, seed: int = 0):
    """Script and save a TinyDetector; returns the scripted module."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script deprecation notice
        scripted = torch.jit.script(TinyDetector(classes).eval())
    scripted.save(str(path))
    return scripted


def quiet_resolve(name, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", weights.UnverifiedWeightsWarning)
        return weights.resolve(name, local_path=path)


def random_clips(b=3, t=16, h=40, w=48, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (b, t, h, w, 3), dtype=np.uint8)


def test_i3d_torchscript_uses_stylegan_v_flags_on_uint8_values(tmp_path):
    detector = save_tiny_detector(tmp_path / "i3d_torchscript.pt", 400)
    extractor = create_extractor("i3d-torchscript", tmp_path / "i3d_torchscript.pt", device="cpu", batch_size=2)
    clips = random_clips()
    features = extractor.extract(clips)
    x = torch.from_numpy(clips).permute(0, 4, 1, 2, 3).float()  # [B, 3, T, H, W], values 0..255
    with torch.no_grad():
        expected = detector(x, rescale=True, resize=True, return_features=True)
        double_rescaled = detector(x / 255 * 2 - 1, rescale=True, resize=True, return_features=True)
    np.testing.assert_allclose(features, expected.numpy(), rtol=1e-5, atol=1e-5)
    assert features.shape == (3, 400)
    assert not np.allclose(features, double_rescaled.numpy(), atol=1e-3)  # the pitfall would be visible
    record = extractor.describe()
    assert record["id"] == "i3d-torchscript" and not record["weights"]["verified"]


def test_torchscript_with_other_signature_is_refused(tmp_path):
    torch.jit.script(nn.Linear(3, 3)).save(str(tmp_path / "other.pt"))
    with pytest.raises(weights.WeightsError, match="not the StyleGAN-V detector signature"):
        create_extractor("c3d-ucf101", tmp_path / "other.pt", device="cpu")


def test_bad_batches_are_errors(tmp_path):
    save_tiny_detector(tmp_path / "i3d.pt", 400)
    extractor = create_extractor("i3d-torchscript", tmp_path / "i3d.pt", device="cpu")
    with pytest.raises(ExtractorInputError, match="expected uint8 clips"):
        extractor.extract(random_clips().astype(np.float32))
    with pytest.raises(ExtractorInputError, match="expected uint8 clips"):
        extractor.extract(random_clips()[0])
    with pytest.raises(ExtractorInputError, match="expected uint8 clips"):
        extractor.extract(random_clips()[:0])
    with pytest.raises(UnknownExtractorError, match="unknown extractor 'i4d'"):
        extractor_class("i4d")


def test_c3d_probs_and_tgan_frame_resize(tmp_path):
    detector = save_tiny_detector(tmp_path / "c3d.pt", 101)
    clips = random_clips(b=2)
    plain = create_extractor("c3d-ucf101", tmp_path / "c3d.pt", device="cpu")
    probs = plain.extract(clips)
    assert probs.shape == (2, 101) and plain.output == "probs"
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    resized = create_extractor("c3d-ucf101", tmp_path / "c3d.pt", device="cpu", frame_size=128)
    assert plain.protocol == "none-uint8" and resized.protocol == "bicubic128-uint8"
    frames = torch.from_numpy(clips).reshape(-1, 40, 48, 3).permute(0, 3, 1, 2).float()
    frames = F.interpolate(frames, size=(128, 128), mode="bicubic", align_corners=False).round().clamp(0, 255)
    x = frames.reshape(2, 16, 3, 128, 128).permute(0, 2, 1, 3, 4)
    with torch.no_grad():
        np.testing.assert_allclose(resized.extract(clips), detector(x).numpy(), rtol=1e-5, atol=1e-6)


def test_c3d_that_returns_logits_is_caught(tmp_path):
    class LogitsC3D(TinyDetector):
        def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                    return_features: bool = False):
            return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3, 4)))

    torch.jit.script(LogitsC3D(101)).save(str(tmp_path / "c3d.pt"))
    with pytest.raises(ExtractorInputError, match="did not return class probabilities"):
        create_extractor("c3d-ucf101", tmp_path / "c3d.pt", device="cpu").extract(random_clips(b=1))


def stylegan_v_isv(probs: np.ndarray, num_splits: int) -> tuple[float, float]:
    """StyleGAN-V video_inception_score.py, written out independently (in-place RandomState(42) shuffle)."""
    probs = probs.copy()
    num_gen = len(probs)
    np.random.RandomState(42).shuffle(probs)
    scores = []
    for i in range(num_splits):
        part = probs[i * num_gen // num_splits:(i + 1) * num_gen // num_splits]
        kl = part * (np.log(part) - np.log(np.mean(part, axis=0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


def test_isv2048_ucf_matches_stylegan_v_computation():
    probs = np.random.default_rng(3).dirichlet(np.full(101, 0.3), size=205)
    ours = protocol_inception_score(get_is_protocol("isv2048_ucf"), probs)
    reference = stylegan_v_isv(probs, 10)
    np.testing.assert_allclose(ours, reference, rtol=1e-12)
    tgan = protocol_inception_score(get_is_protocol("is10k_tgan_ucf"), probs)
    assert tgan[1] == 0.0  # one split
    # TGAN calc_inception: one split (order irrelevant), 1e-7 inside both logs (tests/test_conformance_is.py)
    marginal = probs.mean(axis=0, keepdims=True)
    tgan_reference = np.exp(np.sum(probs * np.log(probs + 1e-7) - probs * np.log(marginal + 1e-7)) / len(probs))
    np.testing.assert_allclose(tgan[0], tgan_reference, rtol=1e-12)


# ---- CLIP -------------------------------------------------------------------------------------------------

def save_tiny_clip(path, seed: int = 0):
    """A CLIP built with clip-anytorch's own classes at tiny size (width 64 = one head), random weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from clip.model import CLIP
    torch.manual_seed(seed)
    model = CLIP(embed_dim=32, image_resolution=32, vision_layers=1, vision_width=64, vision_patch_size=16,
                 context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1, transformer_layers=1)
    torch.save(model.state_dict(), path)


def test_clip_clipsim_matches_direct_computation_and_counts_long_prompts(tmp_path):
    import clip
    from PIL import Image

    from lumiere_eval.metrics.values import clipsim_per_sample

    save_tiny_clip(tmp_path / "tiny_clip.pt")
    extractor = create_extractor("clip", tmp_path / "tiny_clip.pt", device="cpu", num_frames=4)
    clips = random_clips(b=2, t=10, h=36, w=44, seed=5)
    long_prompt = " ".join(["a person playing basketball on an outdoor court"] * 15)
    prompts = ["a person playing basketball", long_prompt]
    with pytest.warns(UserWarning, match="1 of 2 prompt\\(s\\) exceed CLIP's 77 tokens"):
        scores = clipsim_per_sample(extractor.frame_embeddings(clips), extractor.text_embeddings(prompts))
    # direct computation with clip-anytorch's loader, transform and tokenizer
    model, preprocess = clip.load(str(tmp_path / "tiny_clip.pt"), device="cpu", jit=False)
    model.float().eval()
    index = [0, 3, 6, 9]  # 4 frames uniformly over 10
    expected = []
    with torch.no_grad():
        texts = model.encode_text(clip.tokenize(prompts, truncate=True))
        for clip_frames, text in zip(clips, texts):
            images = torch.stack([preprocess(Image.fromarray(clip_frames[i])) for i in index])
            cos = F.cosine_similarity(model.encode_image(images), text[None], dim=-1)
            expected.append(float((100 * cos).clamp(min=0).mean()))
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)
    features = extractor.extract(clips)
    assert features.shape == (2, 32) and extractor.dim == 32
    assert extractor.describe()["protocol"] == "clip-uniform4-pil-bicubic"


def test_clip_loader_refuses_non_clip_file(tmp_path):
    torch.save({"w": torch.zeros(2)}, tmp_path / "x.pt")
    with pytest.raises(weights.WeightsError, match="cannot be loaded as a CLIP checkpoint"):
        create_extractor("clip", tmp_path / "x.pt", device="cpu")


# ---- InceptionV3 (pytorch-fid) ------------------------------------------------------------------------------

def test_inception_matches_pytorch_fid_inceptionv3(tmp_path, monkeypatch):
    from pytorch_fid import inception as fid

    from lumiere_eval.extractors.inception import build_fid_inception

    torch.manual_seed(0)
    torch.save(build_fid_inception().state_dict(), tmp_path / "inception.pth")
    extractor = create_extractor("inception-fid", tmp_path / "inception.pth", device="cpu")
    clips = random_clips(b=1, t=2, h=40, w=56, seed=7)
    features = extractor.extract(clips)
    assert features.shape == (2, 2048) and extractor.per_frame

    def local_fid_inception_v3():  # pytorch-fid's own builder, minus the download
        net = build_fid_inception()
        net.load_state_dict(torch.load(tmp_path / "inception.pth", weights_only=True))
        return net

    monkeypatch.setattr(fid, "fid_inception_v3", local_fid_inception_v3)
    reference = fid.InceptionV3([3]).eval()
    x = torch.from_numpy(clips[0]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        expected = reference(x)[0].flatten(1)
    assert float(expected.abs().max()) > 0
    np.testing.assert_allclose(features, expected.numpy(), rtol=1e-4, atol=1e-5 * float(expected.abs().max()))


# ---- one decode pass (the runner's feature stage, used by both `metrics` and `ucf101`) --------------------

def test_real_ucf101_clips_through_the_feature_stage(ucf101_shared, tmp_path):
    """The two real XviD clips (320x240) decoded once each for two jobs, cut as fvd2048_16f real and fake clips,
    through a TorchScript I3D; a second pass is served from the cache without decoding."""
    from lumiere_eval.files import sha256_file
    from lumiere_eval.metrics.protocols import get_fvd_protocol
    from lumiere_eval.runner import features
    from lumiere_eval.runner.cache import FeatureCache
    from lumiere_eval.video import read_clip

    save_tiny_detector(tmp_path / "i3d.pt", 400)
    extractor = create_extractor("i3d-torchscript", tmp_path / "i3d.pt", device="cpu")
    paths = sorted(ucf101_shared.glob("*.avi"))
    protocol = get_fvd_protocol("fvd2048_16f")
    jobs = [features.FeatureJob("real", extractor, protocol.real_sampling),
            features.FeatureJob("fake", extractor, protocol.fake_sampling)]
    decoded = []

    def counting_decode(path, *args, **kwargs):
        decoded.append(str(path))
        return features.decode_video(path, *args, **kwargs)

    items = [features.VideoItem(p, sha256_file(p), p.name) for p in paths]
    cache = FeatureCache(tmp_path / "cache")
    out = features.compute_features(items, jobs, cache, block_size=2, progress=False, decode_workers=0,
                                    decode=counting_decode)
    assert decoded == [str(p) for p in paths]  # each video decoded exactly once for both jobs
    rows = np.stack(out["real"])
    assert rows.shape == (len(paths), 400) and np.isfinite(rows).all()
    assert not np.allclose(rows[0], rows[1])
    expected = extractor.extract(np.stack([read_clip(p, protocol.real_sampling, key=p.name) for p in paths]))
    np.testing.assert_allclose(rows, expected, rtol=1e-5, atol=1e-6)
    again = features.compute_features(items, jobs, cache, block_size=2, progress=False, decode=counting_decode)
    assert len(decoded) == len(paths) and all(np.array_equal(a, b) for a, b in zip(again["real"], out["real"]))
