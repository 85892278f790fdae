"""`lumiere-eval metrics`: compare a real and a generated set of videos (folders or manifests) on any registered
metric (`--list-metrics`; `lumiere_eval.metrics.registry`), print a table with intervals and write a result record.

Sets: a folder (video files, sorted by name; a prompt may sit beside a video as `<name>.txt`, or, with
`--prompts-from-names`, be read from VBench's name `{prompt}-{index}.mp4`) or a manifest (`.csv` with a `path` column
and optionally `prompt`, or `.jsonl` with the same keys; paths relative to the manifest). A folder with no videos of
its own and a `manifest.jsonl` (what `generate --prompt-suite` writes, videos in `videos/`) is read through it.
The command only reads the two sets; everything else is the evaluation engine's
(`lumiere_eval.runner.evaluation`, shared with `ucf101`): the protocols and their overrides, the feature jobs,
the feature stage (each video decoded once for all extractors, rows in fixed blocks in the content-keyed cache,
so a rerun computes nothing again), the metric values and intervals, the shortfall against each protocol's
sample count and the record (`lumiere_eval.metrics.record`). Both commands give the same numbers on the same
videos.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path


from lumiere_eval import LumiereEvalError
from lumiere_eval.cli_types import float_range, int_range
from lumiere_eval.runner.skips import skip_report, warning_text
from lumiere_eval.video.folders import VIDEO_SUFFIXES, folder_videos, shared_content, split_usable, undeclared_rates



class MetricsInputError(LumiereEvalError):
    """A video set or option the metrics command cannot use."""


@dataclass
class VideoSet:
    """The videos of one side, with stable keys (relative paths) and optional prompts; `unusable`: the entries
    that cannot be videos (a directory, a link loop, an empty file), path -> reason, skipped and listed."""

    source: Path
    paths: list[Path]
    keys: list[str]
    prompts: list[str | None]
    unusable: dict[str, str] = field(default_factory=dict)

    def head(self, n: int) -> VideoSet:
        """The first `n` videos."""
        return VideoSet(self.source, self.paths[:n], self.keys[:n], self.prompts[:n], self.unusable)


def _read_text(path: Path) -> str:
    """A prompt file or manifest decoded as `files.decode_text` does (UTF-8, else a named fallback, warned)."""
    from lumiere_eval.files import decode_text

    try:
        data = path.read_bytes()
    except OSError as err:
        raise MetricsInputError(f"{path}: cannot read ({err.strerror or err})") from None
    text, warning = decode_text(data, path)
    if warning:
        warnings.warn(warning, stacklevel=2)
    return text


def _manifest_rows(path: Path) -> list[dict]:
    text = _read_text(path)
    if path.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise MetricsInputError(f"{path}: line {number} is not JSON ({err.msg})") from None
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not row.get("path"):
            raise MetricsInputError(f"{path}: row {number} has no 'path' field")
        if not isinstance(row["path"], str):
            raise MetricsInputError(f"{path}: row {number}: field 'path' should be a string, found "
                                    f"{type(row['path']).__name__} ({row['path']!r})")
        if row.get("prompt") is not None and not isinstance(row["prompt"], str):
            raise MetricsInputError(f"{path}: row {number}: field 'prompt' should be a string, found "
                                    f"{type(row['prompt']).__name__}")
    return rows


def _folder_prompt(path: Path, from_name: bool) -> str | None:
    """The prompt in `<name>.txt` beside a video, else (with `from_name`) the one VBench reads from its name."""
    from lumiere_eval.datasets.vbench_names import prompt_of_file_name

    if path.with_suffix(".txt").is_file():
        return _read_text(path.with_suffix(".txt")).strip()
    return prompt_of_file_name(path) if from_name else None


def load_video_set(source: str | os.PathLike, prompts_from_names: bool = False) -> VideoSet:
    """The videos named by a folder or a .csv/.jsonl manifest; `prompts_from_names`: a folder's video without a
    `<name>.txt` gets the prompt VBench reads from its name (`{prompt}-{index}.mp4` -> prompt)."""
    source = Path(source)
    if source.is_dir() and not folder_videos(source)[0] and (source / "manifest.jsonl").is_file():
        source = source / "manifest.jsonl"   # `generate --prompt-suite`'s folder: the videos are in videos/
    if source.is_dir():
        paths, unusable = folder_videos(source)
        prompts = [_folder_prompt(p, prompts_from_names) for p in paths]
        keys = [p.name for p in paths]
    elif source.is_file() and source.suffix in (".csv", ".jsonl"):
        rows = _manifest_rows(source)
        _, unusable = split_usable([source.parent / row["path"] for row in rows])
        rows = [row for row in rows if str(source.parent / row["path"]) not in unusable]
        paths = [source.parent / row["path"] for row in rows]
        prompts = [row.get("prompt") or None for row in rows]
        keys = [row["path"] for row in rows]
    else:
        raise MetricsInputError(f"{source}: not a folder of videos or a .csv/.jsonl manifest")
    if not paths:
        first = next(iter(unusable.items()), None)
        raise MetricsInputError(f"{source}: no videos found (suffixes {', '.join(sorted(VIDEO_SUFFIXES))})"
                                + (f"; {len(unusable)} unusable, first: {first[0]}: {first[1]}" if first else ""))
    return VideoSet(source, paths, keys, prompts, unusable)


def generated_suite(videos: VideoSet) -> dict | None:
    """The prompt suite `generate --prompt-suite` recorded for these videos (its manifest, or its `videos/` folder),
    from the `generate_config.json` beside them; None for any other set."""
    from lumiere_eval.models.generate_cli import CONFIG_NAME

    config_path = videos.source.parent / CONFIG_NAME
    if not config_path.is_file():
        return None
    try:
        suite = json.loads(config_path.read_text(encoding="utf-8")).get("prompt_suite")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    if not isinstance(suite, dict) or (videos.source.is_dir() and videos.source.name != suite.get("videos_dir")):
        return None
    return suite


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval metrics` (the evaluation options are `runner.options`', shared with `ucf101`)."""
    from lumiere_eval.files import METRICS_FILE
    from lumiere_eval.runner import options

    parser.add_argument("--real", type=str, default=None, help="Folder or manifest of real videos.")
    parser.add_argument("--fake", type=str, default=None,
                        help="Folder or manifest of generated videos (prompts needed for clipsim and VBench's "
                             "text-video dimensions).")
    parser.add_argument("--prompts-from-names", action="store_true", default=False,
                        help="A generated video in a folder without <name>.txt beside it has the prompt VBench reads "
                             "from its file name: '{prompt}-{index}.mp4' -> prompt.")
    parser.add_argument("--list", dest="list_metrics", action="store_true",
                        help="Print every metric with its direction, protocols and needed weights, and exit.")
    options.add_metric_options(parser, "fvd,kvd,is,clipsim,fid")
    options.add_override_options(parser)
    options.add_weight_options(parser)
    parser.add_argument("--max-videos", type=int_range(0), default=0,
                        help="Use at most this many videos per side for every metric (0: each metric its own "
                             "protocol's sample count, e.g. 2048 for FVD, 10000 for the TGAN IS, 5000 for JEDi).")
    options.add_interval_options(parser)
    parser.add_argument("--seed", type=int_range(0), default=0, help="Seed of the intervals and of the KVD subsets.")
    options.add_feature_options(parser)
    parser.add_argument("--timeout", type=float_range(0, low_open=True), default=10.0,
                        help="Seconds before a weight download gives up.")
    parser.add_argument("--no-download", action="store_true", default=False,
                        help="Never download weights; fail if they are neither given nor cached.")
    parser.add_argument("--out", type=str, default=METRICS_FILE,
                        help="Where to write the result record (name it metrics.json for the dashboard to list it).")


def _items(videos: VideoSet, hashes) -> list:
    from lumiere_eval.runner.features import VideoItem

    return [VideoItem(path, hashes.sha256(path), key) for path, key in zip(videos.paths, videos.keys)]


def protocols_from_args(args: argparse.Namespace):
    """The engine's `Protocols` of the options."""
    from lumiere_eval.metrics.protocols import get_fvd_protocol, get_jedi_protocol
    from lumiere_eval.runner.evaluation import Protocols, derive_fvd, derive_is

    return Protocols(derive_fvd(args.fvd_protocol, None, args.fvd_extractor, args.real_clip, args.fake_clip,
                                args.fvd_covariance),
                     derive_is(args.is_protocol, None, args.is_extractor, args.is_splits, -1, args.fake_clip),
                     get_fvd_protocol(args.cdfvd_protocol), get_jedi_protocol(args.jedi_protocol),
                     args.clip_extractor, args.clip_frames, args.fid_frames)


def compute(args: argparse.Namespace) -> dict:
    """Features of both sets through the engine's jobs and the runner's feature stage, then the requested
    metrics; returns the record."""
    from lumiere_eval.metrics import registry
    from lumiere_eval.runner import evaluation
    from lumiere_eval.runner.cache import FeatureCache, FileHashes, default_cache_dir
    from lumiere_eval.runner.metric_memo import MetricMemo
    from lumiere_eval.runner.motion_tier import TIER_ID, video_scores
    from lumiere_eval.runner.options import extractor_factory, feature_block, vbench_weight_paths, weight_paths
    from lumiere_eval.runner.vbench_tier import record_entries, vbench_section
    from lumiere_eval.runner.provenance import git_commit, package_versions

    if not args.fake:
        raise MetricsInputError("--fake is required (or --list)")
    names = evaluation.parse_metrics(args.metrics)
    on_real = [n for n in names if n in registry.METRICS
               and any("real" in need.sides for need in registry.METRICS[n].features)]
    if on_real and not args.real:
        raise MetricsInputError(f"--real is required: {', '.join(on_real)} compare the generated videos with real "
                                "ones")
    protocols = protocols_from_args(args)
    args.feature_block = feature_block(args)  # resolved once: the blocks, the forward batch and the record
    make = extractor_factory(weight_paths(args), args.device, args.feature_block, not args.no_download, args.timeout)
    plan = evaluation.plan_jobs(names, protocols, make)
    # videos per side each job's protocol asks for; --max-videos sets one count for all
    wanted = {job.name: getattr(protocols.of_job(job.name), "num_samples", 0) for job in plan.all}
    limit = args.max_videos or max(wanted.values(), default=0) or protocols.fvd.num_samples
    used = lambda job: args.max_videos or wanted.get(job.name) or limit  # noqa: E731 - its first videos count
    # without a metric on real videos (VBench, IS, CLIPSIM, motion) the real side is neither read nor hashed
    real = load_video_set(args.real).head(limit) if plan.real else VideoSet(Path(args.real or "-"), [], [], [])
    fake = load_video_set(args.fake, args.prompts_from_names).head(limit)
    if "clipsim" in names and None in fake.prompts:
        missing = fake.keys[fake.prompts.index(None)]
        raise MetricsInputError(f"clipsim needs a prompt for every generated video; {missing} has none "
                                "(add <name>.txt beside it or a 'prompt' column to the manifest)")
    if plan.real:  # only the real videos some metric uses (IS and CLIPSIM may want more generated ones)
        real = real.head(max(used(job) for job in plan.real))
    cache = FeatureCache(args.cache_dir or default_cache_dir())
    hashes = FileHashes(cache.root / "file_hashes" / "metrics-command.json")
    real_items, fake_items = _items(real, hashes), _items(fake, hashes)
    hashes.save()
    shared = shared_content([(str(real.source), it.sha256) for it in real_items] if plan.real else [],
                            [(str(fake.source), it.sha256) for it in fake_items])
    if shared:
        warnings.warn(shared, stacklevel=2)
    no_rate, rate_warning = undeclared_rates((real.paths if plan.real else []) + fake.paths)
    if rate_warning:
        warnings.warn(rate_warning, stacklevel=2)
    skipped: dict[str, str] = {**(real.unusable if plan.real else {}), **fake.unusable}
    unusable = len(skipped)
    if args.strict and skipped:
        raise MetricsInputError("{}: {}".format(*next(iter(skipped.items()))))

    def on_skip(item, reason: str) -> None:
        skipped[str(item.path)] = reason

    progress = not args.no_progress
    fake_rows, real_rows = evaluation.featurize(plan, fake_items, real_items, cache, args.feature_block, progress,
                                                videos_of=used, on_skip=on_skip, strict=args.strict,
                                                max_video_mb=args.max_video_mb,
                                                decode_workers=args.decode_workers)
    resamples = {name: args.fid_bootstrap if name == "fid" else args.bootstrap for name in names}
    try:
        computed = evaluation.metric_results(names, protocols, plan, fake_rows, real_rows, fake.prompts,
                                             resamples, args.seed, memo=MetricMemo(cache.root))
    except evaluation.NotEnoughVideosError as err:
        side = {str(it.path) for it in (real_items if err.side == "real" else fake_items)}
        first = next((entry for entry in skipped.items() if entry[0] in side), None)
        raise MetricsInputError(str(err) + (f"; first skipped: {first[0]}: {first[1]}" if first else "")) from None
    results = computed["metrics"]
    if evaluation.MOTION in names:
        results |= evaluation.motion_entries(video_scores(fake_items, cache, None, progress), args.bootstrap,
                                             args.seed, TIER_ID)
    suite = generated_suite(fake)  # appearance style's phrases from the JSON the videos were generated from
    suite_json = suite["source"] if suite and str(suite.get("source", "")).endswith(".json") else None
    vbench = evaluation.vbench_results(names, fake_items, vbench_weight_paths(args), not args.no_download,
                                       args.device, args.bootstrap, args.seed, fake.prompts, suite_json)
    if vbench is not None:
        results |= record_entries(vbench)
        for line in vbench["unavailable"].values():
            warnings.warn(line, stacklevel=2)
    short = computed["short_of_protocol"]
    if short:
        warnings.warn(evaluation.shortfall_text(short), stacklevel=2)
    provenance = {"versions": package_versions(), "git_commit": git_commit(),
                  "extractors": {job.extractor.id: job.extractor.describe() for job in plan.all}}
    model = {"name": fake.source.stem if fake.source.is_file() else fake.source.name}
    return evaluation.record(
        "metrics", model, "videos", f"{protocols.fvd.name}_{protocols.inception.name}", protocols, names,
        computed | {"metrics": results}, plan, provenance, satisfied=not short,
        **({"shared_content_warning": shared} if shared else {}),
        **({"fps_undeclared": no_rate} if no_rate else {}),
        **({"vbench": vbench_section(vbench)} if vbench is not None else {}),
        **({"prompt_suite": suite} if suite is not None else {}),
        real={"source": args.real, "videos": len(real.paths)},
        fake={"source": str(fake.source), "videos": len(fake.paths)},
        skipped_videos=[{"path": path, "reason": reason} for path, reason in sorted(skipped.items())],
        skipped_fraction=skip_report(list(skipped), len(real_items) * bool(plan.real) + len(fake_items) + unusable,
                                     args.max_skipped_fraction),
        config={"feature_block": args.feature_block, "bootstrap": args.bootstrap, "seed": args.seed,
                "clip_frames": args.clip_frames or 8, "fid_frames": args.fid_frames, "max_videos": args.max_videos})


def format_table(record: dict) -> str:
    """The metrics as an aligned text table."""
    lines = [f"{'metric':8s} {'value':>12s}  {'interval':34s} {'better':6s}"]
    for name, result in record["metrics"].items():
        if result.get("ci_low") is not None:
            interval = f"95% CI [{result['ci_low']:.4g}, {result['ci_high']:.4g}]"
        elif "std_over_subsets" in result:
            interval = f"+- {result['std_over_subsets']:.4g} (std over subsets)"
        else:
            interval = ("(no interval requested)" if not record.get("config", {}).get("bootstrap")
                        else "(no interval: too few videos)")
        better = "higher" if result["higher_is_better"] else "lower"
        lines.append(f"{name:8s} {result['value']:12.4f}  {interval:34s} {better:6s}")
    protocol = record["protocols"]["fvd"]
    sets = (f"protocol {protocol['name']} ({protocol['covariance']} covariance): {record['real']['videos']} real, "
            if record["real"]["videos"] else "no real videos read: ")
    lines.append(f"{sets}{record['fake']['videos']} generated videos"
                 + ("" if record["satisfied"] else " (fewer than the protocol's sample count: "
                    + ", ".join(f"{n} {s['given']}/{s['wanted']}" for n, s in record.get("short_of_protocol", {}).items())
                    + ")"))
    if record["skipped_videos"]:
        lines.append(f"skipped {len(record['skipped_videos'])} unusable video(s), first: "
                     f"{record['skipped_videos'][0]['path']} ({record['skipped_videos'][0]['reason']})")
    if record.get("shared_content_warning"):
        lines.append(f"WARNING: {record['shared_content_warning']}")
    if warning_text(record.get("skipped_fraction", {})):
        lines.append(warning_text(record["skipped_fraction"]))
    for line in record.get("vbench", {}).get("not_computed", {}).values():
        lines.append(line)
    if record["unverified_weights"]:
        lines.append("computed with UNVERIFIED weights: " + ", ".join(record["unverified_weights"]))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Compute, print the table, write the result record (validated, atomically); `--list`: the metrics."""
    from lumiere_eval.metrics.record import write_record

    if args.list_metrics:
        from lumiere_eval.runner.evaluation import describe_metrics

        print(describe_metrics())
        return 0
    record = compute(args)
    print(format_table(record))
    out = write_record(args.out, record)
    print(f"wrote {out}")
    if record.get("vbench", {}).get("eval_results"):
        from lumiere_eval.files import atomic_write_json
        from lumiere_eval.runner.vbench_tier import eval_results_path

        atomic_write_json(eval_results_path(out), record["vbench"]["eval_results"])
        print(f"wrote {eval_results_path(out)} (VBench's results layout)")
    return 0
