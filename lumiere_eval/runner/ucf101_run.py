"""The zero-shot UCF101 run: plan -> generate -> features (real and generated) -> metrics -> records.

Everything a number depends on is in the resolved configuration and the protocol id; every per-sample
result is on disk before the metrics are computed, so a killed run resumes without recomputation, and a
sharded run (torchrun or `--shard i/n` then `--merge`) gives the single-process numbers.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval import files
from lumiere_eval.files import atomic_write_json
from lumiere_eval.metrics.protocols import (DEFAULT_FVD_PROTOCOL, DEFAULT_IS_PROTOCOL, FVDProtocol, ISProtocol,
                                            get_fvd_protocol, get_jedi_protocol)
from lumiere_eval.metrics.record import write_record, write_samples
from lumiere_eval.datasets import ucf101 as ucf101_data
from lumiere_eval.runner.cache import FeatureCache, FileHashes, default_cache_dir
from lumiere_eval.runner.metric_memo import MetricMemo
from lumiere_eval.runner.distributed import Shard, current_shard, finish
from lumiere_eval.runner import evaluation
from lumiere_eval.runner.features import FEATURE_BLOCK, FeatureJob, VideoItem
from lumiere_eval.runner.generation import VideoSpec, collect_records, generate_samples
from lumiere_eval.runner.provenance import git_commit, machine, package_versions
from lumiere_eval.runner.report import write_summary
from lumiere_eval.runner.run_folder import check_identity, recorded_identity, run_folder_lock
from lumiere_eval.limits import DEFAULT_MAX_SKIPPED_FRACTION, DEFAULT_MAX_VIDEO_MB
from lumiere_eval.output_files import clean_stale_temporaries
from lumiere_eval.runner.skips import skip_report, warn_if_exceeded

PRESETS = {"10k": 10000, "2048": 2048}


@dataclass
class RunConfig:
    """Every option of a run; saved as `RUN/config.json` and recorded in `results.json`."""

    out: Path
    data_root: Path
    splits_dir: Path | None = None
    domain: str = "ucf101"
    fold: int = 1
    real_split: str = "train"
    num_real: int = 10000
    real_clip: str | None = None  # None: the FVD protocol's
    fake_clip: str | None = None
    num_samples: int = 10000
    prompts: str = "classname-v1"
    model: str = "dummy"
    model_args: dict = field(default_factory=dict)
    num_frames: int = 16
    fps: float = 16.0
    height: int = 128
    width: int = 128
    metrics: tuple[str, ...] = ("fvd", "is", "clipsim")
    fvd_protocol: str = DEFAULT_FVD_PROTOCOL
    is_protocol: str = DEFAULT_IS_PROTOCOL
    cdfvd_protocol: str = "cdfvd2048_16f"
    jedi_protocol: str = "jedi5000_16f"
    fvd_extractor: str | None = None  # None: the protocol's; else overrides it (protocol renamed <name>+custom)
    is_extractor: str | None = None
    clip_extractor: str = "clip"
    clip_frames: int | None = None  # None: the CLIP extractor's own
    fid_frames: int = 0
    weights: dict = field(default_factory=dict)  # extractor name -> local weight file
    fvd_covariance: str | None = None
    is_splits: int | None = None
    is_shuffle_seed: int | None = -1  # -1: the protocol's; None: no shuffle
    bootstrap: int = 200
    fid_bootstrap: int = 0
    seed: int = 0
    batch_size: int = 4  # videos per generator call: speed only
    feature_block: int = FEATURE_BLOCK  # videos per extractor call = cache block; recorded (it changes round-off)
    cache_dir: Path | None = None
    device: str | None = None
    strict: bool = False
    max_video_mb: float = DEFAULT_MAX_VIDEO_MB  # decoded frames kept per video; more is refused (skipped)
    decode_workers: int | None = None  # decode processes ahead of the extractor (None: auto); speed only
    max_skipped_fraction: float = DEFAULT_MAX_SKIPPED_FRACTION  # above it, results and summary warn loudly
    shard: str | None = None
    merge: bool = False
    overwrite: bool = False  # a rerun with another identity clears the folder instead of being refused
    wait: bool = False  # wait for the run folder's lock instead of refusing
    progress: bool = True

    def resolved_splits_dir(self) -> Path:
        """`--splits-dir`, else `ucfTrainTestlist/` inside or beside the data root."""
        if self.splits_dir:
            return Path(self.splits_dir)
        for candidate in (self.data_root / "ucfTrainTestlist", self.data_root.parent / "ucfTrainTestlist"):
            if candidate.is_dir():
                return candidate
        raise ucf101_data.ProtocolDataError(f"no ucfTrainTestlist/ folder in or beside {self.data_root}; "
                                      "pass --splits-dir")

    def fvd(self) -> FVDProtocol:
        """The FVD protocol of the run: the registered one with this run's overrides and generated-sample count."""
        return evaluation.derive_fvd(self.fvd_protocol, self.num_samples, self.fvd_extractor, self.real_clip,
                                     self.fake_clip, self.fvd_covariance)

    def inception(self) -> ISProtocol:
        """The IS protocol of the run, with this run's overrides (the clip is the FVD protocol's generated clip).
        A run with fewer samples than the protocol keeps its name and is flagged `short_of_protocol`."""
        return evaluation.derive_is(self.is_protocol, self.num_samples, self.is_extractor, self.is_splits,
                                    self.is_shuffle_seed, self.fake_clip)

    def protocols(self) -> evaluation.Protocols:
        """The engine's protocol of every slot (FVD, IS, cd-FVD, JEDi, CLIP, frame FID) for this run."""
        return evaluation.Protocols(self.fvd(), self.inception(), get_fvd_protocol(self.cdfvd_protocol),
                                    get_jedi_protocol(self.jedi_protocol), self.clip_extractor, self.clip_frames,
                                    self.fid_frames)

    def protocol_id(self, suite: ucf101_data.PromptSuite) -> str:
        """A name that changes whenever the numbers can change: the plan, the FVD and the IS protocol names
        (their full ids are in results.json `protocols`)."""
        fvd = self.fvd()
        return (f"{self.domain}-zs-v1_fold{self.fold}{self.real_split}-real{self.num_real}-{fvd.real_sampling.id}"
                f"_gen{self.num_samples}-{fvd.fake_sampling.id}-{suite.name}_{fvd.name}_{self.inception().name}")

    def to_json(self) -> dict:
        """JSON-ready options (paths as strings)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


@dataclass
class Plan:
    """What a run will do, resolved before any compute."""

    classes: list[str]
    suite: ucf101_data.PromptSuite
    samples: list[ucf101_data.SampleSpec]
    real: list[tuple[ucf101_data.SplitEntry, Path]]
    protocol_id: str
    allocation: dict[str, int]
    unavailable: list[dict] = field(default_factory=list)  # listed real videos missing or unopenable: path, reason


def make_plan(config: RunConfig) -> Plan:
    """Pre-flight: splits, classes, class folders, real videos and prompts checked; the samples allocated."""
    evaluation.parse_metrics(config.metrics, "metrics")
    splits_dir = config.resolved_splits_dir()
    classes = ucf101_data.read_class_index(splits_dir)
    entries = ucf101_data.read_split(splits_dir, config.real_split, config.fold)
    index = ucf101_data.VideoIndex(config.data_root)
    for class_name in classes:
        index.class_folder(class_name)
    train = entries if config.real_split == "train" else ucf101_data.read_split(splits_dir, "train", config.fold)
    counts = Counter(e.class_name for e in train)
    allocation = ucf101_data.allocate(config.num_samples, {c: counts.get(c, 0) for c in classes})
    suite = ucf101_data.prompt_suite(config.prompts, classes)
    protocol_id = config.protocol_id(suite)
    samples = ucf101_data.sample_plan(f"{config.domain}-zs-v1:seed{config.seed}", allocation, suite)
    chosen = entries
    if config.num_real < len(entries):
        rng = np.random.default_rng(config.seed)
        chosen = [entries[i] for i in sorted(rng.choice(len(entries), config.num_real, replace=False))]
    missing, real = [], []
    for entry in chosen:
        try:
            real.append((entry, index.resolve(entry)))
        except ucf101_data.MissingVideoError as err:
            missing.append({"path": err.path, "reason": err.reason})
    if missing and config.strict:
        raise ucf101_data.ProtocolDataError(f"{len(missing)} listed video(s) missing, first: {missing[0]['path']}: "
                                      f"{missing[0]['reason']}")
    _check_real_set(config, len(chosen), real, missing)
    return Plan(classes, suite, samples, real, protocol_id, allocation, missing)


def _check_real_set(config: RunConfig, listed: int, real: list, missing: list[dict]) -> None:
    """Refuse, before any generation, a real set smaller than the real-clip count of a metric's protocol (its
    sample count, or every listed clip when the split holds fewer) or than 2; fewer missing clips stay skips."""
    protocols = config.protocols()
    counts = [(protocols.of_job(need.job).num_samples, evaluation.get_metric(name).title) for name in config.metrics
              if name in evaluation.ENGINE_METRICS for need in evaluation.get_metric(name).features
              if "real" in need.sides]
    if not counts:
        return
    count, title = min(counts)
    needed = max(2, min(listed, count))
    if len(real) >= needed:
        return
    first = ", ".join(f"{m['path']} ({m['reason']})" for m in missing[:3])
    raise ucf101_data.ProtocolDataError(
        f"{config.data_root}: only {len(real)} of the {listed} real clips listed in {config.real_split}list0"
        f"{config.fold} exist ({len(missing)} missing; the {title} protocol needs {needed}); first missing: {first}")


def build_jobs(config: RunConfig) -> evaluation.JobPlan:
    """The engine's feature jobs of the run's metrics (generated and real videos), on local or cached weights."""
    from lumiere_eval.runner.options import extractor_factory

    return evaluation.plan_jobs(config.metrics, config.protocols(),
                                extractor_factory(config.weights, config.device, config.feature_block))


def describe_plan(config: RunConfig, plan: Plan) -> str:
    """The `--dry-run` text: counts per class, real set, and the work still to do."""
    done = sum((config.out / files.SAMPLES_DIR / f"{s.index:06d}.json").is_file() for s in plan.samples)
    top = sorted(plan.allocation.items(), key=lambda kv: -kv[1])
    lines = [f"protocol: {plan.protocol_id}",
             f"model: {config.model} {config.model_args or ''}",
             f"generated videos: {len(plan.samples)} over {len(plan.classes)} classes "
             f"({done} already done, {len(plan.samples) - done} to generate; "
             f"{config.num_frames} frames {config.height}x{config.width} at {config.fps} fps)",
             "per-class counts: " + ", ".join(f"{c}={n}" for c, n in top[:8]) + (" ..." if len(top) > 8 else ""),
             f"  min {top[-1][1]} ({top[-1][0]}), max {top[0][1]} ({top[0][0]})",
             f"real clips: {len(plan.real)} from {config.real_split}list0{config.fold} "
             f"({config.fvd().real_sampling.id})",
             f"prompts: {plan.suite.name} (hash {plan.suite.hash}); e.g. {plan.samples[0].prompt!r}",
             f"metrics: {', '.join(config.metrics)}; FVD protocol {config.fvd().id}; IS protocol "
             f"{config.inception().id}; clip={config.clip_extractor}",
             *planned_shortfalls(config, plan),
             f"work: {len(plan.samples) - done} generations, up to {len(plan.samples) + len(plan.real)} video "
             f"decodes for features (cached features are reused from {config.cache_dir or default_cache_dir()})",
             f"output: {config.out}"]
    return "\n".join(lines)


def planned_shortfalls(config: RunConfig, plan: Plan) -> list[str]:
    """A line per metric whose protocol asks for more videos than the run will give it (flagged
    `short_of_protocol` in the results)."""
    protocols, lines = config.protocols(), []
    for name in config.metrics:
        if name not in evaluation.ENGINE_METRICS:
            continue
        need = evaluation.get_metric(name).features[0]
        protocol = protocols.of_job(need.job)
        wanted = getattr(protocol, "num_samples", None)
        given = min(len(plan.samples), len(plan.real)) if "real" in need.sides else len(plan.samples)
        if wanted is not None and given < wanted:
            lines.append(f"SHORT OF PROTOCOL: {evaluation.get_metric(name).title} {protocol.name} uses {given} of its "
                         f"{wanted} samples (flagged short_of_protocol in results.json and summary.md)")
    return lines


def _check_disk(config: RunConfig, plan: Plan) -> None:
    config.out.mkdir(parents=True, exist_ok=True)
    need = len(plan.samples) * config.num_frames * config.height * config.width * 3 // 20  # ~20:1 H.264
    free = shutil.disk_usage(config.out).free
    if free < need:
        raise LumiereEvalError(f"{config.out}: {free / 1e9:.1f} GB free, the samples need about {need / 1e9:.1f} GB")


def run(config: RunConfig, dry_run: bool = False) -> dict | None:
    """Run (or resume) the protocol under the run folder's lock and identity check; returns the results on the
    main process, None elsewhere or on a dry run."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    plan = make_plan(config)
    if dry_run:
        print(describe_plan(config, plan))
        return None
    shard = current_shard(config.shard)
    part = f"shard{shard.rank}of{shard.world}" if shard.world > 1 else None
    with run_folder_lock(config.out, part, config.wait):
        return _run_locked(config, plan, shard, timings, start)


def run_identity(config: RunConfig, plan: Plan, jobs: list[FeatureJob], generator_description: dict | None) -> dict:
    """Everything that changes a sample or a number of this run (see runner.run_folder)."""
    described = [job.extractor.describe() for job in jobs]
    return {"model": config.model, "model_args": config.model_args, "generator": generator_description,
            "height": config.height, "width": config.width, "num_frames": config.num_frames, "fps": config.fps,
            "prompts": {"suite": plan.suite.name, "hash": plan.suite.hash}, "seed": config.seed,
            "num_samples": config.num_samples, "num_real": config.num_real, "protocol": plan.protocol_id,
            "fvd_protocol": config.fvd().id, "is_protocol": config.inception().id,
            "feature_block": config.feature_block,
            **{f"{slot}_protocol": p["id"] for slot, p in config.protocols().describe(config.metrics).items()
               if slot in ("cdfvd", "jedi")},
            "weights": {d["id"]: d["weights"]["sha256"] for d in described},
            "device": sorted({d["device"] for d in described}), "dtype": sorted({d["dtype"] for d in described})}


def _run_locked(config: RunConfig, plan: Plan, shard: Shard, timings: dict, start: float) -> dict | None:
    from lumiere_eval.models.base import create_generator

    jobs = build_jobs(config)  # resolves every weight file before any compute
    generator = None if config.merge else create_generator(config.model, **config.model_args)
    description = None if generator is None else generator.describe() | {"name": config.model}
    check_identity(config.out, run_identity(config, plan, jobs.all, description),
                   overwrite=config.overwrite and shard.is_main,  # every shard records it before any sample
                   write=True,
                   ignore=("generator",) if config.merge else ())
    _check_disk(config, plan)
    if shard.is_main:
        clean_stale_temporaries(config.out)  # results, summary, config left half-written by a killed run
    if generator is not None and hasattr(generator, "validate"):
        _match_folder(generator, plan, config)
    if shard.is_main:
        atomic_write_json(config.out / files.CONFIG_FILE, config.to_json())
    timings["preflight_s"] = time.perf_counter() - start

    t0 = time.perf_counter()
    video_spec = VideoSpec(config.num_frames, config.fps, config.height, config.width)
    counts = {"already_done": 0, "generated": 0, "failed": 0}
    if generator is not None:
        counts = generate_samples(config.out, plan.samples, generator, video_spec, shard, config.batch_size,
                                  config.progress)
    shard.barrier()
    records, missing = collect_records(config.out, plan.samples)
    if config.merge and missing:
        raise LumiereEvalError(f"--merge: {len(missing)} sample(s) not generated yet (first index {missing[0]}); "
                               "run the missing shards first")
    timings["generate_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    cache = FeatureCache(config.cache_dir or default_cache_dir())
    hashes = FileHashes(cache.root / "file_hashes" / f"rank{shard.rank}.json")
    fake_items = [VideoItem(config.out / r["path"], r["sha256"], f"sample{r['index']}") for r in records]
    real_items = [VideoItem(path, hashes.sha256(path), entry.relpath) for entry, path in plan.real]
    hashes.save()
    skipped_by_path: dict[str, str] = {m["path"]: m["reason"] for m in plan.unavailable}

    def on_skip(item: VideoItem, reason: str) -> None:
        skipped_by_path[str(item.path)] = reason

    block = config.feature_block
    mine = lambda k: shard.mine(k)  # noqa: E731 - blocks of `feature_block` items are dealt round-robin
    bounds = {"strict": config.strict, "on_skip": on_skip, "max_video_mb": config.max_video_mb,
              "decode_workers": config.decode_workers}
    fake_rows, real_rows = evaluation.featurize(jobs, fake_items, real_items, cache, block, config.progress,
                                                owns_block=mine, **bounds)
    shard.barrier()
    timings["features_s"] = time.perf_counter() - t0
    if not shard.is_main or config.shard:
        _write_shard_report(config, shard, counts, _skipped_list(skipped_by_path))
        finish(shard)
        return None

    t0 = time.perf_counter()
    if shard.world > 1:  # the other ranks' rows, from the cache
        fake_rows, real_rows = evaluation.featurize(jobs, fake_items, real_items, cache, block, False, **bounds)
    results = _metrics(config, plan, records, jobs, fake_rows, real_rows, MetricMemo(cache.root)) | {
        "clip_frames": fake_rows.get("clipsim")}
    timings["metrics_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - start
    out = _write_results(config, plan, records, missing, jobs, results, counts,
                         _skipped_list(skipped_by_path), timings, real_items, description)
    finish(shard)
    return out


def _match_folder(generator, plan: Plan, config: RunConfig) -> None:
    """A folder of precomputed videos: match it to the whole plan (by seed, else by order) and check it first."""
    from lumiere_eval.models.folder import FolderValidationError

    prompts, seeds = [s.prompt for s in plan.samples], [s.seed for s in plan.samples]
    spec = (config.num_frames, config.fps, config.height, config.width)
    problems = generator.validate(prompts, seeds, *spec)
    if problems:  # folders rarely carry the protocol's hashed seeds: k-th video of a prompt = k-th sample
        generator.match_by_order(prompts, seeds)
        problems = generator.validate(prompts, seeds, *spec)
    if problems:
        raise FolderValidationError(generator.root, problems)


def _skipped_list(skipped_by_path: dict[str, str]) -> list[dict]:
    return [{"path": path, "reason": reason} for path, reason in sorted(skipped_by_path.items())]


def _metrics(config: RunConfig, plan: Plan, records: list[dict], jobs: evaluation.JobPlan,
             fake_rows: dict, real_rows: dict, memo: MetricMemo) -> dict:
    """The engine's entries of the run's metrics (kept in and read from `memo`), per-sample scores keyed by sample
    index, and shortfalls."""
    resamples = {name: config.fid_bootstrap if name == "fid" else config.bootstrap for name in config.metrics}
    computed = evaluation.metric_results(config.metrics, config.protocols(), jobs, fake_rows, real_rows,
                                         [r["prompt"] for r in records], resamples, config.seed,
                                         classes=plan.classes, prompted=[r["class"] for r in records],
                                         memo=memo)
    computed["per_sample"] = {r["index"]: scores for r, scores in zip(records, computed["per_sample"])}
    return computed


def real_set_hash(items: list[VideoItem], real_clip: str) -> str:
    """`results.json` `real_set.hash`: the real clips' keys and contents and the real clip sampling."""
    payload = json.dumps([real_clip] + [[it.key, it.sha256] for it in items])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _write_shard_report(config: RunConfig, shard: Shard, counts: dict, skipped: list[dict]) -> None:
    atomic_write_json(config.out / files.SHARDS_DIR / f"shard{shard.rank}of{shard.world}.json",
                      {"counts": counts, "skipped": skipped})


def _write_results(config: RunConfig, plan: Plan, records: list[dict], missing: list[int], jobs: evaluation.JobPlan,
                   results: dict, counts: dict, skipped: list[dict], timings: dict,
                   real_items: list[VideoItem], model: dict | None) -> dict:
    weights = {job.extractor.id: job.extractor.weights.describe() for job in jobs.all}
    model = model or recorded_identity(config.out).get("generator") or {"name": config.model,
                                                                          "options": config.model_args}
    provenance = {"versions": package_versions(), "git_commit": git_commit(),
                  "machine": machine(str(jobs.all[0].extractor.device) if jobs.all else "cpu"), "weights": weights,
                  "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out = evaluation.record(
        "run", model, config.domain, plan.protocol_id, config.protocols(), config.metrics, results, jobs, provenance,
        config=config.to_json(), identity=recorded_identity(config.out),
        samples={"planned": len(plan.samples), "generated": len(records), "missing": missing,
                 "this_invocation": counts},
        real_set={"split": f"{config.real_split}list0{config.fold}", "clips": len(real_items),
                  "sampling": config.fvd().real_sampling.id,
                  "hash": real_set_hash(real_items, config.fvd().real_sampling.id)},
        skipped_videos=skipped,
        skipped_fraction=skip_report(skipped, len(records) + len(plan.real) + len(plan.unavailable),
                                     config.max_skipped_fraction),
        prompt_suite={"name": plan.suite.name, "hash": plan.suite.hash},
        seeds={"base_seed": config.seed, "sample_seed_rule": "sha256('<domain>-zs-v1:seed<seed>:<index>')[:4]"},
        timings=timings)
    # VBench dimensions on the generated samples, with the weights in the weight cache (CLIP B/32 also from
    # --clip); a dimension without its weights is listed in `vbench.not_computed` and warned about, one line each;
    # each video's scores go into its samples.jsonl line (compare and study agreement read them there)
    vbench = evaluation.vbench_results(
        config.metrics, [VideoItem(config.out / r["path"], r["sha256"], r["path"]) for r in records],
        {"clip_vit_b32": config.weights["clip"]} if config.weights.get("clip") else {}, False, config.device,
        config.bootstrap, config.seed, [r["prompt"] for r in records])
    if vbench is not None:
        import warnings

        from lumiere_eval.runner.vbench_tier import eval_results_path, record_entries, sample_scores, vbench_section

        out["metrics"] |= record_entries(vbench)
        out["vbench"] = vbench_section(vbench)
        for line in vbench["unavailable"].values():
            warnings.warn(line, stacklevel=2)
        atomic_write_json(eval_results_path(config.out / files.RESULTS_FILE), vbench["eval_results"])
    vbench_scores = sample_scores(vbench) if vbench is not None else [{} for _ in records]
    write_samples(config.out / files.SAMPLES_FILE,
                  [record | results["per_sample"].get(record["index"], {}) | scores
                   for record, scores in zip(records, vbench_scores)])
    if evaluation.MOTION in config.metrics:  # the motion tier reads the samples just written (motion.json)
        from lumiere_eval.runner.motion_tier import TIER_ID, run_motion

        motion = run_motion(config.out, config.bootstrap, config.seed, config.progress,
                            frame_embeddings=results.get("clip_frames"))
        per_video = list(motion["per_sample"].values())
        out["metrics"] |= evaluation.motion_entries(per_video, config.bootstrap, config.seed, TIER_ID)
    write_record(config.out / files.RESULTS_FILE, out)
    if skipped:
        atomic_write_json(config.out / files.SKIPPED_FILE, skipped)
    write_summary(config.out / files.SUMMARY_FILE, out)
    warn_if_exceeded(out["skipped_fraction"])
    return out
