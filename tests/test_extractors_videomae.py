"""VideoMAE-v2 (cd-FVD) extractor: the checkpoint layout, and agreement with the cd-fvd package's own classes.

The reference is cd-fvd 0.1.1: its VisionTransformer (cdfvd/third_party/VideoMAEv2/videomaev2_finetune.py),
its `preprocess_videomae`, and its `cdfvd.compute_fvd` (FeatureStats + sqrtm Frechet) with the model given to it
instead of loaded (its loader would download ViT-g). Same random weights, reduced width and depth.
"""
from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import pytest
import torch

from lumiere_eval.extractors.videomae import (VIT_G_SSV2, VideoMAEConfig, VideoMAEv2, VideoMAEv2BF16Extractor,
                                              VideoMAEv2Extractor, check_videomae_state_dict, reference_shapes)
from lumiere_eval.extractors.weights import ResolvedWeights, WeightsError
from lumiere_eval.metrics import FeatureStats, frechet_distance_from_stats

finetune = pytest.importorskip("cdfvd.third_party.VideoMAEv2.videomaev2_finetune",
                               reason="cd-fvd (dev dependency) is the reference")

# Reduced ViT: patch 56 keeps 4x4 tokens per tubelet at cd-fvd's fixed 224x224 input.
TINY = VideoMAEConfig(embed_dim=32, depth=2, heads=4, mlp_hidden=int(32 * 48 / 11), patch_size=56)


def reference_model(config: VideoMAEConfig, seed: int = 0):
    """cd-fvd's VisionTransformer at `config`'s sizes, random weights; 1-d parameters (q/v biases, LayerNorms)
    moved away from their initial zeros/ones so that a misplaced bias or norm shows in the outputs."""
    torch.manual_seed(seed)
    model = finetune.VisionTransformer(
        img_size=config.img_size, patch_size=config.patch_size, num_classes=config.num_classes,
        embed_dim=config.embed_dim, depth=config.depth, num_heads=config.heads,
        mlp_ratio=config.mlp_hidden / config.embed_dim + 1e-9, qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=config.eps), all_frames=config.frames,
        tubelet_size=config.tubelet, use_mean_pooling=True, init_scale=1.0)
    state = model.state_dict()
    for key, value in state.items():
        if value.ndim == 1:
            state[key] = value + 0.2 * torch.randn_like(value)
    model.load_state_dict(state)
    return model.eval()


def save_checkpoint(tmp_path, state_dict, key="module") -> ResolvedWeights:
    """A checkpoint file as VideoMAE-v2 writes them (state dict under `key`, training arguments beside it)."""
    path = tmp_path / "videomae.pth"
    torch.save({key: state_dict, "epoch": 19, "args": argparse.Namespace(model="vit_giant_patch14_224")}, path)
    return ResolvedWeights("videomae_v2_g_ssv2", path, "0" * 64, False, "test weights")


def random_videos(n: int, frames: int = 16, height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, frames, height, width, 3), dtype=np.uint8)


def test_full_size_layout_is_cd_fvds_vit_g(monkeypatch):
    """Our ViT-g/14 has exactly the keys and shapes of cd-fvd's vit_giant_patch14_224(num_classes=174).
    The reference is built by that function with 2 of its 40 blocks (every block has the same keys) and one
    tubelet of frames (its position table is not in the state dict), so that it fits in a fast test."""
    full_depth_class = finetune.VisionTransformer
    monkeypatch.setattr(finetune, "VisionTransformer", lambda **kwargs: full_depth_class(**{**kwargs, "depth": 2}))
    torch.manual_seed(0)
    reference = finetune.vit_giant_patch14_224(img_size=224, num_classes=174, all_frames=2, tubelet_size=2,
                                               use_mean_pooling=True)
    two_blocks = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    expected = {k: s for k, s in two_blocks.items() if not k.startswith("blocks.")}
    for i in range(40):
        expected.update({k.replace("blocks.0.", f"blocks.{i}.", 1): s for k, s in two_blocks.items()
                         if k.startswith("blocks.0.")})
    ours = reference_shapes(VIT_G_SSV2)
    assert ours == expected
    assert len(ours) == 526 and ours["blocks.39.mlp.fc1.weight"] == (6144, 1408)
    assert ours["patch_embed.proj.weight"] == (1408, 3, 2, 14, 14) and ours["head.weight"] == (174, 1408)
    assert 1.01e9 < sum(int(np.prod(s)) for s in ours.values()) < 1.02e9  # "ViT-g": about a billion weights


def test_layout_check_names_the_file_and_the_fault():
    state = {k: torch.zeros(s) for k, s in reference_shapes(TINY).items()}
    check_videomae_state_dict(state, "ok.pth", TINY)
    with pytest.raises(WeightsError, match=r"bad\.pth.*missing \['blocks\.0\.attn\.q_bias'\]"):
        check_videomae_state_dict({k: v for k, v in state.items() if k != "blocks.0.attn.q_bias"}, "bad.pth", TINY)
    with pytest.raises(WeightsError, match="wrong shape.*head.weight"):
        check_videomae_state_dict({**state, "head.weight": torch.zeros(400, 32)}, "k400.pth", TINY)


def test_features_match_cd_fvd_with_its_preprocessing(tmp_path):
    """uint8 videos -> features: ours (extractor, from a checkpoint file) against cd-fvd's preprocess_videomae +
    VisionTransformer.forward_features on the same random weights; also the SSv2 logits."""
    from cdfvd.third_party.VideoMAEv2.utils import preprocess_videomae

    reference = reference_model(TINY)
    extractor = VideoMAEv2Extractor(save_checkpoint(tmp_path, reference.state_dict()), device="cpu", config=TINY)
    videos = random_videos(3)
    ours = extractor.extract(videos)
    with torch.no_grad():
        inputs = preprocess_videomae(videos)
        expected = reference.forward_features(inputs).numpy()
        logits = reference(inputs)
    assert ours.shape == (3, 32) and np.abs(ours).max() > 0.5
    np.testing.assert_allclose(ours, expected, rtol=0, atol=2e-5)
    with torch.no_grad():
        np.testing.assert_allclose(extractor.model(inputs).numpy(), logits.numpy(), rtol=0, atol=2e-5)


def test_clips_of_another_length_stretch_the_position_table_as_cd_fvd():
    """10 frames (5 tubelets instead of 8): VideoMAE-v2 interpolates its table along time; cd-fvd's code needs
    the native 16x16 patch grid for that, so this compares at patch 14."""
    from cdfvd.third_party.VideoMAEv2.utils import preprocess_videomae

    config = VideoMAEConfig(embed_dim=16, depth=1, heads=2, mlp_hidden=int(16 * 48 / 11))
    reference = reference_model(config, seed=1)
    ours = VideoMAEv2(config).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    inputs = preprocess_videomae(random_videos(2, frames=10, height=16, width=16, seed=1))
    with torch.no_grad():
        np.testing.assert_allclose(ours.forward_features(inputs).numpy(), reference.forward_features(inputs).numpy(),
                                   rtol=0, atol=2e-5)


def test_fvd_matches_cd_fvd_compute_fvd(tmp_path):
    """cd-FVD of two sets of uint8 videos: cd-fvd's `cdfvd.compute_fvd` (its FeatureStats, biased covariance,
    scipy sqrtm) with the reduced model handed to it, against our extractor + FeatureStats + Frechet (biased)."""
    from cdfvd import fvd as cdfvd_module
    from cdfvd.utils.metric_utils import FeatureStats as ReferenceStats

    config = VideoMAEConfig(embed_dim=16, depth=2, heads=2, mlp_hidden=int(16 * 48 / 11), patch_size=56)
    reference = reference_model(config)
    scorer = cdfvd_module.cdfvd.__new__(cdfvd_module.cdfvd)  # its __init__ would download ViT-g
    scorer.model, scorer.feature_fn, scorer.device, scorer.model_dtype = (
        reference, cdfvd_module.get_videomae_features, "cpu", torch.float32)
    scorer.real_stats = ReferenceStats(capture_mean_cov=True)
    scorer.fake_stats = ReferenceStats(capture_mean_cov=True)
    real = random_videos(24, height=12, width=12, seed=2)
    fake = random_videos(24, height=12, width=12, seed=3) // 3  # darker, lower contrast
    expected = float(scorer.compute_fvd(real, fake))

    extractor = VideoMAEv2Extractor(save_checkpoint(tmp_path, reference.state_dict(), key="model"), device="cpu",
                                    config=config, batch_size=16)
    ours = frechet_distance_from_stats(FeatureStats.from_features(extractor.extract(real)),
                                       FeatureStats.from_features(extractor.extract(fake)), unbiased=False)
    print(f"cd-fvd {expected!r}, ours {ours!r}, relative difference {abs(ours - expected) / expected:.2e}")
    assert expected > 0.5
    assert abs(ours - expected) <= 1e-5 * expected


def test_fp16_matches_cd_fvd_half_precision(tmp_path):
    """cd-fvd's half_precision=True casts the model and its input to float16; so does our fp16 extractor."""
    from cdfvd.third_party.VideoMAEv2.utils import preprocess_videomae

    from lumiere_eval.extractors.videomae import VideoMAEv2FP16Extractor

    reference = reference_model(TINY)
    extractor = VideoMAEv2FP16Extractor(save_checkpoint(tmp_path, reference.state_dict()), device="cpu", config=TINY)
    videos = random_videos(2)
    with torch.no_grad():
        expected = reference.half().forward_features(preprocess_videomae(videos).half()).float().numpy()
    ours = extractor.extract(videos)
    assert extractor.describe()["dtype"] == "float16"
    np.testing.assert_allclose(ours, expected, rtol=0, atol=4e-3)  # 2 fp16 ulps at ~3 (measured: 0)


def test_bf16_option_is_recorded_and_close_to_fp32(tmp_path):
    reference = reference_model(TINY)
    weights = save_checkpoint(tmp_path, reference.state_dict())
    fp32 = VideoMAEv2Extractor(weights, device="cpu", config=TINY)
    bf16 = VideoMAEv2BF16Extractor(weights, device="cpu", config=TINY)
    videos = random_videos(2)
    assert fp32.describe()["dtype"] == "float32" and bf16.describe()["dtype"] == "bfloat16"
    assert bf16.id == "videomae-v2-g-ssv2-bf16"
    difference = np.abs(bf16.extract(videos) - fp32.extract(videos)).max()
    assert 0 < difference < 0.1
    from lumiere_eval import LumiereEvalError
    from lumiere_eval.extractors.vit import precision

    assert precision("fp16") == (torch.float16, "fp16")
    with pytest.raises(LumiereEvalError, match="unknown precision 'int8'"):
        precision("int8")


def test_checkpoint_without_the_model_is_refused(tmp_path):
    path = tmp_path / "optimizer_only.pth"
    torch.save({"optimizer": {"lr": torch.tensor(0.1)}}, path)
    weights = ResolvedWeights("videomae_v2_g_ssv2", path, "0" * 64, False, "test weights")
    with pytest.raises(WeightsError, match="optimizer_only.pth: not a VideoMAE-v2"):
        VideoMAEv2Extractor(weights, device="cpu", config=TINY)


def test_registry_accepts_the_full_layout_and_refuses_others(tmp_path):
    """`resolve` checks a local ViT-g file key by key (no checksum is published). The full-size file is written
    with every tensor a stride-0 view of one value, so it is a few kilobytes on disk."""
    from lumiere_eval.extractors.weights import UnverifiedWeightsWarning, get_spec, resolve

    assert get_spec("videomae_v2_g_ssv2").sha256 is None  # stated: no published checksum
    zero = torch.zeros(1)
    full = tmp_path / "vit_g.pth"
    torch.save({"module": {k: zero.expand(s) for k, s in reference_shapes(VIT_G_SSV2).items()}}, full)
    assert full.stat().st_size < 1_000_000
    with pytest.warns(UnverifiedWeightsWarning, match="format checked, no published checksum"):
        resolved = resolve("videomae_v2_g_ssv2", full, fetch_missing=False)
    assert not resolved.verified
    tiny = tmp_path / "tiny.pth"
    torch.save({"model": VideoMAEv2(TINY).state_dict()}, tiny)
    with pytest.raises(WeightsError, match="tiny.pth: not a VideoMAE-v2 ViT-g/14 SSv2 state dict"):
        resolve("videomae_v2_g_ssv2", tiny, fetch_missing=False)


def test_cdfvd_protocols_name_the_precision():
    from lumiere_eval.extractors import extractor_class
    from lumiere_eval.metrics.protocols import get_fvd_protocol

    ids = {}
    for name, dtype in (("cdfvd2048_16f", "fp32"), ("cdfvd2048_16f_fp16", "fp16"), ("cdfvd2048_16f_bf16", "bf16")):
        protocol = get_fvd_protocol(name)
        cls = extractor_class(protocol.extractor)
        assert cls.id == protocol.extractor and cls.weights_name == "videomae_v2_g_ssv2"
        assert f"{cls.protocol}_{dtype}:" in protocol.id and not protocol.unbiased_covariance
        ids[name] = protocol.id
    assert len(set(ids.values())) == 3


def test_default_run_lists_cdfvd_and_jedi_as_needing_weights(tmp_path):
    """The embedded default has no weights for cd-FVD or JEDi: it says so instead of printing a number."""
    import json

    from lumiere_eval.demo.default_run import write_comparison

    metric = {"value": 1.0, "ci_low": 0.5, "ci_high": 1.5}
    motion = {"motion_magnitude_dis": metric, "temporal_flickering": metric}
    rows = {"dummy": {"metrics": {"fvd": metric, "is": metric, "clipsim": metric}, "samples": 2, "wall_s": 1.0,
                      "motion": motion, "workers": 1}}
    reference = {"n": 2, "fvd": metric, "is": metric, "clipsim": metric, "class_accuracy": 1.0, "motion": motion}
    text = write_comparison(tmp_path, rows, reference, 3.0)
    assert "Not computed here" in text and "cd-FVD" in text and "JEDi" in text
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    from lumiere_eval.metrics.registry import names

    assert sorted(comparison["needs_weights"]) == sorted(["cdfvd", "jedi", *names("vbench")])
    assert "subject consistency (VBench, DINO ViT-B/16) (weights dino_vitb16)" in text
    assert all(name not in comparison["models"]["dummy"]["metrics"] for name in ("cdfvd", "jedi"))
