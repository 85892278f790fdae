"""An extractor's rows do not depend on its call history: a TorchScript detector with the I3D signature gives the same
rows on its first call and its hundredth, and a run resumed at several points with an extractor reused in the same
process equals a clean run bit for bit, even after other code changed torch's thread count (as generation workers
and tests do with torch.set_num_threads(1))."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import moving_pattern

from lumiere_eval.extractors import create_extractor
from lumiere_eval.runner.cache import FeatureCache
from lumiere_eval.runner.features import FeatureJob, VideoItem, compute_features
from lumiere_eval.video import ClipSampling, write_video


class _Unit(nn.Module):
    def __init__(self, cin: int, cout: int, k: int):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, k, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=1e-3)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class I3DShaped(nn.Module):
    """StyleGAN-V's detector call signature over Conv3d + BatchNorm units, max-pooling and a 1x1x1 logit layer."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = _Unit(3, 16, 3), _Unit(16, 32, 3), _Unit(32, 32, 1)
        self.logits = nn.Conv3d(32, 400, 1)

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False):
        if rescale:
            x = x / 255.0 * 2 - 1
        if resize:
            x = F.interpolate(x, size=(x.shape[2], 48, 48), mode="trilinear", align_corners=False)
        x = self.b(F.max_pool3d(self.a(x), (1, 3, 3), (1, 2, 2), (0, 1, 1)))
        x = self.c(x) + x
        logits = self.logits(F.avg_pool3d(x, (2, 4, 4), 1)).mean(dim=(2, 3, 4))
        return logits if return_features else torch.softmax(logits, 1)


@pytest.fixture()
def detector(tmp_path):
    torch.manual_seed(0)
    module = I3DShaped().eval()
    for bn in (m for m in module.modules() if isinstance(m, nn.BatchNorm3d)):
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script deprecation notice
        torch.jit.script(module).save(str(tmp_path / "i3d.pt"))
    return tmp_path / "i3d.pt"


@pytest.fixture()
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _items(folder, n: int) -> list[VideoItem]:
    folder.mkdir()
    paths = [write_video(folder / f"v{i:02d}.mp4", moving_pattern(t=20, h=40, w=48, seed=i), fps=8) for i in range(n)]
    return [VideoItem(p, f"{i:064d}", p.name) for i, p in enumerate(paths)]


def test_the_hundredth_call_equals_the_first(detector, two_threads):
    extractor = create_extractor("i3d-torchscript", detector, device="cpu", batch_size=2)
    clips = np.random.default_rng(0).integers(0, 256, (2, 16, 40, 48, 3), dtype=np.uint8)
    first = extractor.extract(clips)
    others = np.random.default_rng(1).integers(0, 256, (3, 16, 40, 48, 3), dtype=np.uint8)
    for _ in range(100):
        extractor.extract(others)
    np.testing.assert_array_equal(extractor.extract(clips), first)


def test_a_resumed_torchscript_run_equals_a_clean_one_at_every_resume_point(tmp_path, detector, two_threads):
    items = _items(tmp_path / "videos", 9)
    job = FeatureJob("fvd", create_extractor("i3d-torchscript", detector, device="cpu", batch_size=3),
                     ClipSampling("random", 16))
    clean = np.stack(compute_features(items, [job], FeatureCache(tmp_path / "clean"), 3, progress=False,
                                      decode_workers=0)["fvd"])
    torch.set_num_threads(1)  # what a generation worker or another test leaves behind
    for blocks_done in (1, 2):  # killed after the first, after the second of three blocks
        resumed_cache = FeatureCache(tmp_path / f"part{blocks_done}")
        compute_features(items[:3 * blocks_done], [job], resumed_cache, 3, progress=False, decode_workers=0)
        resumed = compute_features(items, [job], resumed_cache, 3, progress=False, decode_workers=0)["fvd"]
        np.testing.assert_array_equal(np.stack(resumed), clean)
    assert torch.get_num_threads() == 1  # the extractor restored the process's setting


def test_each_torchrun_rank_takes_its_own_gpu():
    from lumiere_eval.extractors.base import local_gpu, pick_device

    assert [local_gpu({"LOCAL_RANK": str(rank)}, 8) for rank in range(8)] == list(range(8))
    assert local_gpu({"LOCAL_RANK": "9"}, 8) == 1 and local_gpu({}, 8) == 0
    assert pick_device("cpu") == torch.device("cpu") and pick_device("cuda:3") == torch.device("cuda", 3)
