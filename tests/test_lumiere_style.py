"""Stylized generation: the sketch style of the synthetic domain, a U-Net fine-tuning stage on styled frames,
and the spatial-weight interpolation of a STUNet with a style U-Net (tiny real models, fixed seeds)."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from lumiere_eval.models.lumiere.checkpoint import load_model
from lumiere_eval.training.motion_check import DIRECTIONS, direction_of
from lumiere_eval.models.lumiere.stunet import STUNet
from lumiere_eval.models.lumiere.style import (StyleAlphaError, StyleMismatchError, UnknownStyleError,
                                               load_style_t2i, available_styles, style_checkpoint, stylize)
from lumiere_eval.training.lumiere_stages import BatchMaker, StageConfig, TrainConfigError, train_stage
from lumiere_eval.models.lumiere.unet import UNet
from lumiere_eval.datasets.synthetic import (CLASSES, STYLES, SyntheticDomain, SyntheticDomainError, apply_style,
                                              clip_spec, render)

VOCAB = SyntheticDomain().vocabulary()
TINY = {"channels": [8, 16], "attention_levels": [1], "text_dim": 16, "text_depth": 1, "heads": 2}


def seeded_unet(seed: int, **overrides) -> UNet:
    """A tiny U-Net with every weight perturbed (its zero-initialised output layer would hide differences)."""
    torch.manual_seed(seed)
    model = UNet(vocab=overrides.pop("vocab", VOCAB), **{**TINY, **overrides}).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def models():
    """A STUNet with non-zero temporal weights around one U-Net, and a differently seeded style U-Net."""
    stunet = STUNet.inflate(seeded_unet(0), heads=2)
    torch.manual_seed(2)
    with torch.no_grad():
        for p in stunet.temporal.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return stunet.eval(), seeded_unet(1)


def run(model: STUNet, seed: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, 4, 8, 8, generator=g)
    tokens = model.t2i.text.tokenizer.encode(["a red square moving left on a dark background", ""])
    with torch.no_grad():
        return model(x, torch.tensor([0.3, 0.8]), tokens)


def test_alpha_zero_is_the_original_stunet_and_inputs_are_untouched(models):
    stunet, style = models
    before = {k: v.clone() for k, v in stunet.state_dict().items()}
    styled = stylize(stunet, style, 0.0)
    assert styled is not stunet and torch.equal(run(styled), run(stunet)) and run(stunet).abs().min() > 0
    for name, value in stunet.state_dict().items():
        assert torch.equal(value, before[name]) and torch.equal(styled.state_dict()[name], value), name


def test_alpha_one_is_the_style_spatial_weights_with_the_original_text_encoder_and_temporal_weights(models):
    stunet, style = models
    styled = stylize(stunet, style, 1.0)
    for name, value in style.state_dict().items():
        kept = stunet.t2i.state_dict()[name] if name.startswith("text.") else value
        assert torch.equal(styled.t2i.state_dict()[name], kept), name
    assert any(n.startswith("text.") for n in style.state_dict())
    for name, value in stunet.temporal.state_dict().items():
        assert torch.equal(styled.temporal.state_dict()[name], value), name
    assert not torch.allclose(run(styled), run(stunet))


def test_interpolation_is_linear_in_alpha_on_the_weights(models):
    stunet, style = models
    original, target = stunet.t2i.state_dict(), style.state_dict()
    blends = {a: stylize(stunet, style, a).t2i.state_dict() for a in (0.25, 0.5, 0.75)}
    for name in original:
        if name.startswith("text."):   # the text encoder is not interpolated
            assert all(torch.equal(blend[name], original[name]) for blend in blends.values()), name
            continue
        for alpha, blend in blends.items():
            expected = alpha * target[name] + (1 - alpha) * original[name]
            assert torch.allclose(blend[name], expected, atol=1e-6, rtol=0), (name, alpha)
        # Equal steps in alpha are equal steps in weight space.
        step_low, step_high = blends[0.5][name] - blends[0.25][name], blends[0.75][name] - blends[0.5][name]
        assert torch.allclose(step_low, step_high, atol=1e-6, rtol=0), name


@pytest.mark.parametrize("alpha", [-0.1, 1.01, float("nan"), float("inf"), "half", None])
def test_bad_alpha_is_refused(models, alpha):
    with pytest.raises(StyleAlphaError, match=r"\[0, 1\]"):
        stylize(*models, alpha)


def test_mismatched_models_are_refused(models):
    stunet, _ = models
    with pytest.raises(StyleMismatchError, match="channels"):
        stylize(stunet, seeded_unet(1, channels=[8, 8]), 0.5)
    with pytest.raises(StyleMismatchError, match="vocab"):
        stylize(stunet, seeded_unet(1, vocab=VOCAB + ["sketchy"]), 0.5)
    with pytest.raises(StyleMismatchError, match="cond_channels"):   # e.g. the widened conditional STUNet
        stylize(STUNet.inflate(seeded_unet(0, cond_channels=4), heads=2), seeded_unet(1), 0.5)
    with pytest.raises(StyleMismatchError, match="STUNet and a UNet"):
        stylize(seeded_unet(0), seeded_unet(1), 0.5)


def test_unknown_style_lists_the_shipped_ones():
    with pytest.raises(UnknownStyleError, match="no-such-style.*styles in .*lumiere-tiny") as info:
        style_checkpoint("no-such-style")
    for name in available_styles():
        assert name in str(info.value)
    with pytest.raises(UnknownStyleError):
        load_style_t2i("../t2i")


@pytest.mark.skipif("sketch" not in available_styles(), reason="t2i-sketch.pt is not shipped yet")
def test_shipped_sketch_style_blends_into_the_shipped_stunet():
    from lumiere_eval.assets import asset

    style = load_style_t2i("sketch")
    stunet = load_model(str(asset("models", "lumiere-tiny", "stunet.pt")))
    styled = stylize(stunet, style, 0.75)
    meta = json.loads(style_checkpoint("sketch").with_suffix(".json").read_text())
    config = json.loads((style_checkpoint("sketch").parent / "configs" / "t2i-sketch.json").read_text())
    assert isinstance(styled, STUNet) and meta["stage"] == "t2i-sketch" and meta["data"] == config["data"]
    for name, value in stunet.temporal.state_dict().items():
        assert torch.equal(styled.temporal.state_dict()[name], value), name


def test_plain_rendering_is_byte_identical_to_before_styles_existed():
    # SHA-256 of these renders made with synthetic.py as of commit ac6e860 (before STYLES was added).
    domain = SyntheticDomain(16, 16, 16)
    digest = hashlib.sha256()
    for i in range(0, domain.split_size("test"), 7):
        digest.update(render(domain.spec(i, "test"), 16, 16, 16).tobytes())
        digest.update(render(domain.spec(i, "test"), 32, 24, 8, style=None).tobytes())
    assert digest.hexdigest() == "023523ed3ab2bda203fd6b3d4b0c458c7b072895f9d0e8681d685d7dd20cd6d4"


@pytest.mark.parametrize("size", [16, 32])
def test_sketch_is_deterministic_light_and_keeps_the_motion(size):
    domain, styled = SyntheticDomain(size, size, 16), SyntheticDomain(size, size, 16, style="sketch")
    assert set(STYLES) == {"sketch"}
    for name in DIRECTIONS:
        index = CLASSES.index(name) * domain.split_size("test") // len(CLASSES)
        plain, label, caption = domain.sample(index, "test")
        frames, label2, caption2 = styled.sample(index, "test")
        assert (label2, caption2) == (label, caption)          # same prompt, new look
        assert np.array_equal(frames, styled.sample(index, "test")[0])
        assert np.array_equal(frames, apply_style(plain, "sketch"))
        assert frames.mean() > 170 > plain.mean()              # light paper instead of dark/grey/teal
        assert direction_of(frames) == name == direction_of(plain)
    blink = render(clip_spec(CLASSES.index("Blink"), 9, 2), size, size, 16, "sketch")
    assert len(np.unique(blink.reshape(16, -1), axis=0)) == 2   # on/off frames stay distinct
    with pytest.raises(SyntheticDomainError, match="watercolour.*sketch"):
        SyntheticDomain(style="watercolour")
    with pytest.raises(SyntheticDomainError, match="watercolour"):
        render(clip_spec(0, 9, 2), 8, 8, 2, style="watercolour")


def test_unet_finetune_stage_trains_every_weight_on_styled_frames(tmp_path):
    data = {"height": 8, "width": 8, "num_frames": 4}
    train = {"batch": 2, "save_every_s": 1000, "lr": 1e-3}
    paths = {}
    for name, body in {"t2i": {"model": TINY, "data": data},
                       "t2i-sketch": {"parent": "t2i", "finetune": {}, "data": {**data, "style": "sketch"}}}.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps({"stage": name, "train": {**train, "ema": 0.0}, **body}))
    runs = tmp_path / "runs"
    parent = load_model(train_stage(StageConfig.load(paths["t2i"]), runs, steps=1, progress=False))
    tuned = load_model(train_stage(StageConfig.load(paths["t2i-sketch"]), runs, steps=2, progress=False))
    assert isinstance(tuned, UNet) and tuned.config == parent.config
    changed = {n for n, p in tuned.state_dict().items() if not torch.equal(p, parent.state_dict()[n])}
    assert {"text.embed.weight", "blocks.0.layers.0.weight", "blocks.5.layers.0.conv1.weight"} <= changed
    assert len(torch.load(runs / "t2i-sketch" / "state.pt", weights_only=True)["losses"]) == 2
    # The styled batches are the plain batches in the sketch style, captions unchanged.
    plain, styled = BatchMaker(data, 0, 0.0, 0.0), BatchMaker({**data, "style": "sketch"}, 0, 0.0, 0.0)
    (video, captions, _), (video_s, captions_s, _) = plain(5, 3), styled(5, 3)
    assert captions == captions_s and video_s.mean() > video.mean()
    with pytest.raises(TrainConfigError, match="data.style.*sketch"):
        BatchMaker({**data, "style": "oil"}, 0, 0.0, 0.0)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"stage": "bad", "parent": "t2i", "finetune": {"train_input": True}, "data": data}))
    with pytest.raises(TrainConfigError, match="takes no options"):
        train_stage(StageConfig.load(bad), runs, steps=1, progress=False)
