"""Coverage of 95% intervals of set metrics: the old percentile bootstrap against the candidates of
`lumiere_eval.metrics.intervals`, by Monte Carlo.

Target (what each interval is an interval of): theta_N = E[metric at the run's N | the fixed real set], the
mean over fresh draws of N generated rows (TARGET_DRAWS of them) with one real set held fixed per cell.
Each repetition draws N generated rows, computes the estimate on all N and every candidate interval; the
coverage is the share of repetitions whose interval holds theta_N.

FID is the frame-level Frechet distance of FRAMES frames per generated video (frames of a video share its
latent, FRAME_RHO), its interval over videos, as `values.frame_fid` computes it.

Every statistic is evaluated in batch from a count vector over the N rows (1 for a half sample, bootstrap
multiplicities, all ones but one for the jackknife), so one cell costs a few batched eigen solves; the batch
forms are checked against the library's functions on the first repetition of every cell.

Columns beyond the candidates: `three-quarter` (subsets of 3N/4 rows, spread x sqrt(3)) and `oracle-sd` (the
estimate +- z times the true sd of the metric at N, from the target's Monte Carlo runs: not available to a run;
it shows how much of a miss is the sd's own sampling noise and skew rather than the method's bias). The chosen
methods' lower ends stop at the metric's floor, as the library's do.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_interval_coverage.py [--reps 200] [--quick] [--jackknife]
Two processes: add `--part 0/2` and `--part 1/2` (each writes its own JSON), then `--merge 2` (which joins them into
`<name>.json` and `<name>.md` and removes the parts).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine  # noqa: E402

from lumiere_eval.metrics import FeatureStats, frechet_distance_to_features, inception_score  # noqa: E402
from lumiere_eval.metrics import intervals  # noqa: E402
from lumiere_eval.metrics.kernel import jedi_from_stats  # noqa: E402
from lumiere_eval.metrics.registry import INTERVAL_METHOD_NAMES, METRICS  # noqa: E402

REAL_ROWS = 2048
CLASSES = 20
FRAMES = 4  # frames per generated video for FID
FRAME_RHO = 0.7  # weight of a video's latent in each of its frames
RHO = 0.8  # correlation of sample i of model A and model B (the shared prompt and seed)
TARGET_DRAWS = 1000
RESAMPLES = 200
# (dim, N): the protocols' d/N ratios 16/64, 64/128, 2048/2048 (as 64/64) and 400/10000 = FID's 2048/50000
# (as 20/500).
GRID = [(16, 64), (64, 128), (64, 64), (20, 500)]
DISTRIBUTIONS = ("gaussian", "mixture", "heavy-tailed")
# off the grid, through `--cells` only: a multivariate t(9), heavy-tailed but with JEDi's variance (which needs
# E|x|^8, infinite under t(5)) finite
EXTRA_DISTRIBUTIONS = ("heavy-tailed-9",)
KNOWN_DISTRIBUTIONS = DISTRIBUTIONS + EXTRA_DISTRIBUTIONS
TAIL_DF = {"heavy-tailed": 5, "heavy-tailed-9": 9}
METHODS = ("percentile", "centred-bootstrap", "jackknife", "bca", "half-sampling", "half-sampling-basic",
           "half-sampling-sqrt", "three-quarter", "oracle-sd")
# candidates of issue 28's second round (`--methods`): log scale, subsampling bootstrap-t with INNER nested
# halves per half, the variance extrapolated from two subsample sizes; third round: the variance at N from halves
# in disjoint pairs (`intervals.complementary_variance`), in the normal form and with pooled-t's t's
CANDIDATES = ("half-sampling-log", "studentised", "studentised-sqrt", "studentised-log", "pooled-t", "pooled-t-sqrt",
              "pooled-t-log", "two-size", "half-sampling-cov", "pooled-t-cov", "pooled-t-3/4", "half-sampling-x",
              "pooled-t-x", "nested-t")
# fourth round (`-x`): the variance at N from the halves and each half's halves with the pairwise part counted once
# (`intervals.nested_variance`), in the normal form and with pooled-t's t's
# fifth round: a bootstrap-t studentised by that nested variance at both levels, its t's not rescaled
# (`intervals.nested_t_interval`)
STUDENTISED = CANDIDATES[1:7] + ("pooled-t-cov", "pooled-t-3/4", "half-sampling-x", "pooled-t-x", "nested-t")
COMPLEMENTARY = ("half-sampling-cov", "pooled-t-cov")  # with any of these, every method's halves come in pairs
INNER = intervals.INNER_HALVES
# the least value each metric can take (the registry's `floor`): the chosen methods' lower ends stop there
FLOORS = {"fvd_biased": 0.0, "fvd_unbiased": 0.0, "fid": 0.0, "jedi": 0.0, "is": 1.0}
NON_NEGATIVE = ("fvd_biased", "fvd_unbiased", "fid", "jedi", "is")  # where the square-root scale applies
# the benchmark's metric -> the registry's metric whose interval it measures (the chosen method per metric)
REGISTERED = {"fvd_biased": "fvd", "fvd_unbiased": "fvd", "fid": "fid", "kvd": "kvd", "jedi": "jedi", "is": "is",
              "paired_fvd": "paired", "paired_is": "paired"}


def chosen_method(metric: str) -> str:
    """The interval method the library uses for the benchmark's `metric` (compare's paired set differences:
    half-sampling)."""
    name = REGISTERED[metric]
    return intervals.HALF_SAMPLING if name == "paired" else INTERVAL_METHOD_NAMES[METRICS[name].interval]


def base_rows(kind: str, n: int, d: int, rng: np.random.Generator, pattern: np.ndarray) -> np.ndarray:
    """n rows of the cell's base distribution: N(0, I), a two-component mixture, or a multivariate t(5) (t(9))."""
    z = rng.normal(size=(n, d))
    if kind == "mixture":
        return z + 1.5 * rng.choice([-1.0, 1.0], size=(n, 1)) * pattern
    if kind in TAIL_DF:
        df = TAIL_DF[kind]
        return z / np.sqrt(rng.chisquare(df, size=(n, 1)) / df)
    return z


class Cell:
    """One grid cell: a fixed real set, two paired generators and batch statistics of count vectors."""

    def __init__(self, kind: str, d: int, n: int, seed: int):
        self.kind, self.d, self.n = kind, d, n
        rng = np.random.default_rng(seed)
        self.pattern = rng.choice([-1.0, 1.0], size=d)
        self.real = base_rows(kind, REAL_ROWS, d, rng, self.pattern)
        self.readout = rng.normal(size=(d, CLASSES)) * 3 / np.sqrt(d)
        stats = FeatureStats.from_features(self.real)
        self.real_stats = stats
        self.mu = stats.mean
        self.sigma = {u: stats.covariance(u) for u in (False, True)}
        self.chol = {u: np.linalg.cholesky(s) for u, s in self.sigma.items()}
        self.real_second = stats.sum_outer / stats.count
        k_rr = (self.real @ self.real.T / d + 1) ** 3
        self.k_rr = (k_rr.sum() - np.trace(k_rr)) / (REAL_ROWS * (REAL_ROWS - 1))

    def draw(self, rng: np.random.Generator) -> dict:
        """Features of N samples of model A and B (sample i of both shares a latent) and their IS probs."""
        shared = base_rows(self.kind, self.n, self.d, rng, self.pattern)
        own = [base_rows(self.kind, self.n, self.d, rng, self.pattern) for _ in range(2)]
        a = 0.3 + 1.2 * (RHO * shared + np.sqrt(1 - RHO ** 2) * own[0])
        b = 0.2 + 1.1 * (RHO * shared + np.sqrt(1 - RHO ** 2) * own[1])
        video = base_rows(self.kind, self.n, self.d, rng, self.pattern)
        noise = base_rows(self.kind, self.n * FRAMES, self.d, rng, self.pattern).reshape(self.n, FRAMES, self.d)
        frames = 0.3 + 1.2 * (FRAME_RHO * video[:, None] + np.sqrt(1 - FRAME_RHO ** 2) * noise)
        return {"a": self.prepare(a) | {"frame_sum": frames.sum(axis=1),
                                        "frame_outer": np.einsum("nfd,nfe->nde", frames, frames),
                                        "frames": frames},
                "b": self.prepare(b)}

    def prepare(self, x: np.ndarray) -> dict:
        logits = x @ self.readout
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        k_ff = (x @ x.T / self.d + 1) ** 3
        k_fr = ((x @ self.real.T / self.d + 1) ** 3).mean(axis=1)
        gram2 = (x @ x.T) ** 2
        return {"x": x, "p": p, "plogp": np.sum(p * np.log(p), axis=1), "k_ff": k_ff, "k_fr": k_fr,
                "gram2": gram2, "a_real": np.einsum("nd,de,ne->n", x, self.real_second, x)}

    def fvd(self, f: dict, counts: np.ndarray, unbiased: bool) -> np.ndarray:
        """Frechet distance to the real Gaussian of the count-weighted rows, per count vector `[R, N]`."""
        x, m = f["x"], counts.sum(axis=1)
        return self._frechet(counts @ x / m[:, None], (x.T[None] * counts[:, None, :]) @ x, m, unbiased)

    def fid(self, f: dict, counts: np.ndarray) -> np.ndarray:
        """Frame FID (unbiased covariance) of all frames of the count-weighted videos."""
        m = FRAMES * counts.sum(axis=1)
        raw = np.einsum("rn,nde->rde", counts, f["frame_outer"])
        return self._frechet(counts @ f["frame_sum"] / m[:, None], raw, m, True)

    def _frechet(self, mean: np.ndarray, raw: np.ndarray, m: np.ndarray, unbiased: bool) -> np.ndarray:
        cov = (raw - m[:, None, None] * mean[:, :, None] * mean[:, None, :]) / (m - 1 if unbiased else m)[:, None, None]
        chol = self.chol[unbiased]
        inner = chol.T @ cov @ chol
        ev = np.linalg.eigvalsh((inner + np.swapaxes(inner, 1, 2)) / 2)
        tol = self.d * np.finfo(np.float64).eps * np.abs(ev).max(axis=1, keepdims=True)
        root = np.sqrt(np.where(ev > tol, ev, 0.0)).sum(axis=1)
        diff = self.mu - mean
        return (diff * diff).sum(1) + np.trace(self.sigma[unbiased]) + np.trace(cov, axis1=1, axis2=2) - 2 * root

    def kvd(self, f: dict, counts: np.ndarray) -> np.ndarray:
        """Unbiased MMD^2 (cubic kernel) of the count-weighted rows against the whole fixed real set."""
        m = counts.sum(axis=1)
        pairs = ((counts @ f["k_ff"]) * counts).sum(axis=1) - counts @ np.diag(f["k_ff"])
        return pairs / (m * (m - 1)) - 2 * counts @ f["k_fr"] / m + self.k_rr

    def jedi(self, f: dict, counts: np.ndarray) -> np.ndarray:
        """JEDi: 100 |S_fake - S_real|_F^2 / d^2 with second moments S, from the Gram matrix."""
        m = counts.sum(axis=1)
        own = ((counts @ f["gram2"]) * counts).sum(axis=1) / m ** 2
        cross = counts @ f["a_real"] / m
        return 100 * (own - 2 * cross + np.sum(self.real_second ** 2)) / self.d ** 2

    def inception(self, f: dict, counts: np.ndarray) -> np.ndarray:
        """IS with one split: exp(mean KL(p(y|x) || p(y))) of the count-weighted rows."""
        m = counts.sum(axis=1)
        marginal = counts @ f["p"] / m[:, None]
        return np.exp(counts @ f["plogp"] / m - np.sum(marginal * np.log(marginal), axis=1))

    def statistics(self, f: dict, g: dict, counts: np.ndarray, metrics=None) -> dict[str, np.ndarray]:
        """Every metric of `metrics` (all when None; and the paired differences A - B) for each count vector."""
        every = {"fvd_biased": lambda: self.fvd(f, counts, False), "fvd_unbiased": lambda: self.fvd(f, counts, True),
                 "fid": lambda: self.fid(f, counts), "kvd": lambda: self.kvd(f, counts),
                 "jedi": lambda: self.jedi(f, counts), "is": lambda: self.inception(f, counts),
                 "paired_fvd": lambda: self.fvd(f, counts, True) - self.fvd(g, counts, True),
                 "paired_is": lambda: self.inception(f, counts) - self.inception(g, counts)}
        return {k: fn() for k, fn in every.items() if metrics is None or k in metrics}

    def self_check(self, f: dict) -> None:
        """The batch forms equal the library's functions on all N rows (relative 1e-6)."""
        ones = np.ones((1, self.n))
        x = f["x"]
        library = {"fvd_biased": frechet_distance_to_features(self.mu, self.sigma[False], x, unbiased=False),
                   "fvd_unbiased": frechet_distance_to_features(self.mu, self.sigma[True], x, unbiased=True),
                   "kvd": _mmd2_unbiased_against(self.real, x),
                   "jedi": jedi_from_stats(self.real_stats, FeatureStats.from_features(x)),
                   "is": inception_score(f["p"], splits=1)[0],
                   "fid": frechet_distance_to_features(self.mu, self.sigma[True], f["frames"].reshape(-1, self.d),
                                                       unbiased=True)}
        batch = {"fvd_biased": self.fvd(f, ones, False)[0], "fvd_unbiased": self.fvd(f, ones, True)[0],
                 "kvd": self.kvd(f, ones)[0], "jedi": self.jedi(f, ones)[0], "is": self.inception(f, ones)[0],
                 "fid": self.fid(f, ones)[0]}
        for name, value in library.items():
            if not np.isclose(batch[name], value, rtol=1e-6, atol=1e-9):
                raise AssertionError(f"{self.kind} d={self.d} N={self.n} {name}: batch {batch[name]} "
                                     f"!= library {value}")


def _mmd2_unbiased_against(real: np.ndarray, fake: np.ndarray) -> float:
    """Unbiased MMD^2 of fake rows against all real rows (within-set means without the diagonal)."""
    d = real.shape[1]
    n, m = len(fake), len(real)
    k_ff, k_rr = (fake @ fake.T / d + 1) ** 3, (real @ real.T / d + 1) ** 3
    k_fr = (fake @ real.T / d + 1) ** 3
    return float((k_ff.sum() - np.trace(k_ff)) / (n * (n - 1)) + (k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
                 - 2 * k_fr.mean())


def _in_chunks(fn, counts: np.ndarray, size: int = 100) -> dict[str, np.ndarray]:
    parts = [fn(counts[i:i + size]) for i in range(0, len(counts), size)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def index_counts(positions: np.ndarray, n: int) -> np.ndarray:
    """`[R, N]` 0/1 count vectors of the `[R, k]` sample positions."""
    out = np.zeros((len(positions), n))
    np.put_along_axis(out, positions, 1.0, axis=1)
    return out


def run_cell(kind: str, d: int, n: int, reps: int, seed: int, jackknife: bool, metrics=None,
             methods=METHODS) -> list[dict]:
    cell = Cell(kind, d, n, seed)
    rng = np.random.default_rng(seed + 1)
    ones = np.ones((1, n))
    # the target: the mean of each metric over TARGET_DRAWS fresh runs of N samples
    target_values: dict[str, list[float]] = {}
    for _ in range(TARGET_DRAWS):
        draw = cell.draw(rng)
        for k, v in cell.statistics(draw["a"], draw["b"], ones, metrics).items():
            target_values.setdefault(k, []).append(float(v[0]))
    target = {k: float(np.mean(v)) for k, v in target_values.items()}
    target_se = {k: float(np.std(v) / np.sqrt(len(v))) for k, v in target_values.items()}
    # the true sd of the metric at N: the oracle-sd column (estimate +- z sd with it) is what the best
    # normal-approximation interval could do, had a run the sd it cannot know
    target_sd = {k: float(np.std(v, ddof=1)) for k, v in target_values.items()}
    z = intervals._z(0.95)
    covered = {(m, k): 0 for m in methods for k in target}
    outside = {(m, k): 0 for m in methods for k in target}
    widths = {(m, k): [] for m in methods for k in target}
    # misses by side: the target above the interval (`high`) or below it (`low`)
    above = {(m, k): 0 for m in methods for k in target}
    for rep in range(reps):
        draw = cell.draw(rng)
        f, g = draw["a"], draw["b"]
        if rep == 0:
            cell.self_check(f)
        stat = lambda c: cell.statistics(f, g, c, metrics)  # noqa: E731
        estimate = {k: float(v[0]) for k, v in stat(ones).items()}
        half_seed = int(rng.integers(2 ** 31))  # the halves and each half's halves as `set_metric_interval` draws them
        half_idx = (intervals.complementary_half_indices if set(COMPLEMENTARY) & set(methods)
                    else intervals.half_sample_indices)(n, RESAMPLES, half_seed)
        halves = index_counts(half_idx, n)
        three_idx = np.argsort(rng.random((RESAMPLES, n)), axis=1)[:, :3 * n // 4]
        three = index_counts(three_idx, n)
        boot_idx = rng.integers(0, n, (RESAMPLES, n))
        boot = np.stack([np.bincount(row, minlength=n) for row in boot_idx]).astype(np.float64)
        half_draws = _in_chunks(stat, halves)
        boot_draws = _in_chunks(stat, boot) if {"percentile", "centred-bootstrap", "bca"} & set(methods) else None
        three_draws = _in_chunks(stat, three) if {"three-quarter", "two-size", "pooled-t-3/4"} & set(methods) else None
        three_inner = (_in_chunks(stat, index_counts(intervals.nested_half_indices(
            three_idx, INNER, int(rng.integers(2 ** 31))).reshape(RESAMPLES * INNER, -1), n))
                       if "pooled-t-3/4" in methods else None)
        loo = _in_chunks(stat, 1.0 - np.eye(n)) if jackknife else None
        inner = (_in_chunks(stat, index_counts(
            intervals.nested_half_indices(half_idx, INNER, half_seed + 1).reshape(RESAMPLES * INNER, -1), n))
                 if set(STUDENTISED) & set(methods) else None)
        for k, t in target.items():
            e = estimate[k]
            found = {"half-sampling": intervals.half_sampling_interval(e, half_draws[k], n),
                     "half-sampling-basic": intervals.half_sampling_basic_interval(e, half_draws[k], n),
                     "oracle-sd": (e - z * target_sd[k], e + z * target_sd[k])}
            if boot_draws is not None:
                found["percentile"] = intervals.percentile_interval(boot_draws[k])
                found["centred-bootstrap"] = intervals.centred_bootstrap_interval(e, boot_draws[k])
            if three_draws is not None:
                found["three-quarter"] = intervals.subsampling_interval(e, three_draws[k], n, 3 * n // 4)
            if k in NON_NEGATIVE:
                found["half-sampling-sqrt"] = intervals.half_sampling_sqrt_interval(e, half_draws[k], n)
            if loo is not None:
                found["jackknife"] = intervals.jackknife_interval(e, loo[k])
                if boot_draws is not None:
                    found["bca"] = intervals.bca_interval(e, boot_draws[k], loo[k])
            if "half-sampling-log" in methods and k in FLOORS and e >= FLOORS[k]:
                found["half-sampling-log"] = intervals.half_sampling_log_interval(e, half_draws[k], n, FLOORS[k])
            if inner is not None:
                nested = inner[k].reshape(RESAMPLES, INNER)
                found["studentised"] = intervals.studentised_subsampling_interval(e, half_draws[k], nested, n)
                found["pooled-t"] = intervals.pooled_t_interval(e, half_draws[k], nested, n)
                if three_inner is not None:
                    found["pooled-t-3/4"] = intervals.studentised_subsampling_interval(
                        e, three_draws[k], three_inner[k].reshape(RESAMPLES, INNER), n, pooled=True,
                        size=3 * n // 4)
                if "pooled-t-cov" in methods:
                    found["pooled-t-cov"] = intervals.studentised_subsampling_interval(
                        e, half_draws[k], nested, n, pooled=True,
                        sd=float(np.sqrt(intervals.complementary_variance(half_draws[k]))))
                if {"half-sampling-x", "pooled-t-x"} & set(methods):
                    sd_x = float(np.sqrt(intervals.nested_variance(half_draws[k], nested, n)))
                    found["half-sampling-x"] = (e - z * sd_x, e + z * sd_x)
                    found["pooled-t-x"] = intervals.studentised_subsampling_interval(
                        e, half_draws[k], nested, n, pooled=True, sd=sd_x)
                if "nested-t" in methods:
                    found["nested-t"] = intervals.nested_t_interval(e, half_draws[k], nested, n)
                for name, pooled in (("studentised", False), ("pooled-t", True)):
                    if k in FLOORS:
                        for scale in ("sqrt", "log"):
                            found[f"{name}-{scale}"] = intervals.studentised_subsampling_interval(
                                e, half_draws[k], nested, n, scale=scale, floor=FLOORS[k], pooled=pooled)
            if "half-sampling-cov" in methods:
                half_width = z * float(np.sqrt(intervals.complementary_variance(half_draws[k])))
                found["half-sampling-cov"] = (e - half_width, e + half_width)
            if "two-size" in methods:
                found["two-size"] = intervals.two_size_interval(e, half_draws[k], three_draws[k], n, 3 * n // 4)
            found = {m: v for m, v in found.items() if m in methods}
            if k in FLOORS:  # as the library does for the chosen methods
                for method in ("half-sampling", "half-sampling-sqrt", "two-size", "half-sampling-cov") + STUDENTISED:
                    if method in found:
                        low, high = found[method]
                        found[method] = (max(low, min(FLOORS[k], e)), high)
            for method, (low, high) in found.items():
                covered[method, k] += low <= t <= high
                above[method, k] += t > high
                outside[method, k] += not intervals.contains(e, low, high)
                widths[method, k].append(high - low)
    rows = []
    for (method, k), hits in covered.items():
        if not widths[method, k]:
            continue
        rows.append({"distribution": kind, "dim": d, "n": n, "metric": k, "method": method, "reps": reps,
                     "coverage": hits / reps, "estimate_outside": outside[method, k] / reps,
                     "target_above": above[method, k] / reps,
                     "mean_width": float(np.mean(widths[method, k])), "target": target[k],
                     "target_mc_se": target_se[k]})
    return rows


def _figure(row: dict, sides: bool) -> str:
    """A coverage in percent, with `sides` the share of repetitions whose target was above the interval."""
    text = f"{100 * row['coverage']:.1f}"
    return text + f" (^{100 * row['target_above']:.0f})" if sides and "target_above" in row else text


def markdown(rows: list[dict], seconds: float, reps: int, notes: list[str], sides: bool = False) -> str:
    cells = sorted({(r["distribution"], r["dim"], r["n"]) for r in rows},
                   key=lambda c: (KNOWN_DISTRIBUTIONS.index(c[0]), c[2] / c[1], c[1]))
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    methods = [m for m in METHODS + CANDIDATES if any(r["method"] == m for r in rows)]
    lines = ["# interval_coverage", "",
             f"Coverage of nominal 95% intervals of theta_N = E[metric at N | fixed real set] ({reps} repetitions "
             f"per cell, {RESAMPLES} resamples per interval, target from {TARGET_DRAWS} Monte Carlo runs; "
             f"{REAL_ROWS} real rows; IS with one split over {CLASSES} classes; FID over {FRAMES} frames per "
             f"video; paired: model B's sample i shares a latent with A's, rho {RHO}). Binomial standard error of "
             f"a coverage at 95%: {100 * np.sqrt(0.95 * 0.05 / reps):.1f} points. `outside` = share of intervals "
             "not containing their own estimate. `chosen` = the method the library uses for that metric.", "",
             "## Summary: the old percentile bootstrap against the chosen method (min-max over the cells)", "",
             "| metric | chosen method | old percentile | chosen | cells of the chosen method outside 93-97% |",
             "|---|---|---|---|---|"]
    for metric in metrics:
        chosen = chosen_method(metric)
        old = [r["coverage"] for r in rows if r["metric"] == metric and r["method"] == "percentile"]
        new = [r for r in rows if r["metric"] == metric and r["method"] == chosen]
        if not old or not new:
            continue
        misses = [f"{r['distribution']} {r['dim']}/{r['n']}: {100 * r['coverage']:.1f}" for r in new
                  if not 0.93 <= r["coverage"] <= 0.97]
        lines.append(f"| {metric} | {chosen} | {100 * min(old):.1f}-{100 * max(old):.1f} | "
                     f"{100 * min(r['coverage'] for r in new):.1f}-{100 * max(r['coverage'] for r in new):.1f} | "
                     f"{'; '.join(misses) or 'none'} |")
    lines += ["", "## Every method: min-max over the cells (cells inside 93-97% of all cells)", "",
              "| metric | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for metric in metrics:
        cols = []
        for m in methods:
            got = [r["coverage"] for r in rows if r["metric"] == metric and r["method"] == m]
            inside = sum(0.93 <= c <= 0.97 for c in got)
            cols.append(f"{100 * min(got):.1f}-{100 * max(got):.1f} ({inside}/{len(got)})" if got else "-")
        lines.append(f"| {metric} | " + " | ".join(cols) + " |")
    lines.append("")
    for metric in metrics:
        chosen = chosen_method(metric)
        lines += [f"## {metric} (chosen: {chosen})", "",
                  "| cell | " + " | ".join(methods) + " | outside (percentile) |",
                  "|---|" + "---|" * (len(methods) + 1)]
        for kind, d, n in cells:
            got = {r["method"]: r for r in rows
                   if (r["distribution"], r["dim"], r["n"], r["metric"]) == (kind, d, n, metric)}
            cols = [(f"**{_figure(got[m], sides)}**" if m == chosen else _figure(got[m], sides))
                    if m in got else "-" for m in methods]
            old = f"{100 * got['percentile']['estimate_outside']:.0f}%" if "percentile" in got else "-"
            lines.append(f"| {kind} {d}/{n} | " + " | ".join(cols) + f" | {old} |")
        lines.append("")
    if sides:
        lines.append("(^x): x% of the repetitions had the target above the interval (the rest of the misses below).")
        lines.append("")
    lines += [f"Wall time {seconds:.0f} s (the sum over processes). " + " ".join(notes)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="one small Gaussian cell only (a smoke run)")
    parser.add_argument("--jackknife", action="store_true", help="also the delete-1 jackknife and BCa (N <= 128)")
    parser.add_argument("--part", default="0/1", help="i/k: run every k-th cell from the i-th (one process)")
    parser.add_argument("--merge", type=int, default=0, help="join the JSONs of k parts into the results")
    parser.add_argument("--name", default="interval_coverage")
    parser.add_argument("--cells", default="", help="e.g. heavy-tailed:64/64,gaussian:16/64 (default the grid)")
    parser.add_argument("--metrics", default="", help="comma-separated benchmark metrics (default all)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated methods of {METHODS + CANDIDATES}")
    parser.add_argument("--sides", action="store_true", help="print the share of misses above each interval")
    args = parser.parse_args()
    if args.merge:
        parts = [json.loads((RESULTS / f"{args.name}.part{i}of{args.merge}.json").read_text())
                 for i in range(args.merge)]
        rows = [r for p in parts for r in p["rows"]]
        notes = [f"Part {i}: {p['seconds']:.0f} s, load average (1, 5, 15 min) at start {p['load_average_start']}, "
                 f"at end {p['load_average_end']}, cells {p['cell_seconds']}." for i, p in enumerate(parts)]
        notes.append(f"Machine: {json.dumps(parts[0]['machine'])}")
        seconds = sum(p["seconds"] for p in parts)
        (RESULTS / f"{args.name}.json").write_text(json.dumps(
            {"rows": rows, "parts": [{k: v for k, v in p.items() if k != "rows"} for p in parts],
             "seconds": seconds, "reps": parts[0]["reps"], "resamples": RESAMPLES, "target_draws": TARGET_DRAWS},
            indent=1))
        text = markdown(rows, seconds, parts[0]["reps"], notes, args.sides)
        (RESULTS / f"{args.name}.md").write_text(text)
        for i in range(args.merge):  # the merged JSON holds every row and each part's timing
            (RESULTS / f"{args.name}.part{i}of{args.merge}.json").unlink()
        print(text)
        return
    index, count = (int(v) for v in args.part.split("/"))
    grid = [("gaussian", 16, 64)] if args.quick else [(k, d, n) for k in DISTRIBUTIONS for d, n in GRID]
    # a cell's seed does not depend on which cells are run (the extra distributions' cells after the grid's)
    seeds = {c: 1000 + i for i, c in enumerate(grid + [(k, d, n) for k in EXTRA_DISTRIBUTIONS for d, n in GRID])}
    if args.cells:
        grid = [(k, int(c.split("/")[0]), int(c.split("/")[1]))
                for k, c in (item.split(":") for item in args.cells.split(","))]
        unknown_kinds = {k for k, _, _ in grid} - set(KNOWN_DISTRIBUTIONS)
        if unknown_kinds:
            parser.error(f"unknown distributions {sorted(unknown_kinds)}; known: {KNOWN_DISTRIBUTIONS}")
    metrics = tuple(args.metrics.split(",")) if args.metrics else None
    methods = tuple(args.methods.split(","))
    unknown = set(methods) - set(METHODS + CANDIDATES)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}")
    loads = [list(os.getloadavg())]
    start = time.time()
    rows, cell_seconds = [], {}
    out = RESULTS / f"{args.name}.part{index}of{count}.json"
    for i, (kind, d, n) in enumerate(grid):
        if i % count != index:
            continue
        t0 = time.time()
        jackknife = (args.jackknife or {"jackknife", "bca"} & set(methods)) and n <= 128
        rows += run_cell(kind, d, n, args.reps, seed=seeds.get((kind, d, n), 1000 + i), jackknife=bool(jackknife),
                         metrics=metrics, methods=methods)
        cell_seconds[f"{kind} {d}/{n}"] = round(time.time() - t0)
        print(f"{kind} {d}/{n}: {time.time() - t0:.0f} s", flush=True)
        out.write_text(json.dumps({"rows": rows, "machine": machine(), "load_average_start": loads[0]}, indent=1))
    loads.append(list(os.getloadavg()))
    out.write_text(json.dumps(
        {"rows": rows, "machine": machine(), "load_average_start": loads[0], "load_average_end": loads[1],
         "seconds": time.time() - start, "cell_seconds": cell_seconds, "reps": args.reps}, indent=1))
    if count == 1:
        main_merge = [sys.argv[0], "--merge", "1", "--name", args.name] + (["--sides"] if args.sides else [])
        sys.argv = main_merge
        main()


if __name__ == "__main__":
    main()
