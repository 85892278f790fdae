"""The direction check scores real clips perfectly, reversed clips never, and noise near chance."""
from __future__ import annotations

import numpy as np

from lumiere_eval.training.motion_check import direction_accuracy, direction_clips
from lumiere_eval.datasets.synthetic import SyntheticDomain


def test_direction_check_on_real_reversed_and_noise_clips():
    assert direction_accuracy(None, per_class=3) == 1.0
    domain = SyntheticDomain(16, 16, 16)
    by_caption = {caption: domain.sample(i, "test")[0] for i, _, caption in direction_clips(3)}
    assert direction_accuracy(lambda captions, seeds: [by_caption[c][::-1] for c in captions], per_class=3) == 0.0
    rng = np.random.default_rng(0)
    noise = direction_accuracy(lambda captions, seeds: [rng.integers(0, 256, (16, 16, 16, 3), dtype=np.uint8)
                                                        for _ in captions], per_class=25)
    assert 0.1 < noise < 0.45
