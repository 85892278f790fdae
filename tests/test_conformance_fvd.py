"""Conformance of the FVD protocols: our numbers against the reference implementations on the same inputs.

- `fvd2048_16f_cdfvd` against cd-fvd 0.1.1 (`cdfvd.fvd.cdfvd.compute_fvd`, its own I3D network class from
  `cdfvd/third_party/i3d/pytorch_i3d.py`, its preprocessing, its FeatureStats and its scipy sqrtm distance) on
  the same uint8 arrays and the same random weights in the i3d_pretrained_400 layout. cd-fvd never downloads
  here: its object is assembled around a network we build and load ourselves.
- The unbiased distance of `fvd2048_16f_videogpt` / `fvd2048_16f_tats` against VideoGPT's and TATS's
  `frechet_distance` (transcribed: neither is on the package registry).
- `frechet_distance` against pytorch-fid 0.3.0's `calculate_frechet_distance` and a float64 textbook
  scipy.linalg.sqrtm computation, on well- and ill-conditioned full-rank spectra and on rank-deficient ones.
Measured differences are recorded in docs/conformance.md.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from lumiere_eval.extractors import create_extractor
from lumiere_eval.extractors.i3d import InceptionI3d
from lumiere_eval.extractors.weights import UnverifiedWeightsWarning
from lumiere_eval.metrics import FeatureStats, frechet_distance, frechet_distance_from_stats
from lumiere_eval.metrics.protocols import get_fvd_protocol

FVD_TOLERANCE = 1e-5  # relative, the bar for the cd-fvd protocol


def random_i3d_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in the i3d_pretrained_400 layout with non-trivial batch-norm statistics; He-initialised
    convolutions keep the signal alive through the 60 layers (torch's default init lets it fade to the logits'
    bias, and every clip would get nearly the same features)."""
    torch.manual_seed(seed)
    model = InceptionI3d()
    for module in model.modules():
        if isinstance(module, torch.nn.Conv3d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)
    return model.state_dict()


def cdfvd_reference(state_dict: dict, real: np.ndarray, fake: np.ndarray):
    """(cd-fvd's FVD from `compute_fvd`, its real features) with cd-fvd's own network holding `state_dict`."""
    pytest.importorskip("cdfvd", reason="cd-fvd (dev extra) is not installed")
    from cdfvd import fvd as cd
    from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d as CdI3d
    from cdfvd.utils.metric_utils import FeatureStats as CdStats

    network = CdI3d(400, in_channels=3)
    network.load_state_dict(state_dict)  # strict: the same 344 names
    scorer = cd.cdfvd.__new__(cd.cdfvd)  # its __init__ would download weights; set what compute_fvd reads
    scorer.model, scorer.feature_fn = network.eval(), cd.get_i3d_logits
    scorer.device, scorer.model_dtype = "cpu", torch.float32
    scorer.real_stats = CdStats(max_items=None, capture_mean_cov=True, capture_all=True)
    scorer.fake_stats = CdStats(max_items=None, capture_mean_cov=True, capture_all=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # sqrtm's `disp` on SciPy 1.17
        value = float(scorer.compute_fvd(real, fake))
    return value, scorer.real_stats.get_all()


def test_cdfvd_protocol_is_cd_fvd_i3d():
    protocol = get_fvd_protocol("fvd2048_16f_cdfvd")
    assert protocol.extractor == "i3d-cdfvd" and not protocol.unbiased_covariance


def structured_clips(n: int, seed: int, frames: int = 9, height: int = 30, width: int = 40) -> np.ndarray:
    """uint8 clips that differ in brightness, colour and moving stripes (random noise alone gives every clip
    nearly the same I3D features)."""
    rng = np.random.default_rng(seed)
    x = np.arange(width)[None, None, None, :, None]
    t = np.arange(frames)[None, :, None, None, None]
    level = rng.uniform(30, 220, (n, 1, 1, 1, 3))
    stripes = np.sin(x / rng.uniform(1.5, 6, (n, 1, 1, 1, 1)) + t * rng.uniform(0, 1, (n, 1, 1, 1, 1)))
    noise = rng.normal(0, 15, (n, frames, height, width, 3))
    return np.clip(level + 60 * stripes + noise, 0, 255).astype(np.uint8)


@pytest.mark.slow  # about 20 s on one thread: eight 9-frame clips through two full-size (224x224) I3Ds
def test_fvd_cdfvd_protocol_matches_cd_fvd_compute_fvd(tmp_path):
    torch.set_num_threads(1)
    state_dict = random_i3d_state_dict()
    converted = {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "i3d_pretrained_400.pt"
    torch.save(converted, path)  # the 287-key file the public conversion scripts write
    real, fake = structured_clips(2, seed=0), structured_clips(2, seed=1)
    reference, reference_features = cdfvd_reference(state_dict, real, fake)
    with pytest.warns(UnverifiedWeightsWarning):
        extractor = create_extractor("i3d-cdfvd", path, device="cpu", batch_size=2)
    ours_real, ours_fake = extractor.extract(real), extractor.extract(fake)
    scale = float(np.abs(reference_features).max())
    feature_error = float(np.abs(ours_real - reference_features).max()) / scale
    ours = frechet_distance_from_stats(FeatureStats.from_features(ours_real), FeatureStats.from_features(ours_fake),
                                       unbiased=False)
    print(f"\ncd-fvd i3d: FVD ours {ours:.10g} cd-fvd {reference:.10g} relative {abs(ours - reference) / reference:.2e}; "
          f"features max |diff| / max |feature| {feature_error:.2e}")
    assert reference > 1.0 and feature_error < FVD_TOLERANCE
    assert ours == pytest.approx(reference, rel=FVD_TOLERANCE, abs=0)


def test_cdfvd_distance_maths_match_ours_on_full_rank_features():
    """cd-fvd's FeatureStats (float64 sums, biased covariance) and scipy-sqrtm distance against ours, N > D."""
    pytest.importorskip("cdfvd", reason="cd-fvd (dev extra) is not installed")
    from cdfvd import fvd as cd
    from cdfvd.utils.metric_utils import FeatureStats as CdStats

    rng = np.random.default_rng(1)
    real = rng.normal(size=(300, 40)) @ rng.normal(size=(40, 40))
    fake = rng.normal(0.2, 1.1, size=(280, 40)) @ rng.normal(size=(40, 40))
    stats = [CdStats(max_items=None, capture_mean_cov=True) for _ in range(2)]
    stats[0].append(real)
    stats[1].append(fake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        reference = float(cd.cdfvd.compute_fvd_from_stats(None, stats[1], stats[0]))
    # cd-fvd casts features to float32 before its float64 sums: give ours the same rows
    ours = frechet_distance_from_stats(FeatureStats.from_features(real.astype(np.float32)),
                                       FeatureStats.from_features(fake.astype(np.float32)), unbiased=False)
    assert ours == pytest.approx(reference, rel=1e-9, abs=0)


# ---- the distance itself -------------------------------------------------------------------------------

def textbook_frechet(mu1, s1, mu2, s2) -> float:
    """float64 d^2 with scipy.linalg.sqrtm(S1 S2), real part (StyleGAN-V / cd-fvd / pytorch-fid's maths)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def ill_conditioned_pair(dim: int = 64, low: float = 1e-10, seed: int = 0):
    """Full-rank covariances with spectra from 1 down to `low`, in a signed-permutation basis (so every
    eigenvalue, tiny ones included, is exact in float64 and the reference is exact too)."""
    rng = np.random.default_rng(seed)
    basis = np.eye(dim)[rng.permutation(dim)] * rng.choice([-1.0, 1.0], dim)[:, None]
    a = np.logspace(0, np.log10(low), dim)
    b = a * rng.uniform(0.5, 2.0, dim)
    exact = 1e-6 * dim + float(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))  # |mu1 - mu2|^2 + sum (sqrt a - sqrt b)^2
    return np.zeros(dim), basis @ np.diag(a) @ basis.T, np.full(dim, 1e-3), basis @ np.diag(b) @ basis.T, exact


@pytest.mark.parametrize("low", [1e-6, 1e-10, 1e-13])
def test_frechet_is_exact_on_ill_conditioned_full_rank_spectra(low):
    from pytorch_fid.fid_score import calculate_frechet_distance

    mu1, s1, mu2, s2, exact = ill_conditioned_pair(low=low)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fid = float(calculate_frechet_distance(mu1, s1, mu2, s2))
    ours = frechet_distance(mu1, s1, mu2, s2)
    print(f"\nspectrum down to {low:g}: ours {abs(ours - exact) / exact:.1e}, pytorch-fid "
          f"{abs(fid - exact) / exact:.1e}, scipy {abs(textbook_frechet(mu1, s1, mu2, s2) - exact) / exact:.1e}")
    assert ours == pytest.approx(exact, rel=1e-9, abs=0)
    assert ours == pytest.approx(fid, rel=1e-9, abs=0)


def test_frechet_matches_scipy_on_rotated_full_rank_and_rank_deficient_covariances():
    rng = np.random.default_rng(3)
    for n in (200, 30):  # 200 > 40 dimensions: full rank; 30: both rank-deficient
        x, y = rng.normal(size=(n, 40)), rng.normal(0.3, 1.2, size=(n, 40))
        args = (x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = textbook_frechet(*args)
        assert frechet_distance(*args) == pytest.approx(reference, rel=1e-9 if n > 40 else 1e-6, abs=0)


def tats_frechet_distance(x1: torch.Tensor, x2: torch.Tensor) -> float:
    """TATS / VideoGPT `frechet_distance` (TF-GAN's trace_sqrt_product with SVD square roots, 1e-10 cut,
    unbiased torch `cov`), transcribed; run here on float64 tensors."""
    def sqrtm_svd(mat, eps=1e-10):
        u, s, v = torch.svd(mat)
        return u @ torch.diag(torch.where(s < eps, s, torch.sqrt(s))) @ v.t()

    def cov(m):
        m = m.t()
        centred = m - m.mean(dim=1, keepdim=True)
        return centred @ centred.t() / (m.size(1) - 1)

    sigma, sigma_w = cov(x1), cov(x2)
    root = sqrtm_svd(sigma)
    trace = torch.trace(sigma + sigma_w) - 2.0 * torch.trace(sqrtm_svd(root @ sigma_w @ root))
    return float(trace + ((x1.mean(0) - x2.mean(0)) ** 2).sum())


def test_videogpt_and_tats_distance_maths_match_ours_unbiased():
    """fvd2048_16f_videogpt / fvd2048_16f_tats use the unbiased covariance of VideoGPT's and TATS's torch code."""
    for name in ("fvd2048_16f_videogpt", "fvd2048_16f_tats"):
        assert get_fvd_protocol(name).unbiased_covariance
    rng = np.random.default_rng(4)
    real = rng.normal(size=(300, 40)) @ rng.normal(size=(40, 40))
    fake = rng.normal(0.2, 1.1, size=(280, 40)) @ rng.normal(size=(40, 40))
    reference = tats_frechet_distance(torch.from_numpy(real), torch.from_numpy(fake))
    ours = frechet_distance_from_stats(FeatureStats.from_features(real), FeatureStats.from_features(fake))
    print(f"\nVideoGPT/TATS distance maths: relative {abs(ours - reference) / reference:.1e}")
    assert ours == pytest.approx(reference, rel=1e-9, abs=0)
