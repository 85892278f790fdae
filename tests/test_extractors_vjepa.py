"""V-JEPA (JEDi) extractor and the JEDi distance: checkpoint layouts, agreement with the videojedi package.

References: videojedi 1.1.0 (`VJEPA.get_feats`, `load_pretrained`, `load_checkpoint`, `ClipAggregation`,
`mmd_poly`) and the vjepa 0.1.2 package it builds on (`VisionTransformer`, `AttentiveClassifier`), the public
V-JEPA code. Their loaders download from the network, so the tests write checkpoint files in the layout of
vith16.pth.tar / ssv2-probe.pth.tar from the reference classes' random weights at reduced size, load them with
videojedi's own loading functions and with ours, and compare the features.
"""
from __future__ import annotations

import types
from functools import partial

import numpy as np
import pytest
import torch

from lumiere_eval.extractors.vit import unit_frames
from lumiere_eval.extractors.vjepa import (VIT_H16, VJEPAConfig, VJEPAEncoder, VJEPAExtractor, check_vjepa_state_dict,
                                           reference_shapes)
from lumiere_eval.extractors.weights import ResolvedWeights, WeightsError
from lumiere_eval.metrics import FeatureStats, MetricInputError
from lumiere_eval.metrics.kernel import jedi, jedi_from_stats, mmd_polynomial

vit = pytest.importorskip("vjepa.models.vision_transformer", reason="vjepa (dev dependency of videojedi)")
pooler_module = pytest.importorskip("vjepa.models.attentive_pooler")
V_JEPA = pytest.importorskip("videojedi.V_JEPA", reason="videojedi (dev dependency) is the reference")
mmd_module = pytest.importorskip("videojedi.mmd_polynomial")

TINY = VJEPAConfig(embed_dim=48, depth=2, heads=4, mlp_hidden=192, img_size=64, frames=8)


def perturbed(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """`module` with its 1-d parameters (biases, LayerNorms) moved off their initial values."""
    generator = torch.Generator().manual_seed(seed)
    state = module.state_dict()
    for key, value in state.items():
        if value.ndim == 1:
            state[key] = value + 0.2 * torch.randn(value.shape, generator=generator)
    module.load_state_dict(state)
    return module.eval()


def reference_modules(config: VJEPAConfig, seed: int = 0):
    """vjepa's encoder and AttentiveClassifier (as videojedi builds them) at `config`'s sizes, random weights."""
    torch.manual_seed(seed)
    encoder = vit.VisionTransformer(
        img_size=config.img_size, patch_size=config.patch_size, num_frames=config.frames,
        tubelet_size=config.tubelet, embed_dim=config.embed_dim, depth=config.depth, num_heads=config.heads,
        mlp_ratio=config.mlp_hidden / config.embed_dim, qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=config.eps), uniform_power=config.uniform_power, use_sdpa=True)
    classifier = pooler_module.AttentiveClassifier(embed_dim=config.embed_dim, num_heads=config.heads, depth=1,
                                                   num_classes=config.num_classes)
    return perturbed(encoder, seed), perturbed(classifier, seed + 1)


def write_checkpoints(tmp_path, encoder, classifier) -> tuple[ResolvedWeights, ResolvedWeights]:
    """Files laid out as vith16.pth.tar and ssv2-probe.pth.tar: DistributedDataParallel 'module.' keys."""
    encoder_path, probe_path = tmp_path / "vith16.pth.tar", tmp_path / "ssv2-probe.pth.tar"
    ddp = {f"module.{k}": v for k, v in encoder.state_dict().items()}
    torch.save({"encoder": ddp, "target_encoder": ddp, "predictor": {}, "epoch": 300, "lr": 1e-4}, encoder_path)
    torch.save({"classifier": {f"module.{k}": v for k, v in classifier.state_dict().items()}, "epoch": 20,
                "batch_size": 4, "world_size": 64, "lr": 1e-3}, probe_path)
    return (ResolvedWeights("vjepa_vith16", encoder_path, "0" * 64, False, "test weights"),
            ResolvedWeights("vjepa_vith16_ssv2_probe", probe_path, "0" * 64, False, "test weights"))


def videojedi_scorer(encoder_path, probe_path, config: VJEPAConfig):
    """videojedi's VJEPA with its modules loaded by videojedi's own `load_pretrained` / `load_checkpoint` from our
    files (its __init__ would download weights and a config)."""
    encoder = vit.VisionTransformer(
        img_size=config.img_size, patch_size=config.patch_size, num_frames=config.frames,
        tubelet_size=config.tubelet, embed_dim=config.embed_dim, depth=config.depth, num_heads=config.heads,
        mlp_ratio=config.mlp_hidden / config.embed_dim, qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=config.eps), uniform_power=config.uniform_power, use_sdpa=True)
    encoder = V_JEPA.load_pretrained(encoder, str(encoder_path), checkpoint_key="target_encoder")
    classifier = types.SimpleNamespace(module=pooler_module.AttentiveClassifier(
        embed_dim=config.embed_dim, num_heads=config.heads, depth=1, num_classes=config.num_classes))
    wrapped = torch.nn.Module()  # stands in for DistributedDataParallel: same 'module.' key prefix
    wrapped.module = classifier.module
    V_JEPA.load_checkpoint("cpu", str(probe_path), wrapped)
    scorer = V_JEPA.VJEPA.__new__(V_JEPA.VJEPA)
    scorer.encoder = V_JEPA.ClipAggregation(encoder, tubelet_size=config.tubelet, attend_across_segments=True).eval()
    scorer.classifier = classifier
    import vjepa.datasets.utils.video.transforms as video_transforms

    scorer.transforms = video_transforms.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    scorer.finetuned = True
    return scorer


def random_videos(n: int, frames: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, frames, size, size, 3), dtype=np.uint8)


def test_full_size_layouts_are_the_reference_classes():
    """Keys/shapes of our ViT-H/16 encoder and SSv2 probe = vjepa's vit_huge(16 frames, 224, tubelet 2) and
    AttentiveClassifier(1280, 16 heads, depth 1, 174 classes), as videojedi builds them (built with 2 of the 32
    blocks for speed; every block has the same keys)."""
    torch.manual_seed(0)
    encoder = vit.VisionTransformer(img_size=224, patch_size=16, num_frames=16, tubelet_size=2, embed_dim=1280,
                                    depth=2, num_heads=16, mlp_ratio=4, qkv_bias=True,
                                    norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), uniform_power=True)
    two_blocks = {k: tuple(v.shape) for k, v in encoder.state_dict().items()}
    expected = {k: s for k, s in two_blocks.items() if not k.startswith("blocks.")}
    for i in range(32):
        expected.update({k.replace("blocks.0.", f"blocks.{i}.", 1): s for k, s in two_blocks.items()
                         if k.startswith("blocks.0.")})
    assert reference_shapes("encoder", VIT_H16) == expected
    assert expected["pos_embed"] == (1, 1568, 1280) and len(expected) == 389
    probe = pooler_module.AttentiveClassifier(embed_dim=1280, num_heads=16, depth=1, num_classes=174)
    assert reference_shapes("probe", VIT_H16) == {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    # the position table we build (used only without a checkpoint) is vjepa's, uniform_power as the ViT-H configs
    np.testing.assert_array_equal(VJEPAEncoder(VJEPAConfig(embed_dim=1280, depth=0)).pos_embed.numpy(),
                                  encoder.pos_embed.detach().numpy())


def test_layout_check_names_the_file_and_the_fault():
    state = {k: torch.zeros(s) for k, s in reference_shapes("probe", TINY).items()}
    check_vjepa_state_dict(state, "probe", "ok.tar", TINY)
    with pytest.raises(WeightsError, match=r"k400\.tar.*wrong shape.*linear\.weight"):
        check_vjepa_state_dict({**state, "linear.weight": torch.zeros(400, 48)}, "probe", "k400.tar", TINY)
    with pytest.raises(WeightsError, match="probe.tar: not a V-JEPA ViT-H/16 target_encoder"):
        check_vjepa_state_dict(state, "encoder", "probe.tar", TINY)


def test_features_match_videojedi_get_feats(tmp_path):
    """uint8 videos -> JEDi features: our extractor (frames resized to the model's size, ImageNet mean/std,
    encoder, pooler) against videojedi's `VJEPA.get_feats` on the same resized frames, both loading the same
    checkpoint files (videojedi through its own load_pretrained / load_checkpoint)."""
    encoder, classifier = reference_modules(TINY)
    encoder_weights, probe_weights = write_checkpoints(tmp_path, encoder, classifier)
    extractor = VJEPAExtractor(encoder_weights, device="cpu", probe=probe_weights, config=TINY)
    scorer = videojedi_scorer(encoder_weights.path, probe_weights.path, TINY)
    videos = random_videos(3, frames=8, size=40)
    ours = extractor.extract(videos)
    frames = unit_frames(torch.from_numpy(videos), TINY.img_size).permute(0, 2, 1, 3, 4)  # b t c h w in [0, 1]
    expected = scorer.get_feats(frames)
    assert ours.shape == (3, 48) and np.abs(ours).max() > 0.2
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)
    assert extractor.protocol.endswith(f"+probe-sha256-{probe_weights.sha256[:16]}")  # in feature-cache keys
    # the classifier was really loaded by videojedi (its load_checkpoint swallows errors and keeps random weights)
    torch.testing.assert_close(scorer.classifier.module.linear.weight, classifier.linear.weight, rtol=0, atol=0)


def test_other_clip_sizes_stretch_the_position_table_as_vjepa():
    """12 frames at 80x80 pixels against a model built for 8 at 64: both interpolate the table the same way."""
    encoder, classifier = reference_modules(TINY, seed=3)
    ours = VJEPAEncoder(TINY).eval()
    ours.load_state_dict(encoder.state_dict(), strict=True)
    x = torch.randn(2, 3, 12, 80, 80)
    with torch.no_grad():
        np.testing.assert_allclose(ours(x).numpy(), encoder(x).numpy(), rtol=0, atol=1e-5)


def test_checkpoint_of_the_wrong_kind_is_refused(tmp_path):
    encoder, classifier = reference_modules(TINY)
    encoder_weights, probe_weights = write_checkpoints(tmp_path, encoder, classifier)
    with pytest.raises(WeightsError, match="no 'target_encoder'.*expected vith16.pth.tar"):
        VJEPAExtractor(probe_weights, device="cpu", probe=probe_weights, config=TINY)
    with pytest.raises(WeightsError, match="no 'classifier'.*expected ssv2-probe.pth.tar"):
        VJEPAExtractor(encoder_weights, device="cpu", probe=encoder_weights, config=TINY)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.5])
def test_jedi_matches_videojedi_mmd_poly(shift):
    """100 x mmd_poly(degree 2, coef0 0) of videojedi (sklearn polynomial_kernel) on the same float64 features,
    by the kernel means and by the streaming second moments, to 1e-9 relative (or 1e-12 absolute at 0)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 64))
    y = x.copy() if shift == 0.0 else rng.normal(shift, 1.0 + shift, size=(150, 64))
    expected = 100 * mmd_module.mmd_poly(x, y, degree=2, coef0=0)
    from_stats = jedi_from_stats(FeatureStats.from_features(x[:120]).merge(FeatureStats.from_features(x[120:])),
                                 FeatureStats.from_features(y))
    for value in (jedi(x, y), from_stats):
        assert abs(value - expected) <= 1e-9 * abs(expected) + 1e-12
    assert abs(mmd_polynomial(x, y, degree=3, gamma=0.5, coef0=1.0)
               - mmd_module.mmd_poly(x, y, degree=3, gamma=0.5, coef0=1)) <= 1e-9 * abs(
        mmd_module.mmd_poly(x, y, degree=3, gamma=0.5, coef0=1))


def test_jedi_properties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 16))
    assert jedi(x, x) == pytest.approx(0.0, abs=1e-12)
    near, far = jedi(x, rng.normal(0.1, 1.0, size=(100, 16))), jedi(x, rng.normal(1.0, 1.0, size=(100, 16)))
    assert 0 < near < far
    assert jedi(x, x[::-1] * 1.0) == pytest.approx(0.0, abs=1e-12)  # a set, not a sequence
    with pytest.raises(MetricInputError, match="dimensions differ"):
        jedi(x, x[:, :8])


def test_registry_checks_both_checkpoints(tmp_path):
    """Local copies of vith16.pth.tar and the SSv2 probe are checked key by key (no checksum is published); the
    full-size files are written with stride-0 views of one value (a few kilobytes)."""
    from lumiere_eval.extractors.weights import UnverifiedWeightsWarning, get_spec, resolve

    zero = torch.zeros(1)
    encoder = {f"module.{k}": zero.expand(s) for k, s in reference_shapes("encoder", VIT_H16).items()}
    probe = {f"module.{k}": zero.expand(s) for k, s in reference_shapes("probe", VIT_H16).items()}
    torch.save({"target_encoder": encoder, "epoch": 300}, tmp_path / "vith16.pth.tar")
    torch.save({"classifier": probe, "epoch": 20}, tmp_path / "probe.pth.tar")
    for name, file in (("vjepa_vith16", "vith16.pth.tar"), ("vjepa_vith16_ssv2_probe", "probe.pth.tar")):
        assert get_spec(name).sha256 is None
        with pytest.warns(UnverifiedWeightsWarning, match="format checked, no published checksum"):
            assert not resolve(name, tmp_path / file, fetch_missing=False).verified
    with pytest.raises(WeightsError, match="no 'target_encoder'"):
        resolve("vjepa_vith16", tmp_path / "probe.pth.tar", fetch_missing=False)


def test_jedi_protocols_name_the_precision():
    from lumiere_eval.extractors import extractor_class
    from lumiere_eval.metrics.protocols import JEDI_PROTOCOLS, get_jedi_protocol

    assert sorted(JEDI_PROTOCOLS) == ["jedi5000_16f", "jedi5000_16f_bf16", "jedi5000_16f_fp16"]
    for name, dtype in (("jedi5000_16f", "fp32"), ("jedi5000_16f_fp16", "fp16"), ("jedi5000_16f_bf16", "bf16")):
        protocol = get_jedi_protocol(name)
        cls = extractor_class(protocol.extractor)
        assert cls.id == protocol.extractor and f"{cls.protocol}_{dtype}:" in protocol.id
        assert protocol.describe()["id"] == protocol.id
