"""Conformance of the kernel distance (KID / KVD) with torchmetrics 1.9's KernelInceptionDistance maths
(`torchmetrics.image.kid.poly_mmd`: cubic polynomial kernel, gamma = 1/d, coef 1, unbiased MMD^2) on the
same features. With one subset holding every sample the subset draw is a permutation, which MMD^2 ignores,
so the two must agree to round-off; with several subsets the two draw different random subsets."""
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
