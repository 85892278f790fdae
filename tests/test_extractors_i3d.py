"""Native I3D: the state-dict layout of i3d_pretrained_400.pt, and its maths against an independent reference.

The reference below is written from the architecture description (piergiaj/pytorch-i3d `pytorch_i3d.py`,
as used by VideoGPT with `logits.mean(dim=2)`) as plain functions over the state dict, with TF's SAME
padding formula (out = ceil(in / stride), pad = (out - 1) * stride + kernel - in), so it shares no code with
lumiere_eval.extractors.i3d.
"""
from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lumiere_eval.extractors import weights
from lumiere_eval.extractors.i3d import FusedI3d, InceptionI3d, load_i3d

MIXED = {  # name: (b0, b1a, b1b, b2a, b2b, b3b) output channels, from the paper's Inception-v1 table
    "Mixed_3b": (64, 96, 128, 16, 32, 32), "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64), "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64), "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128), "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
BRANCHES = ("b0", "b1a", "b1b", "b2a", "b2b", "b3b")


def expected_keys() -> list[str]:
    units = ["Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3"] + [f"{m}.{b}" for m in MIXED for b in BRANCHES]
    keys = [f"{u}.{p}" for u in units for p in ("conv3d.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                                 "bn.running_var", "bn.num_batches_tracked")]
    return keys + ["logits.conv3d.weight", "logits.conv3d.bias"]


def random_official_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in the official layout, with non-trivial batch-norm statistics."""
    torch.manual_seed(seed)
    model = InceptionI3d()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)
            module.num_batches_tracked.fill_(1000)
    return model.state_dict()


# ---- independent reference -------------------------------------------------------------------------------

def _tf_same(x, kernel, stride):
    pads = []
    for size, k, s in zip(x.shape[2:], kernel, stride):
        out = math.ceil(size / s)
        total = max((out - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return F.pad(x, [p for pair in reversed(pads) for p in pair])


def _unit(sd, prefix, x, stride=(1, 1, 1), bn=True, eps=1e-3):
    w = sd[f"{prefix}.conv3d.weight"]
    x = F.conv3d(_tf_same(x, w.shape[2:], stride), w, sd.get(f"{prefix}.conv3d.bias"), stride)
    if not bn:
        return x
    x = F.batch_norm(x, sd[f"{prefix}.bn.running_mean"], sd[f"{prefix}.bn.running_var"], sd[f"{prefix}.bn.weight"],
                     sd[f"{prefix}.bn.bias"], training=False, eps=eps)
    return torch.relu(x)


def _pool(x, kernel, stride):
    return F.max_pool3d(_tf_same(x, kernel, stride), kernel, stride)


def reference_i3d(sd, x, pool_kernel=(2, 7, 7), eps=1e-3):
    x = _unit(sd, "Conv3d_1a_7x7", x, (2, 2, 2), eps=eps)
    x = _pool(x, (1, 3, 3), (1, 2, 2))
    x = _unit(sd, "Conv3d_2c_3x3", _unit(sd, "Conv3d_2b_1x1", x, eps=eps), eps=eps)
    x = _pool(x, (1, 3, 3), (1, 2, 2))
    for name in MIXED:
        if name == "Mixed_4b":
            x = _pool(x, (3, 3, 3), (2, 2, 2))
        if name == "Mixed_5b":
            x = _pool(x, (2, 2, 2), (2, 2, 2))
        x = torch.cat([_unit(sd, f"{name}.b0", x, eps=eps),
                       _unit(sd, f"{name}.b1b", _unit(sd, f"{name}.b1a", x, eps=eps), eps=eps),
                       _unit(sd, f"{name}.b2b", _unit(sd, f"{name}.b2a", x, eps=eps), eps=eps),
                       _unit(sd, f"{name}.b3b", _pool(x, (3, 3, 3), (1, 1, 1)), eps=eps)], dim=1)
    x = F.avg_pool3d(x, pool_kernel, stride=1)
    x = _unit(sd, "logits", x, bn=False)
    return x.squeeze(3).squeeze(3).mean(dim=2)


# ---- tests -----------------------------------------------------------------------------------------------

def test_state_dict_layout_is_the_official_one():
    sd = InceptionI3d().state_dict()
    assert len(sd) == 344
    assert list(sd) == expected_keys()
    assert tuple(sd["Conv3d_1a_7x7.conv3d.weight"].shape) == (64, 3, 7, 7, 7)
    assert tuple(sd["Mixed_4b.b0.conv3d.weight"].shape) == (192, 480, 1, 1, 1)
    assert tuple(sd["Mixed_5c.b1b.conv3d.weight"].shape) == (384, 192, 3, 3, 3)
    assert tuple(sd["logits.conv3d.weight"].shape) == (400, 1024, 1, 1, 1)
    assert tuple(sd["logits.conv3d.bias"].shape) == (400,)


@pytest.mark.parametrize("size", [(16, 64, 64), (11, 63, 61)])  # even and odd sizes exercise both SAME pads
def test_plain_and_fused_match_independent_reference(size):
    sd = random_official_state_dict()
    model = InceptionI3d(pool_kernel=(2, 2, 2))
    model.load_state_dict(sd)
    model.eval()
    x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        expected = reference_i3d(sd, x, pool_kernel=(2, 2, 2))
        plain = model(x)
        fused = FusedI3d(model)(x)
        fused_contiguous = FusedI3d(model, channels_last=False)(x)
    assert plain.shape == (2, 400)
    scale = expected.abs().max().item()
    assert scale > 1e-3  # not a degenerate all-zero output
    torch.testing.assert_close(plain, expected, atol=1e-5 * scale, rtol=1e-4)
    torch.testing.assert_close(fused, expected, atol=1e-4 * scale, rtol=1e-4)
    torch.testing.assert_close(fused_contiguous, expected, atol=1e-4 * scale, rtol=1e-4)
    assert not torch.allclose(plain[0], plain[1])  # different clips give different logits


@pytest.mark.parametrize("name,resize,eps", [("i3d-native", "tf-fvd-v1", 1e-3),
                                             ("i3d-videogpt", "videogpt-v1", 1e-5),
                                             ("i3d-cdfvd", "cdfvd-v1", 1e-5)])
def test_extractor_loads_official_layout_file_end_to_end(tmp_path, name, resize, eps):
    from lumiere_eval.extractors import create_extractor

    path = tmp_path / "i3d_pretrained_400.pt"
    torch.save(random_official_state_dict(), path)
    with pytest.warns(weights.UnverifiedWeightsWarning):
        extractor = create_extractor(name, path, device="cpu", batch_size=1)
    assert extractor.weights.status == "format checked, no published checksum"
    assert extractor.protocol == resize and extractor.describe()["bn_eps"] == eps
    clip = np.random.default_rng(0).integers(0, 256, (1, 9, 48, 64, 3), dtype=np.uint8)  # 9: the fewest frames
    features = extractor.extract(clip)
    assert features.shape == (1, 400) and features.dtype == np.float32
    # the same clip through the extractor's resize and the independent reference at full size (224)
    from lumiere_eval.video import get_resize_protocol

    x = get_resize_protocol(resize).apply(torch.from_numpy(clip))
    assert tuple(x.shape) == (1, 3, 9, 224, 224)
    with torch.inference_mode():
        expected = reference_i3d(torch.load(path, weights_only=True), x, eps=eps)
    np.testing.assert_allclose(features, expected.numpy(), atol=1e-4 * float(expected.abs().max()), rtol=1e-4)
    assert not extractor.model.training


def test_converted_state_dict_without_batch_counters_loads(tmp_path):
    """The public conversion scripts save 287 entries (no num_batches_tracked); the full dict has 344."""
    full = random_official_state_dict()
    converted = {k: v for k, v in full.items() if not k.endswith("num_batches_tracked")}
    assert (len(full), len(converted)) == (344, 287)
    paths = {}
    for label, sd in (("full", full), ("converted", converted)):
        paths[label] = tmp_path / f"{label}.pt"
        torch.save(sd, paths[label])
    with pytest.warns(weights.UnverifiedWeightsWarning):
        weights.resolve("i3d_pretrained_400", local_path=paths["converted"])
    x = torch.rand(1, 3, 9, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.inference_mode():
        outputs = [load_i3d(paths[label], pool_kernel=(1, 1, 1))(x) for label in ("full", "converted")]
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


def test_wrong_or_unsafe_state_dicts_are_refused(tmp_path):
    sd = random_official_state_dict()
    del sd["Mixed_4c.b2b.bn.bias"]
    missing = tmp_path / "missing.pt"
    torch.save(sd, missing)
    with pytest.raises(weights.WeightsError, match="missing \\['Mixed_4c.b2b.bn.bias'\\]"):
        load_i3d(missing)
    sd = random_official_state_dict()
    sd["logits.conv3d.weight"] = torch.zeros(101, 1024, 1, 1, 1)
    wrong = tmp_path / "wrong.pt"
    torch.save(sd, wrong)
    with pytest.raises(weights.WeightsError, match="wrong shape \\['logits.conv3d.weight'\\]"):
        weights.resolve("i3d_pretrained_400", local_path=wrong)
    unsafe = tmp_path / "unsafe.pt"
    unsafe.write_bytes(pickle.dumps(np.random.default_rng))  # a pickle naming a callable: weights_only refuses it
    with pytest.raises(weights.WeightsError, match="weights_only=True"):
        load_i3d(unsafe)
