"""Stage 3: numbers with confidence intervals from per-sample rows (pure functions of the rows given).

Intervals of set metrics (FVD, KVD, IS, JEDi) are half-sampling intervals over generated samples
(`lumiere_eval.metrics.intervals`): intervals of the metric's expectation at the run's N with the real set
fixed, i.e. how much the number moves with the choice of generated videos. CLIPSIM, a mean, keeps the
percentile bootstrap. Each entry names its method in `interval_method`.
"""
from __future__ import annotations

import numpy as np

from lumiere_eval.metrics import (FeatureStats, bootstrap_ci, clip_similarity, frechet_distance_from_stats,
                                  frechet_distance_to_features, inception_score, kernel_distance)
from lumiere_eval.metrics.intervals import HALF_SAMPLING, MIN_SAMPLES, PERCENTILE, set_metric_interval
from lumiere_eval.metrics.protocols import FVDProtocol, ISProtocol, protocol_inception_score
from lumiere_eval.metrics.record import metric_entry

def _interval(low: float, high: float, method: str = HALF_SAMPLING) -> dict:
    return {"ci_low": low, "ci_high": high, **({"interval_method": method} if low is not None else {})}


def set_interval(rows: np.ndarray, statistic, estimate: float, num_resamples: int, seed: int) -> dict:
    """The half-sampling interval of a set metric over generated `rows` (`statistic` of a subset of rows),
    or none without resamples or with fewer than MIN_SAMPLES rows."""
    if not num_resamples or len(rows) < MIN_SAMPLES:
        return _interval(None, None)
    return _interval(*set_metric_interval(len(rows), lambda idx: statistic(rows[idx]), estimate, num_resamples,
                                          seed=seed))


def fvd(real: np.ndarray, fake: np.ndarray, unbiased: bool, num_resamples: int, seed: int) -> dict:
    """Frechet distance between real and fake feature rows, with a half-sampling interval over fake rows."""
    real_stats = FeatureStats.from_features(real)
    value = frechet_distance_from_stats(real_stats, FeatureStats.from_features(fake), unbiased)
    mu, sigma = real_stats.mean, real_stats.covariance(unbiased)

    def statistic(rows: np.ndarray) -> float:
        return frechet_distance_to_features(mu, sigma, rows, unbiased)

    return {"value": value, **set_interval(fake, statistic, value, num_resamples, seed), "n_real": len(real),
            "n_fake": len(fake), "covariance": "unbiased" if unbiased else "biased"}


def jedi(real: np.ndarray, fake: np.ndarray, num_resamples: int, seed: int) -> dict:
    """JEDi (100 x polynomial MMD^2, from second moments) between real and fake feature rows, with a
    half-sampling interval over fake rows."""
    from lumiere_eval.metrics.kernel import jedi_from_stats

    real_stats = FeatureStats.from_features(real)

    def statistic(rows: np.ndarray) -> float:
        return jedi_from_stats(real_stats, FeatureStats.from_features(rows))

    value = statistic(fake)
    return {"value": value, **set_interval(fake, statistic, value, num_resamples, seed), "n_real": len(real),
            "n_fake": len(fake)}


def kvd(real: np.ndarray, fake: np.ndarray, seed: int, num_resamples: int = 0) -> dict:
    """Kernel distance (unbiased MMD^2, cubic kernel): the mean and spread over 100 subsets, with a half-sampling
    interval whose spread is that of one unbiased MMD^2 of the generated rows against up to 1,000 real rows."""
    from lumiere_eval.metrics.kernel import mmd2_unbiased_statistic

    mean, std = kernel_distance(real, fake, num_subsets=100, subset_size=1000, seed=seed)
    interval = _interval(None, None)
    if num_resamples and len(fake) >= MIN_SAMPLES:
        statistic = mmd2_unbiased_statistic(real, fake, seed=seed)
        interval = _interval(*set_metric_interval(len(fake), statistic, mean, num_resamples, seed=seed))
    return {"value": mean, "std_over_subsets": std, **interval, "n_real": len(real), "n_fake": len(fake)}


def inception(probs: np.ndarray, protocol: ISProtocol, num_resamples: int, seed: int) -> dict:
    """Inception Score under `protocol` (mean and std over its splits) with a half-sampling interval over
    samples (each half scored with the protocol's splits, at most its size)."""
    probs = np.asarray(probs, dtype=np.float64)[:protocol.num_samples]
    splits = min(protocol.splits, len(probs))
    mean, std = protocol_inception_score(protocol, probs)
    statistic = lambda p: inception_score(p, splits=min(splits, len(p)), log_eps=protocol.log_eps)[0]  # noqa: E731
    return {"value": mean, "std_over_splits": std, "splits": splits,
            **set_interval(probs, statistic, mean, num_resamples, seed), "n_fake": len(probs)}


def clipsim_per_sample(frame_embeddings: list[np.ndarray], text_embeddings: np.ndarray) -> np.ndarray:
    """CLIP similarity of each video (frames `[F, D]`) with its prompt embedding (x100, clamped at 0)."""
    return np.array([clip_similarity(f, t) for f, t in zip(frame_embeddings, text_embeddings, strict=True)])


def clipsim(values: np.ndarray, num_resamples: int, seed: int) -> dict:
    """Mean per-video CLIP similarity with a bootstrap interval."""
    low, high = bootstrap_ci(values, np.mean, num_resamples, seed=seed) if num_resamples and len(values) > 1 \
        else (None, None)
    return {"value": float(np.mean(values)), **_interval(low, high, PERCENTILE), "n_fake": len(values)}


def clip_protocol(job) -> str:
    """The CLIPSIM protocol id of a feature job: extractor, its frame sampling and preprocessing, x100 cosine
    clamped at 0 ("" without a job)."""
    if job is None:
        return ""
    return f"clipsim:{job.extractor.id}:{job.extractor.protocol}:x100-clamp0"


def metric_entries(names: list[str] | tuple[str, ...], fvd_protocol: FVDProtocol, is_protocol: ISProtocol,
                   real: np.ndarray | None, fake: np.ndarray | None, probs: np.ndarray | None,
                   clip_values: np.ndarray | None, clip_protocol: str, num_resamples: int, seed: int) -> dict:
    """The numbers of both commands from their rows, as result-record metric entries (`lumiere_eval.metrics.record`):
    FVD/KVD from real and fake feature rows, IS from class probabilities, CLIPSIM from per-video similarities."""
    results: dict[str, dict] = {}
    if "fvd" in names:
        results["fvd"] = fvd(real, fake, fvd_protocol.unbiased_covariance, num_resamples, seed)
    if "kvd" in names:
        results["kvd"] = kvd(real, fake, seed, num_resamples)
    if "is" in names:
        results["is"] = inception(probs, is_protocol, num_resamples, seed)
    if "clipsim" in names:
        results["clipsim"] = clipsim(clip_values, num_resamples, seed)
    protocols = {"fvd": fvd_protocol.id, "kvd": fvd_protocol.id, "is": is_protocol.id, "clipsim": clip_protocol}
    return {name: metric_entry(name, entry.pop("value"), entry["n_fake"], protocols[name], entry.pop("ci_low"),
                               entry.pop("ci_high"), **entry) for name, entry in results.items()}
