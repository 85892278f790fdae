"""The metric registry: one entry per metric, its facts consistent with the protocols and read by every table."""
import numpy as np
import pytest

from lumiere_eval.metrics import bootstrap_ci, protocols, registry
from lumiere_eval.metrics.record import HIGHER_IS_BETTER

PROTOCOL_TABLES = {"fvd": protocols.FVD_PROTOCOLS, "is": protocols.IS_PROTOCOLS, "jedi": protocols.JEDI_PROTOCOLS}


def test_every_metric_the_harness_computes_is_an_entry():
    assert {"fvd", "kvd", "is", "clipsim", "fid", "cdfvd", "jedi", "temporal_flickering", "warping_error_dis",
            "dynamic_degree_dis", "clip_consistency_first"} <= set(registry.METRICS)
    with pytest.raises(registry.UnknownMetricError, match="unknown metric 'nope'; known: fvd, kvd"):
        registry.get_metric("nope")


@pytest.mark.parametrize("name", registry.names())
def test_entry_is_consistent(name):
    metric = registry.get_metric(name)
    assert metric.kind in ("set", "per-sample")
    assert metric.interval in registry.INTERVALS
    if metric.family in PROTOCOL_TABLES:
        assert metric.default_protocol in PROTOCOL_TABLES[metric.family]
    if metric.tier == "core":
        assert callable(metric.compute_function()) and metric.features and metric.weights
    else:
        assert metric.compute is None and not metric.features


def test_directions_have_one_owner():
    from lumiere_eval.human_study.agreement import PER_VIDEO_DIRECTIONS

    assert HIGHER_IS_BETTER == registry.higher_is_better()
    assert HIGHER_IS_BETTER["fvd"] is False and HIGHER_IS_BETTER["is"] is True
    assert HIGHER_IS_BETTER["is_prob_of_prompted_class"] is True
    assert HIGHER_IS_BETTER["temporal_flickering"] is True and HIGHER_IS_BETTER["warping_error_dis"] is False
    vbench = {name: True for name in registry.names("vbench")}  # VBench's per-video scores, all higher-is-better
    assert PER_VIDEO_DIRECTIONS == {"is_prob_of_prompted_class": True, "clipsim": True, **vbench}
    assert "dynamic_degree" in PER_VIDEO_DIRECTIONS and "temporal_flickering_static" in PER_VIDEO_DIRECTIONS


def test_interval_hooks_are_the_registered_methods():
    from lumiere_eval.metrics.intervals import set_metric_interval

    rows = np.random.default_rng(3).normal(size=(40, 5))
    statistic = lambda r: float(r.mean())  # noqa: E731
    clip = registry.interval_hook("clipsim")  # a mean: the percentile bootstrap
    assert clip(rows, statistic, 50, 7) == bootstrap_ci(rows, statistic, 50, seed=7)
    assert clip(rows, np.mean, 0, 7) == (None, None) and clip(rows[:1], np.mean, 50, 7) == (None, None)
    fvd = registry.interval_hook("fvd")  # a set metric: pooled-t about the value
    assert fvd(rows, statistic, 50, 7) == set_metric_interval(40, lambda i: statistic(rows[i]), statistic(rows), 50,
                                                              seed=7, method="pooled-t", floor=0.0)  # FVD's floor
    assert fvd(rows, statistic, 0, 7) == (None, None) and fvd(rows[:7], statistic, 50, 7) == (None, None)
    # chosen from the coverage benchmark (docs/statistics.md)
    assert {registry.get_metric(n).interval for n in ("fvd", "kvd", "is", "fid", "cdfvd", "jedi")} == {"pooled_t"}


def test_shared_jobs_are_named_once():
    assert registry.get_metric("fvd").features == registry.get_metric("kvd").features
