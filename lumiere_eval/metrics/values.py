"""Rows -> a metric's value with its interval: the `compute` functions the metric registry names.

Each takes `(real, fake, protocol, num_resamples, seed, interval)`: the real and generated rows (None for a side
the metric does not read), the metric's protocol, and the interval hook of the metric (`registry.interval_hook`,
called with the value as the estimate: pooled-t (studentised half-sampling) over generated rows for set
metrics, a percentile bootstrap for means; the real statistics held fixed, so the interval describes how much the
number moves with the choice of generated videos; docs/statistics.md). Each returns a dict with `value`, `ci_low`,
`ci_high` and its extras. Pure functions of the rows given.
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics import (FeatureStats, MetricInputError, clip_similarity, frechet_distance_from_stats,
                                  frechet_distance_to_features, inception_score, kernel_distance)
from lumiere_eval.metrics.protocols import protocol_inception_score
from lumiere_eval.metrics.record import metric_entry


def _interval(low: float | None, high: float | None) -> dict:
    return {"ci_low": low, "ci_high": high}


def fvd(real: np.ndarray, fake: np.ndarray, protocol, num_resamples: int, seed: int, interval) -> dict:
    """Frechet distance between real and fake feature rows (the protocol's covariance convention), with the
    interval over fake rows."""
    unbiased = protocol.unbiased_covariance
    real_stats = FeatureStats.from_features(real)
    value = frechet_distance_from_stats(real_stats, FeatureStats.from_features(fake), unbiased)
    mu, sigma = real_stats.mean, real_stats.covariance(unbiased)

    def statistic(rows: np.ndarray) -> float:
        return frechet_distance_to_features(mu, sigma, rows, unbiased)

    return {"value": value, **_interval(*interval(fake, statistic, num_resamples, seed, value)), "n_real": len(real),
            "n_fake": len(fake), "covariance": "unbiased" if unbiased else "biased"}


def jedi(real: np.ndarray, fake: np.ndarray, protocol, num_resamples: int, seed: int, interval) -> dict:
    """JEDi (100 x polynomial MMD^2, from second moments) between real and fake feature rows, with the interval
    over fake rows."""
    from lumiere_eval.metrics.kernel import jedi_from_stats

    real_stats = FeatureStats.from_features(real)

    def statistic(rows: np.ndarray) -> float:
        return jedi_from_stats(real_stats, FeatureStats.from_features(rows))

    value = statistic(fake)
    return {"value": value, **_interval(*interval(fake, statistic, num_resamples, seed, value)),
            "n_real": len(real), "n_fake": len(fake)}


def kvd(real: np.ndarray, fake: np.ndarray, protocol, num_resamples: int, seed: int, interval) -> dict:
    """Kernel distance (unbiased MMD^2, cubic kernel): the mean and spread over 100 subsets, with the interval whose
    spread is that of one unbiased MMD^2 of the generated rows against up to 1,000 real rows (kernels computed once,
    resamples index them by position)."""
    from lumiere_eval.metrics.kernel import mmd2_unbiased_statistic

    mean, std = kernel_distance(real, fake, num_subsets=100, subset_size=1000, seed=seed)
    low, high = (interval(np.arange(len(fake)), mmd2_unbiased_statistic(real, fake, seed=seed), num_resamples, seed,
                          mean) if num_resamples and len(fake) >= 2 else (None, None))
    return {"value": mean, "std_over_subsets": std, **_interval(low, high), "n_real": len(real), "n_fake": len(fake)}


def inception(real: None, probs: np.ndarray, protocol, num_resamples: int, seed: int, interval) -> dict:
    """Inception Score under `protocol` (mean and std over its splits of its first `num_samples` rows) with the
    interval over samples."""
    probs = np.asarray(probs, dtype=np.float64)[:protocol.num_samples]
    splits = min(protocol.splits, len(probs))
    mean, std = protocol_inception_score(protocol, probs)
    low, high = interval(probs, lambda p: inception_score(p, splits=min(splits, len(p)), log_eps=protocol.log_eps)[0],
                         num_resamples, seed, mean)
    return {"value": mean, "std_over_splits": std, "splits": splits, **_interval(low, high), "n_fake": len(probs)}


def clipsim(real: None, values: np.ndarray, protocol, num_resamples: int, seed: int, interval) -> dict:
    """Mean per-video CLIP similarity (`values`, from `clipsim_per_sample`) with the interval over videos."""
    return {"value": float(np.mean(values)), **_interval(*interval(values, np.mean, num_resamples, seed)),
            "n_fake": len(values)}


def frame_fid(real: np.ndarray, fake: np.ndarray, protocol, num_resamples: int, seed: int, interval) -> dict:
    """FID over all frames of the clips (real `[frames, D]`, fake `[videos, frames, D]`; unbiased covariance, as
    pytorch-fid), the interval over generated videos (all their frames)."""
    real_stats = FeatureStats.from_features(real)

    def statistic(videos: np.ndarray) -> float:
        rows = videos.reshape(-1, videos.shape[-1])
        return frechet_distance_to_features(real_stats.mean, real_stats.covariance(True), rows, True)

    value = statistic(fake)
    return {"value": value, **_interval(*interval(fake, statistic, num_resamples, seed, value)), "n": len(fake),
            "frames_per_video": int(fake.shape[1]), "covariance": "unbiased",
            "interval": "over generated videos (all their frames)"}


def precision(real: np.ndarray, fake: np.ndarray, protocol, num_resamples: int, seed: int, interval) -> dict:
    """Improved precision (k = 3): the share of generated rows inside the real manifold, with the interval over
    generated rows (the real manifold held fixed, so a resample's precision is the mean of its rows' indicators)."""
    from lumiere_eval.metrics.precision_recall import DEFAULT_K, inside_manifold, knn_radii

    inside = inside_manifold(fake, real, knn_radii(real, DEFAULT_K)).astype(np.float64)
    return {"value": float(inside.mean()), **_interval(*interval(inside, np.mean, num_resamples, seed)),
            "k": DEFAULT_K, "n_real": len(real), "n_fake": len(fake)}


def recall(real: np.ndarray, fake: np.ndarray, protocol, num_resamples: int, seed: int, interval) -> dict:
    """Improved recall (k = 3): the share of real rows inside the generated manifold. Its registered interval is
    none: a resample that repeats generated rows shrinks their k-NN radii to 0."""
    from lumiere_eval.metrics.precision_recall import DEFAULT_K, inside_manifold, knn_radii

    value = float(inside_manifold(real, fake, knn_radii(fake, DEFAULT_K)).mean())
    return {"value": value, **_interval(*interval(fake, None, num_resamples, seed)), "k": DEFAULT_K,
            "n_real": len(real), "n_fake": len(fake)}


def clipsim_per_sample(frame_embeddings: list[np.ndarray], text_embeddings: np.ndarray) -> np.ndarray:
    """CLIP similarity of each video (frames `[F, D]`) with its prompt embedding (x100, clamped at 0)."""
    if len(frame_embeddings) != len(text_embeddings):
        raise MetricInputError(f"clip similarity: {len(frame_embeddings)} videos but {len(text_embeddings)} prompts")
    return np.array([clip_similarity(f, t) for f, t in zip(frame_embeddings, text_embeddings)])


def clip_protocol(job) -> str:
    """The CLIPSIM protocol id of a feature job: extractor, its frame sampling and preprocessing, x100 cosine
    clamped at 0 ("" without a job)."""
    if job is None:
        return ""
    return f"clipsim:{job.extractor.id}:{job.extractor.protocol}:x100-clamp0"


def check_counts(metric, real, fake) -> None:
    """MetricInputError naming the metric when a set metric has fewer than its `min_videos` rows on a side it
    reads ("FVD needs at least 2 videos on each side, got 1"), whatever the interval asked for."""
    from lumiere_eval.metrics import MetricInputError

    if metric.kind != "set":
        return
    counts = {side: len(rows) for side, rows in (("real", real), ("generated", fake)) if rows is not None}
    if all(n >= metric.min_videos for n in counts.values()):
        return
    both = len(counts) == 2
    got = (" and ".join(f"{n} {side}" for side, n in counts.items()) if both and len(set(counts.values())) > 1
           else str(min(counts.values())))
    raise MetricInputError(f"{metric.title} needs at least {metric.min_videos} videos{' on each side' if both else ''}"
                           f", got {got}")


def compute(name: str, real, fake, protocol, num_resamples: int, seed: int) -> dict:
    """Metric `name` from its rows through its registered compute function and interval hook (a plain dict)."""
    from lumiere_eval.metrics.registry import INTERVAL_METHOD_NAMES, get_metric, interval_hook

    metric = get_metric(name)
    check_counts(metric, real, fake)
    result = metric.compute_function()(real, fake, protocol, num_resamples, seed, interval_hook(name))
    if result.get("ci_low") is not None:
        result["interval_method"] = INTERVAL_METHOD_NAMES[metric.interval]
    return result


def entry(name: str, result: dict, protocol_id: str) -> dict:
    """A computed metric (`compute`'s dict) as a result-record metric entry under `protocol_id`."""
    result = dict(result)
    n = result.pop("n") if "n" in result else result["n_fake"]
    return metric_entry(name, result.pop("value"), n, protocol_id, result.pop("ci_low"), result.pop("ci_high"),
                        **result)


def metric_entries(names, rows: dict[str, tuple], protocols: dict[str, tuple], num_resamples: int | dict[str, int],
                   seed: int, compute_result=compute) -> dict:
    """Result-record entries of the metrics in `names`, in registry order: `rows[name]` is its (real, fake) rows,
    `protocols[name]` its (protocol, protocol id), `num_resamples` one count or a count per metric;
    `compute_result` is `compute` or a memo of it (`runner.metric_memo.MetricMemo.compute`)."""
    from lumiere_eval.metrics.registry import METRICS

    out = {}
    for name in (n for n in METRICS if n in names):
        protocol, protocol_id = protocols[name]
        count = num_resamples[name] if isinstance(num_resamples, dict) else num_resamples
        out[name] = entry(name, compute_result(name, *rows[name], protocol, count, seed), protocol_id)
    return out


# Set statistics for paired differences and sample-size curves: `(real, fake, protocol) -> f(positions) -> value`,
# the metric recomputed on the generated rows at `positions` against the fixed real rows (the registry's
# `statistic`; compare and curves call them on the same positions for two runs).

def fvd_statistic(real: np.ndarray, fake: np.ndarray, protocol):
    """FVD of the generated rows at given positions (the protocol's covariance convention)."""
    unbiased = protocol.unbiased_covariance
    real_stats = FeatureStats.from_features(real)
    mu, sigma = real_stats.mean, real_stats.covariance(unbiased)
    return lambda idx: frechet_distance_to_features(mu, sigma, fake[idx], unbiased)


def kvd_statistic(real: np.ndarray, fake: np.ndarray, protocol):
    """KVD (one unbiased MMD^2 over all given rows) of the generated rows at given positions."""
    return lambda idx: kernel_distance(real, fake[idx], num_subsets=1, subset_size=len(idx))[0]


def inception_statistic(real: None, probs: np.ndarray, protocol):
    """IS (the protocol's splits, shuffle and log eps) of the generated rows at given positions."""
    return lambda idx: inception_score(probs[idx], splits=min(protocol.splits, len(idx)),
                                       shuffle_seed=protocol.shuffle_seed, log_eps=protocol.log_eps)[0]


def jedi_statistic(real: np.ndarray, fake: np.ndarray, protocol):
    """JEDi of the generated rows at given positions."""
    from lumiere_eval.metrics.kernel import jedi_from_stats

    real_stats = FeatureStats.from_features(real)
    return lambda idx: jedi_from_stats(real_stats, FeatureStats.from_features(fake[idx]))


def frame_fid_statistic(real: np.ndarray, fake: np.ndarray, protocol):
    """Frame FID of the generated videos at given positions (all their frames)."""
    real_stats = FeatureStats.from_features(real)
    mu, sigma = real_stats.mean, real_stats.covariance(True)
    return lambda idx: frechet_distance_to_features(mu, sigma, fake[idx].reshape(-1, fake.shape[-1]), True)


def precision_statistic(real: np.ndarray, fake: np.ndarray, protocol):
    """Improved precision (k = 3) of the generated rows at given positions (the real manifold fixed)."""
    from lumiere_eval.metrics.precision_recall import DEFAULT_K, inside_manifold, knn_radii

    inside = inside_manifold(fake, real, knn_radii(real, DEFAULT_K)).astype(np.float64)
    return lambda idx: float(inside[idx].mean())


def recall_statistic(real: np.ndarray, fake: np.ndarray, protocol):
    """Improved recall (k = 3) against the manifold of the generated rows at given positions (distinct rows)."""
    from lumiere_eval.metrics.precision_recall import DEFAULT_K, inside_manifold, knn_radii

    return lambda idx: float(inside_manifold(real, fake[idx], knn_radii(fake[idx], DEFAULT_K)).mean())
