"""The evaluation engine: metric names -> the feature jobs they need -> one feature stage -> result entries.

`ucf101`, `metrics`, `compare`, `curves` and the dashboard's run pages all resolve metrics here, so a metric
in the registry (`lumiere_eval.metrics.registry`) is computable by every command without command code of its
own. The flow is one way:

1. `Protocols` holds the protocol of every protocol slot (FVD, IS, cd-FVD, JEDi; CLIP frames, FID frames).
2. `plan_jobs` turns the metric names into feature jobs, one per registered job name (FVD, KVD, precision and
   recall share one I3D pass), each extractor built once by the caller's `make_extractor`.
3. The caller runs `runner.features.compute_features` on its videos (its own blocks, shards and cache).
4. `metric_results` stacks the rows (unusable videos left out), computes every metric through its registered
   function and interval, and returns the record entries, the per-sample scores and the shortfalls against
   each metric's protocol (`short_of_protocol`), counted on the videos actually used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.metrics import values
from lumiere_eval.metrics.intervals import METHOD_DESCRIPTIONS
from lumiere_eval.metrics.registry import INTERVAL_METHOD_NAMES, METRICS, get_metric
from lumiere_eval.runner.features import FeatureJob
from lumiere_eval.runner.metric_memo import MetricMemo

MOTION = "motion"  # a --metrics name that stands for every metric of the motion tier
MOTION_METRICS = tuple(n for n, m in METRICS.items() if m.tier == "motion")
ENGINE_METRICS = tuple(n for n, m in METRICS.items() if m.tier == "core")
VBENCH = "vbench"  # a --metrics name that stands for every VBench dimension (lumiere_eval.runner.vbench_tier)
VBENCH_METRICS = tuple(n for n, m in METRICS.items() if m.tier == "vbench")


class MetricSelectionError(LumiereEvalError):
    """A --metrics list with an unknown or unusable name."""


def parse_metrics(text: str | tuple | list, option: str = "--metrics") -> tuple[str, ...]:
    """Metric names from a comma-separated list (or a sequence), in registry order; `motion` stands for the
    motion tier, `vbench` for every VBench dimension (each also by its own name). An unknown or empty list raises
    MetricSelectionError naming the known ones."""
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    known = (*ENGINE_METRICS, MOTION, VBENCH, *VBENCH_METRICS)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise MetricSelectionError(f"{option}: unknown {', '.join(unknown) if unknown else 'empty list'}; choose "
                                   f"from {', '.join(known)} (`lumiere-eval metrics --list` describes each)")
    if VBENCH in names:
        names += VBENCH_METRICS
    return tuple(n for n in known if n in names and n != VBENCH)


@dataclass(frozen=True)
class Protocols:
    """The protocol of each slot a metric's feature job reads: `fvd` (FVD, KVD, precision, recall, frame FID),
    `inception` (IS), `cdfvd`, `jedi`; CLIP's extractor and frames, frame FID's frames (0: all)."""

    fvd: object
    inception: object
    cdfvd: object
    jedi: object
    clip_extractor: str = "clip"
    clip_frames: int | None = None  # None: the extractor's own
    fid_frames: int = 0

    def of_job(self, job: str):
        """The protocol of feature job `job` (None for CLIPSIM, whose protocol is its extractor's)."""
        return {"fvd": self.fvd, "fid": self.fvd, "is": self.inception, "cdfvd": self.cdfvd,
                "jedi": self.jedi}.get(job)

    def fid_frame_indices(self) -> tuple[int, ...]:
        """The clip frames frame FID embeds (uniform over the FVD clip)."""
        from lumiere_eval.extractors.clipsim import uniform_indices

        length = self.fvd.fake_sampling.num_frames
        return tuple(int(i) for i in uniform_indices(length, self.fid_frames or length))

    def describe(self, metrics: tuple[str, ...]) -> dict:
        """The record's `protocols`: the described protocol of every slot the metrics read, with `intervals`, the
        interval method of each of `metrics` computed under it (a description, not part of the id: the method
        does not change the number)."""
        jobs = {need.job for name in metrics if name in METRICS for need in get_metric(name).features}
        slots = {"fvd": self.fvd, "is": self.inception, "cdfvd": self.cdfvd, "jedi": self.jedi}
        used = {"fvd", "is"} | ({"cdfvd"} & jobs) | ({"jedi"} & jobs)  # fvd and is: always described, as before
        return {slot: p.describe() | {"intervals": interval_methods(metrics, p, self)}
                for slot, p in slots.items() if slot in used}


def interval_methods(metrics: tuple[str, ...], protocol, protocols: Protocols) -> dict[str, str]:
    """`{metric: "method: description"}` of the set metrics among `metrics` that read `protocol`."""
    out = {}
    for name in (n for n in metrics if n in METRICS):
        metric = get_metric(name)
        if metric.kind == "set" and metric.interval in INTERVAL_METHOD_NAMES and any(
                protocols.of_job(need.job) is protocol for need in metric.features):
            method = INTERVAL_METHOD_NAMES[metric.interval]
            out[name] = f"{method}: {METHOD_DESCRIPTIONS[method]}"
    return out


def derive_fvd(name: str, num_samples: int | None = None, extractor: str | None = None, real_clip: str | None = None,
               fake_clip: str | None = None, covariance: str | None = None):
    """FVD protocol `name` with the command's overrides (None: the protocol's); the registered protocol it then
    equals, else `<name>+custom` (`FVDProtocol.derive`)."""
    from lumiere_eval.metrics.protocols import get_fvd_protocol
    from lumiere_eval.video import parse_clip_sampling

    return get_fvd_protocol(name).derive(
        num_samples=num_samples, extractor=extractor,
        real_sampling=parse_clip_sampling(real_clip) if real_clip else None,
        fake_sampling=parse_clip_sampling(fake_clip) if fake_clip else None,
        unbiased_covariance=None if covariance is None else covariance == "unbiased")


def derive_is(name: str, num_samples: int | None = None, extractor: str | None = None, splits: int | None = None,
              shuffle_seed: int | None = -1, fake_clip: str | None = None):
    """IS protocol `name` with the command's overrides (`shuffle_seed` -1: the protocol's). A count above the
    protocol's is recorded (all samples enter its splits); a smaller one keeps the protocol and is a shortfall."""
    from lumiere_eval.metrics.protocols import get_is_protocol
    from lumiere_eval.video import parse_clip_sampling

    base = get_is_protocol(name)
    changes = {"num_samples": max(base.num_samples, num_samples or 0)}
    if extractor is not None:
        changes["extractor"] = extractor
    if splits is not None:
        changes["splits"] = splits
    if shuffle_seed != -1:
        changes["shuffle_seed"] = shuffle_seed
    if fake_clip:
        changes["sampling"] = parse_clip_sampling(fake_clip)
    return base.derive(**changes)


@dataclass
class JobPlan:
    """The feature jobs of a metric list: on generated videos and on real ones, by job name."""

    fake: list[FeatureJob]
    real: list[FeatureJob]

    @property
    def all(self) -> list[FeatureJob]:
        """Every job (generated first)."""
        return self.fake + self.real

    def __iter__(self):
        """`fake, real = plan`."""
        return iter((self.fake, self.real))

    def job(self, name: str) -> FeatureJob | None:
        """The job called `name` on generated videos (None when no metric needs it)."""
        return next((j for j in self.fake if j.name == name), None)


def plan_jobs(metrics: tuple[str, ...], protocols: Protocols, make_extractor: Callable[..., object]) -> JobPlan:
    """The feature jobs the metrics need, one per registered job name; `make_extractor(name, **options)` builds
    an extractor (each built once, shared by every job on it)."""
    built: dict[tuple, object] = {}

    def extractor(name: str, **options):
        key = (name, tuple(sorted(options.items())))
        if key not in built:
            built[key] = make_extractor(name, **options)
        return built[key]

    plan = JobPlan([], [])
    seen = set()
    for name in metrics:
        for need in get_metric(name).features if name in METRICS else ():
            if need.job in seen:
                continue
            seen.add(need.job)
            protocol = protocols.of_job(need.job)
            if need.kind == "frames":  # CLIP similarity: the extractor samples its frames itself
                options = {} if protocols.clip_frames is None else {"num_frames": protocols.clip_frames}
                plan.fake.append(FeatureJob(need.job, extractor(protocols.clip_extractor, **options), None,
                                            kind="frames"))
                continue
            options = {"frame_size": protocol.frame_size} if getattr(protocol, "frame_size", None) else {}
            ex = extractor(need.extractor or protocol.extractor, **options)
            frames = protocols.fid_frame_indices() if need.kind == "frame_rows" else None
            kind = "frame_rows" if need.kind == "frame_rows" else "rows"
            if "fake" in need.sides:
                plan.fake.append(FeatureJob(need.job, ex, getattr(protocol, "fake_sampling", None)
                                            or protocol.sampling, kind, frames))
            if "real" in need.sides:
                plan.real.append(FeatureJob(need.job, ex, protocol.real_sampling, kind, frames))
    return plan


def featurize(plan: JobPlan, fake_items: list, real_items: list, cache, block_size: int, progress: bool = True,
              videos_of: Callable[[FeatureJob], int] | None = None, **options) -> tuple[dict, dict]:
    """The feature stage of a plan: the generated videos' rows for its generated-side jobs, the real videos' for
    its real-side jobs (`runner.features.compute_features`, with `options`: owns_block, strict, on_skip,
    max_video_mb, decode_workers); with `videos_of`, each job on that many first videos of its side (a protocol's
    sample count), jobs with the same count in one pass."""
    from lumiere_eval.runner.features import compute_features

    def side(items: list, jobs: list[FeatureJob], desc: str) -> dict:
        counts = {len(items)} if videos_of is None else {videos_of(job) for job in jobs}
        rows: dict = {}
        for count in sorted(counts):
            chosen = [job for job in jobs if videos_of is None or videos_of(job) == count]
            rows |= compute_features(items[:count], chosen, cache, block_size, progress=progress, desc=desc,
                                     **options)
        return rows

    return side(fake_items, plan.fake, "features [generated]"), side(real_items, plan.real, "features [real]")


class NotEnoughVideosError(LumiereEvalError):
    """A metric left with too few usable videos on a side (`side`: "real" or "generated")."""

    def __init__(self, message: str, side: str):
        super().__init__(message)
        self.side = side


def _stack(blocks: list, metric: str, side: str, need: int) -> tuple[np.ndarray, list[int]]:
    keep = [i for i, b in enumerate(blocks) if b is not None]
    if len(keep) < need:
        raise NotEnoughVideosError(f"{metric} needs at least {need} usable {side} video(s), got {len(keep)}"
                                   + ("" if len(keep) == len(blocks) else
                                      f" ({len(blocks) - len(keep)} left out; see the skipped videos)"), side)
    rows = [blocks[i] for i in keep]
    return (np.concatenate(rows) if side == "real" and rows[0].ndim == 2 else np.stack(rows)), keep


def protocol_id(name: str, protocols: Protocols, plan: JobPlan) -> str:
    """The protocol id a metric's number is computed under."""
    if name == "clipsim":
        return values.clip_protocol(plan.job("clipsim"))
    if name == "fid":
        return f"fid-frames:{protocols.fvd.id}:frames{len(protocols.fid_frame_indices())}"
    return protocols.of_job(get_metric(name).features[0].job).id


def metric_results(metrics: tuple[str, ...], protocols: Protocols, plan: JobPlan, fake_rows: dict, real_rows: dict,
                   prompts: list[str | None], num_resamples: int | dict[str, int], seed: int,
                   classes: list[str] | None = None, prompted: list[str] | None = None,
                   memo: MetricMemo | None = None) -> dict:
    """Entries of every engine metric in `metrics` from the feature stage's rows, with `per_sample` (a dict per
    generated video: clipsim, is_top1, is_prob_of_prompted_class where computed) and `short_of_protocol`
    (metric -> wanted and used videos, where fewer were used than its protocol's sample count).

    `prompts`: each generated video's prompt (CLIPSIM); `classes`/`prompted`: the IS classifier's class order
    and each video's prompted class, for the per-sample class probability; `memo` keeps each metric's result by
    content (a rerun on the same rows reads it instead of recomputing the interval)."""
    names = [n for n in metrics if n in ENGINE_METRICS]
    per_sample: list[dict] = [{} for _ in prompts]
    rows: dict[str, tuple] = {}
    sides_used: dict[str, dict[str, int]] = {}
    for name in names:
        need = get_metric(name).features[0]
        minimum = get_metric(name).min_videos if get_metric(name).kind == "set" else 1
        if name == "clipsim":
            fake, keep = _stack(fake_rows["clipsim"], "CLIPSIM", "generated", 1)
            missing = next((i for i in keep if prompts[i] is None), None)
            if missing is not None:
                raise MetricSelectionError(f"clipsim needs a prompt for every generated video; video {missing} "
                                           "has none")
            texts = plan.job("clipsim").extractor.text_embeddings([prompts[i] for i in keep])
            scores = values.clipsim_per_sample(list(fake), texts)
            for i, v in zip(keep, scores):
                per_sample[i]["clipsim"] = float(v)
            rows[name], sides_used[name] = (None, scores), {"fake": len(keep)}
            continue
        real = None
        if "real" in need.sides:
            real, real_keep = _stack(real_rows[need.job], get_metric(name).title, "real", minimum)
        fake, keep = _stack(fake_rows[need.job], get_metric(name).title, "generated", minimum)
        rows[name] = (real, fake)
        sides_used[name] = {"fake": len(keep), **({"real": len(real_keep)} if real is not None else {})}
        if name == "is" and classes is not None and prompted is not None and fake.shape[1] == len(classes):
            for i, p in zip(keep, fake):  # classifier labels follow the class index order
                per_sample[i].update({"is_top1": classes[int(p.argmax())],
                                      "is_prob_of_prompted_class": float(p[classes.index(prompted[i])])})
    ids = {name: (protocols.of_job(get_metric(name).features[0].job), protocol_id(name, protocols, plan))
           for name in names}
    results = values.metric_entries(names, rows, ids, num_resamples, seed,
                                    values.compute if memo is None else memo.compute)
    if "is" in results and any("is_top1" in s for s in per_sample):
        hits = [s["is_top1"] == c for s, c in zip(per_sample, prompted) if "is_top1" in s]
        results["is"]["top1_accuracy_vs_prompted_class"] = float(np.mean(hits))
    for name, entry in results.items():
        job = plan.job(get_metric(name).features[0].job)
        entry.update({"extractor": job.extractor.describe(), "clip": job.config["clip"]})
    return {"metrics": results, "per_sample": per_sample, "short_of_protocol": shortfalls(results, ids, sides_used)}


def shortfalls(results: dict, ids: dict, sides_used: dict) -> dict:
    """Metric -> {"wanted", "given"} where the videos used (the smaller side of a set metric) are fewer than
    the metric's protocol's sample count (metrics without a counted protocol are never short)."""
    out = {}
    for name in results:
        wanted = getattr(ids[name][0], "num_samples", None)
        given = min(sides_used[name].values())
        if wanted is not None and given < wanted:
            out[name] = {"wanted": int(wanted), "given": int(given)}
    return out


def shortfall_text(short: dict) -> str:
    """One line naming each metric computed on fewer videos than its protocol asks ('' when none)."""
    if not short:
        return ""
    return ("fewer videos than the protocols ask for: " + ", ".join(
        f"{name} used {s['given']} of {s['wanted']}" for name, s in short.items())
        + "; these numbers are not comparable to published ones (set metrics are biased at small N)")


def motion_entries(per_video: list[dict | None], num_resamples: int, seed: int, tier_id: str) -> dict:
    """Record entries of the motion tier's scores (mean over the videos that have each, with its interval)."""
    from lumiere_eval.metrics.record import metric_entry
    from lumiere_eval.metrics.motion import summarize

    summary = summarize([s for s in per_video if s], num_resamples, seed)
    return {name: metric_entry(name, s["value"], s["n"], tier_id, s["ci_low"], s["ci_high"],
                               **({"interval_method": "percentile"} if s["ci_low"] is not None else {}))
            for name, s in summary.items()}


def describe_metrics() -> str:
    """`--list-metrics`: each registered metric with its direction, kind, protocols and the weights it needs."""
    from lumiere_eval.metrics.protocols import FVD_PROTOCOLS, IS_PROTOCOLS, JEDI_PROTOCOLS

    family = {"fvd": sorted(n for n in FVD_PROTOCOLS if not n.startswith("cdfvd")),
              "cdfvd": sorted(n for n in FVD_PROTOCOLS if n.startswith("cdfvd")),
              "is": sorted(IS_PROTOCOLS), "jedi": sorted(JEDI_PROTOCOLS)}
    direction = {True: "higher is better", False: "lower is better", None: "compare with real videos"}
    lines = []
    for name, m in METRICS.items():
        slot = "cdfvd" if name == "cdfvd" else m.family
        protocols = (f"protocols: {m.default_protocol} (default)" +
                     "".join(f", {p}" for p in family.get(slot, []) if p != m.default_protocol)
                     if m.default_protocol else "protocol: the CLIP extractor's frames, x100 cosine clamped at 0")
        weights = ", ".join(m.weights) if m.weights else "none"
        group = {"motion": "  (--metrics motion)", "vbench": "  (--metrics vbench)"}.get(m.tier, "")
        lines.append(f"{name:30s} {m.title}: {m.kind} metric, {direction[m.higher_is_better]}{group}\n"
                     f"{'':30s} {protocols}\n{'':30s} weights: {weights}")
    return "\n".join(lines)


def vbench_results(names: tuple[str, ...], items: list, weights: dict, fetch_missing: bool, device: str | None,
                   num_resamples: int, seed: int, prompts: list[str | None] | None = None,
                   suite_path: str | None = None) -> dict | None:
    """The VBench dimensions among `names` on the generated videos `items` with their `prompts`
    (`runner.vbench_tier.score_items`; None when none is asked for; `suite_path`: the VBench_full_info.json of
    appearance style's phrases, default the installed one). A dimension whose weights (or, for the text-video
    ones, prompts) are missing is left out with one line in `unavailable`; the others are computed."""
    wanted = [n for n in names if n in VBENCH_METRICS]
    if not wanted:
        return None
    from lumiere_eval.runner.vbench_tier import score_items

    return score_items(items, wanted, weights, fetch_missing, device, num_resamples, seed, prompts, suite_path)


def unverified_weights(plan: JobPlan) -> list[str]:
    """The weight files of the plan's extractors (and their companions, e.g. V-JEPA's probe) whose checksum
    could not be verified, as paths: what `unverified_weights` of every record lists."""
    described = [job.extractor.describe() for job in plan.all]
    return sorted({w["path"] for d in described for w in (d["weights"], d.get("probe_weights"))
                   if w is not None and not w.get("verified")})


def record(kind: str, model: dict, domain: str, protocol_id: str, protocols: Protocols, metrics: tuple[str, ...],
           computed: dict, plan: JobPlan, provenance: dict, **fields) -> dict:
    """A result record's shared fields (every command writes these the same way), then the command's own."""
    from lumiere_eval import __version__
    from lumiere_eval.metrics.record import SCHEMA_VERSION

    return {"schema_version": SCHEMA_VERSION, "kind": kind, "lumiere_eval_version": __version__, "model": model,
            "domain": domain, "protocol_id": protocol_id, "protocols": protocols.describe(metrics),
            "metrics": computed["metrics"], "short_of_protocol": computed["short_of_protocol"],
            "unverified_weights": unverified_weights(plan), "provenance": provenance, **fields}
