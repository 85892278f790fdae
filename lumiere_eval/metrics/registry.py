"""The metric registry: every metric the harness computes, one entry each, and the one owner of its facts.

An entry (`Metric`) says what a metric is (name, better direction, kind: a set metric computed from feature rows of
two sets, or a per-sample score averaged over videos), under which protocol family it is computed and its default
protocol there, which feature jobs it needs (job name, extractor, clip sampling, real and/or generated side; metrics
naming the same job share one extractor pass: FVD and KVD read one I3D pass), the function that turns rows into a
value (`compute`, "module:function", imported only when used), the interval hook that puts an interval on that
value (`interval`, one name per metric from `INTERVALS`), the per-sample fields it writes into samples.jsonl, and the
weights it needs. Directions read anywhere (result records, compare, curves, study agreement, dashboard) come
from here.

How to add a metric (docs/adding_a_metric.md has the worked example, precision/recall):
1. Write the maths as a pure function of feature rows in its own module under `lumiere_eval/metrics/`.
2. Add one `Metric(...)` line to `METRICS` below: its name, direction, kind, family and default protocol, the
   feature job it reads (reuse an existing job name to share its extractor pass), `compute` naming a function
   `(real_rows, fake_rows, protocol, num_resamples, seed, interval) -> dict` with `value`, `ci_low`, `ci_high`
   and any extras, and the weights it needs.
3. Add its tests (a property test, and the reference implementation on the same features).
Everything else (the `--metrics` choices, the record entry and its direction, compare/curves rows, the dashboard
column, `--list-metrics`) follows from the entry.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Literal

import numpy as np

from lumiere_eval import LumiereEvalError

Kind = Literal["set", "per-sample"]
Side = Literal["real", "fake"]


class UnknownMetricError(LumiereEvalError):
    """A metric name that is not in the registry."""


@dataclass(frozen=True)
class FeatureNeed:
    """One feature job a metric reads: `job` names it (metrics naming the same job share one pass), `extractor`
    is the protocol's extractor unless fixed here, `sampling` "protocol" (the protocol's real/fake clip),
    "none" (the extractor picks frames itself), `kind` the runner's feature kind, `sides` which sets it reads."""

    job: str
    sides: tuple[Side, ...] = ("real", "fake")
    extractor: str | None = None  # None: the protocol's `extractor`
    sampling: str = "protocol"
    kind: str = "clip"


@dataclass(frozen=True)
class Metric:
    """A registered metric (see the module docstring for each field's meaning)."""

    name: str
    title: str
    higher_is_better: bool | None  # None: neither; compare with real videos
    kind: Kind
    family: str  # protocol family: "fvd" (FVD_PROTOCOLS), "is", "jedi", "clipsim", "motion"
    default_protocol: str | None
    features: tuple[FeatureNeed, ...] = ()
    compute: str | None = None  # "module:function", rows -> {"value", "ci_low", "ci_high", ...}
    interval: str = "percentile_bootstrap"  # a key of INTERVALS
    per_sample: tuple[str, ...] = ()  # samples.jsonl fields this metric writes (higher_is_better applies)
    weights: tuple[str, ...] = ()  # weight registry names (lumiere_eval.extractors.weights); () = weight-free
    tier: str = "core"  # "core": computed by `ucf101`/`metrics`; "motion": by the motion tier (motion.json);
    # "vbench": by the VBench tier (lumiere_eval.runner.vbench_tier), from `metrics`/`ucf101` --metrics
    statistic: str | None = None  # set metrics: "module:function", (real, fake, protocol) -> f(positions) -> value
    min_videos: int = 2  # a set metric's fewest videos on each side it reads (a covariance needs 2)
    floor: float | None = None  # the least value the metric can take; a set metric's interval stops there

    def compute_function(self) -> Callable:
        """The function `compute` names, imported now."""
        return _load(self.compute)

    def statistic_function(self) -> Callable:
        """The function `statistic` names (set metrics; for paired differences and curves), imported now."""
        return _load(self.statistic)


def _load(target: str) -> Callable:
    import importlib

    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def percentile_bootstrap(data: np.ndarray, statistic: Callable[[np.ndarray], float], num_resamples: int,
                         seed: int, estimate: float | None = None, groups=None) -> tuple[float | None, float | None]:
    """Seeded 95% percentile bootstrap of `statistic` over the rows of `data`, or over whole `groups` (a label per
    row) when given (None, None when no resamples are asked for or fewer than two rows or groups are given);
    `estimate` is not used (the percentiles are not centred)."""
    from lumiere_eval.metrics.bootstrap import bootstrap_ci

    if not num_resamples or len(data) < 2 or (groups is not None and len(set(groups)) < 2):
        return None, None
    return bootstrap_ci(data, statistic, num_resamples, seed=seed, groups=groups)


def set_metric_interval_hook(data: np.ndarray, statistic: Callable[[np.ndarray], float], num_resamples: int,
                             seed: int, estimate: float | None = None, floor: float | None = None, *,
                             method: str) -> tuple[float | None, float | None]:
    """A set metric's interval by `method` (`intervals.set_metric_interval`: `statistic` recomputed on random
    halves of `data` without replacement, for pooled-t also on halves of each half), about `estimate` (the value
    on all rows; computed when None), the lower end at least `floor`; (None, None) without resamples or with
    fewer rows than the method takes (`intervals.min_samples`)."""
    from lumiere_eval.metrics.intervals import min_samples, set_metric_interval

    if not num_resamples or len(data) < min_samples(method):
        return None, None
    estimate = statistic(data) if estimate is None else estimate
    return set_metric_interval(len(data), lambda idx: statistic(data[idx]), estimate, num_resamples, seed=seed,
                               method=method, floor=floor)


# Interval methods by name; a metric's `interval` picks one (coverage per metric: docs/statistics.md).
# the name a record gives each method (`interval_method` of a metric entry)
INTERVAL_METHOD_NAMES = {"percentile_bootstrap": "percentile", "half_sampling": "half-sampling",
                         "half_sampling_sqrt": "half-sampling-sqrt", "pooled_t": "pooled-t"}
_SET_HOOKS = ("half_sampling", "half_sampling_sqrt", "pooled_t")  # the hooks that take the metric's floor
INTERVALS: dict[str, Callable] = {
    "percentile_bootstrap": percentile_bootstrap,
    **{key: partial(set_metric_interval_hook, method=INTERVAL_METHOD_NAMES[key]) for key in _SET_HOOKS},
    "none": lambda data, statistic, num_resamples, seed, estimate=None: (None, None)}


def interval_hook(name: str) -> Callable[..., tuple[float | None, float | None]]:
    """The interval function of metric `name`: `(data, statistic, num_resamples, seed, estimate=None) -> (low,
    high)`, with the metric's floor bound in for the set-metric hooks; percentile ignores `estimate`."""
    metric = get_metric(name)
    hook = INTERVALS[metric.interval]
    return partial(hook, floor=metric.floor) if metric.interval in _SET_HOOKS else hook


_I3D, _C3D, _CLIP = ("i3d_torchscript", "i3d_pretrained_400"), ("c3d_ucf101",), ("clip_vit_b32",)
_VALUES = "lumiere_eval.metrics.values"
_MOTION_PIXEL = "weight-free (OpenCV DIS flow)"

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("fvd", "FVD", False, "set", "fvd", "fvd2048_16f", (FeatureNeed("fvd"),), f"{_VALUES}:fvd",
           interval="pooled_t", weights=_I3D, statistic=f"{_VALUES}:fvd_statistic", floor=0.0),
    Metric("kvd", "KVD", False, "set", "fvd", "fvd2048_16f", (FeatureNeed("fvd"),), f"{_VALUES}:kvd",
           interval="pooled_t", weights=_I3D, statistic=f"{_VALUES}:kvd_statistic"),
    Metric("is", "IS", True, "set", "is", "is10k_tgan_ucf", (FeatureNeed("is", ("fake",)),),
           f"{_VALUES}:inception", per_sample=("is_prob_of_prompted_class",), interval="pooled_t",
           weights=_C3D, statistic=f"{_VALUES}:inception_statistic", floor=1.0),
    Metric("clipsim", "CLIPSIM", True, "per-sample", "clipsim", None,
           (FeatureNeed("clipsim", ("fake",), extractor="clip", sampling="none", kind="frames"),),
           f"{_VALUES}:clipsim", per_sample=("clipsim",), weights=_CLIP),
    Metric("fid", "frame FID", False, "set", "fvd", "fvd2048_16f",
           (FeatureNeed("fid", extractor="inception-fid", kind="frame_rows"),), f"{_VALUES}:frame_fid",
           interval="pooled_t", weights=("pt_inception",), statistic=f"{_VALUES}:frame_fid_statistic", floor=0.0),
    Metric("cdfvd", "cd-FVD", False, "set", "fvd", "cdfvd2048_16f", (FeatureNeed("cdfvd"),), f"{_VALUES}:fvd",
           interval="pooled_t", weights=("videomae_v2_g_ssv2",), statistic=f"{_VALUES}:fvd_statistic", floor=0.0),
    Metric("jedi", "JEDi", False, "set", "jedi", "jedi5000_16f", (FeatureNeed("jedi"),), f"{_VALUES}:jedi",
           interval="pooled_t", weights=("vjepa_vith16", "vjepa_vith16_ssv2_probe"),
           statistic=f"{_VALUES}:jedi_statistic", floor=0.0),
    # improved precision/recall (Kynkaanniemi et al. 2019, k = 3) on the FVD protocol's I3D rows (one I3D pass)
    Metric("precision", "precision (k=3)", True, "set", "fvd", "fvd2048_16f", (FeatureNeed("fvd"),),
           f"{_VALUES}:precision", weights=_I3D, min_videos=4,
           statistic=f"{_VALUES}:precision_statistic"),
    Metric("recall", "recall (k=3)", True, "set", "fvd", "fvd2048_16f", (FeatureNeed("fvd"),), f"{_VALUES}:recall",
           interval="none", weights=_I3D, min_videos=4,
           statistic=f"{_VALUES}:recall_statistic"),
    # the motion tier (lumiere_eval.runner.motion_tier): per-video scores, no feature jobs of the runner
    *(Metric(name, title, higher, "per-sample", "motion", "motion-tier-dis-v1", per_sample=(name,), tier="motion",
             weights=weights)
      for name, title, higher, weights in (
          ("dynamic_degree_dis", "dynamic degree", None, ()),
          ("motion_magnitude_dis", "motion magnitude", None, ()),
          ("camera_motion_dis", "camera motion", None, ()),
          ("object_motion_dis", "object motion", None, ()),
          ("temporal_flickering", "temporal flickering (higher: steadier)", True, ()),
          ("motion_smoothness_flowinterp", "motion smoothness", True, ()),
          ("warping_error_dis", "warping error", False, ()),
          ("clip_consistency_consecutive", "CLIP consistency (consecutive frames)", True, _CLIP),
          ("clip_consistency_first", "CLIP consistency (to the first frame)", True, _CLIP))),
    # VBench's dimensions with VBench's networks (lumiere_eval.runner.vbench_tier; values on VBench's scale)
    *(Metric(name, title, True, "per-sample", "vbench", "vbench-0.1.5", per_sample=(name,), tier="vbench",
             weights=weights)
      for name, title, weights in (
          ("subject_consistency", "subject consistency (VBench, DINO ViT-B/16)", ("dino_vitb16",)),
          ("background_consistency", "background consistency (VBench, CLIP ViT-B/32)", _CLIP),
          ("aesthetic_quality", "aesthetic quality (VBench, LAION on CLIP ViT-L/14)",
           ("clip_vit_l14", "laion_aesthetic_l14")),
          ("imaging_quality", "imaging quality (VBench, MUSIQ-SPAQ; per video 0..100, value / 100)",
           ("musiq_spaq",)),
          ("dynamic_degree", "dynamic degree (VBench, RAFT; share of dynamic videos)", ("raft_things",)),
          ("temporal_flickering_static", "temporal flickering (VBench: the videos RAFT's static filter keeps)",
           ("raft_things",)),
          ("motion_smoothness", "motion smoothness (VBench, AMT-S frame interpolation)", ("amt_s",)),
          ("appearance_style", "appearance style (VBench, CLIP ViT-B/32 frames against the prompt's style)", _CLIP),
          ("overall_consistency", "overall consistency (VBench, ViCLIP ViT-L/14 video against the prompt)",
           ("viclip_internvid_10m_flt",)),
          ("temporal_style", "temporal style (VBench, ViCLIP ViT-L/14 video against the prompt)",
           ("viclip_internvid_10m_flt",)))),
)}


def get_metric(name: str) -> Metric:
    """The registered metric called `name`; an unknown name raises UnknownMetricError listing the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise UnknownMetricError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None


def names(tier: str | None = None) -> tuple[str, ...]:
    """Registered metric names, in registry order (only those of `tier` when given)."""
    return tuple(n for n, m in METRICS.items() if tier is None or m.tier == tier)


def higher_is_better() -> dict[str, bool | None]:
    """Every metric's direction, and every per-sample field's (True: higher is better; None: neither)."""
    out = {name: m.higher_is_better for name, m in METRICS.items()}
    for m in METRICS.values():
        out.update(dict.fromkeys(m.per_sample, m.higher_is_better))
    return out


def sharing_job(job: str, among=None) -> tuple[str, ...]:
    """The metrics (of `among`, default all) that read feature job `job`."""
    return tuple(n for n in (among or METRICS) if any(f.job == job for f in get_metric(n).features))


SAMPLES_TIERS = ("core", "vbench")  # the tiers whose per-sample scores a run writes into samples.jsonl


def per_sample_directions(tiers: tuple[str, ...] = SAMPLES_TIERS) -> dict[str, bool]:
    """The samples.jsonl fields the metrics of `tiers` write, with their direction."""
    return {field: m.higher_is_better for m in METRICS.values() if m.tier in tiers for field in m.per_sample}


def interval_methods_text(among: tuple[str, ...] | None = None) -> str:
    """The set metrics' interval methods for a report's note, from their entries: "half-sampling for FVD, KVD;
    pooled-t for IS" (of `among`, default every registered set metric with an interval)."""
    by_method: dict[str, list[str]] = {}
    for name in among or METRICS:
        metric = get_metric(name)
        if metric.kind == "set" and metric.interval in _SET_HOOKS:
            by_method.setdefault(INTERVAL_METHOD_NAMES[metric.interval], []).append(metric.title)
    return "; ".join(f"{method} for {', '.join(titles)}" for method, titles in by_method.items())
