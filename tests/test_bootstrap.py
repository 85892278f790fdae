"""The percentile bootstrap over groups of rows (a cluster bootstrap: several seeds of one prompt)."""
from __future__ import annotations

import numpy as np
import pytest

from lumiere_eval.metrics.bootstrap import bootstrap_ci
from lumiere_eval.metrics.checks import MetricInputError


def test_groups_are_resampled_whole():
    labels = np.repeat(np.arange(10), 3)  # ten prompts, three seeds each

    def whole_groups(rows):  # 1 when every label in the resample appears a multiple of 3 times
        return float(all(n % 3 == 0 for n in np.unique(rows, return_counts=True)[1]))

    assert bootstrap_ci(labels, whole_groups, 200, groups=labels) == (1.0, 1.0)
    assert bootstrap_ci(labels, whole_groups, 200) == (0.0, 0.0)


def test_clustered_rows_give_a_wider_interval_than_rows_taken_as_independent():
    rng = np.random.default_rng(0)
    prompts = np.repeat(np.arange(40), 5)
    scores = rng.normal(0, 1, 40)[prompts] + rng.normal(0, 0.1, len(prompts))  # the prompt decides the score
    rows = np.subtract(*bootstrap_ci(scores, np.mean, 500, seed=1)[::-1])
    groups = np.subtract(*bootstrap_ci(scores, np.mean, 500, seed=1, groups=prompts)[::-1])
    assert groups / rows == pytest.approx(np.sqrt(5), rel=0.25)  # the design effect of 5 near-copies


def test_group_labels_must_match_the_rows():
    with pytest.raises(MetricInputError, match="3 group labels for 4 rows"):
        bootstrap_ci(np.arange(4.0), np.mean, 10, groups=["a", "b", "a"])
    with pytest.raises(MetricInputError, match="at least 2 groups"):
        bootstrap_ci(np.arange(4.0), np.mean, 10, groups=["a"] * 4)
