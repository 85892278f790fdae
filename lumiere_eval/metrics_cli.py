"""`lumiere-eval metrics`: compare a real and a generated set of videos (folders or manifests) on FVD, KVD,
IS, CLIPSIM and per-frame FID, print a table with confidence intervals and write a result record.

Sets: a folder (video files, sorted by name; a prompt may sit beside a video as `<name>.txt`) or a manifest
(`.csv` with a `path` column and optionally `prompt`, or `.jsonl` with the same keys; paths relative to the
manifest). A thin command over the `ucf101` runner's feature stage (`lumiere_eval.runner.features`): each
video decoded once for all extractors, rows computed in fixed blocks and kept in the content-keyed feature
cache (a rerun computes nothing again), and the numbers from the same functions with the same defaults
(protocols from `lumiere_eval.metrics.protocols`), so both commands give the same numbers on the same videos.
Intervals: FVD, IS and CLIPSIM by a seeded bootstrap over generated videos (real statistics held fixed), frame
FID the same way only on request (--fid-bootstrap: each resample recomputes a 2048-d covariance); KVD with its
std over subsets, IS also with its std over splits. The record follows `lumiere_eval.metrics.record`.
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

import numpy as np

from lumiere_eval import LumiereEvalError, __version__
from lumiere_eval.cli_types import float_range, int_range
from lumiere_eval.limits import DEFAULT_MAX_SKIPPED_FRACTION, DEFAULT_MAX_VIDEO_MB
from lumiere_eval.metrics.registry import METRICS as _REGISTERED, sharing_job
from lumiere_eval.runner.skips import skip_report, warning_text
from lumiere_eval.video.folders import VIDEO_SUFFIXES, folder_videos, shared_content, split_usable, undeclared_rates

METRICS = tuple(name for name, metric in _REGISTERED.items() if metric.tier == "core")
I3D_METRICS = sharing_job("fvd", METRICS)  # FVD, KVD, precision, recall: one I3D pass


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


def load_video_set(source: str | os.PathLike) -> VideoSet:
    """The videos named by a folder or a .csv/.jsonl manifest."""
    source = Path(source)
    if source.is_dir():
        paths, unusable = folder_videos(source)
        prompts = [_read_text(p.with_suffix(".txt")).strip() if p.with_suffix(".txt").is_file() else None
                   for p in paths]
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval metrics`."""
    from lumiere_eval.files import METRICS_FILE
    from lumiere_eval.metrics.protocols import (DEFAULT_FVD_PROTOCOL, DEFAULT_IS_PROTOCOL, FVD_PROTOCOLS, IS_PROTOCOLS,
                                                JEDI_PROTOCOLS)
    from lumiere_eval.runner.features import FEATURE_BLOCK

    parser.add_argument("--real", type=str, required=True, default=None, help="Folder or manifest of real videos.")
    parser.add_argument("--fake", type=str, required=True, default=None,
                        help="Folder or manifest of generated videos (prompts needed for clipsim).")
    parser.add_argument("--metrics", type=str, default="fvd,kvd,is,clipsim,fid",
                        help=f"Comma-separated subset of {','.join(METRICS)}.")
    parser.add_argument("--protocol", type=str, default=DEFAULT_FVD_PROTOCOL, choices=sorted(FVD_PROTOCOLS),
                        help="FVD/KVD/FID protocol: sample count, clip sampling, I3D backend, covariance.")
    parser.add_argument("--is-protocol", type=str, default=DEFAULT_IS_PROTOCOL, choices=sorted(IS_PROTOCOLS),
                        help="Inception Score protocol (C3D on UCF101).")
    parser.add_argument("--cdfvd-protocol", type=str, default="cdfvd2048_16f",
                        choices=sorted(n for n in FVD_PROTOCOLS if n.startswith("cdfvd")),
                        help="cd-FVD protocol (VideoMAE-v2 ViT-g features; suffix _fp16/_bf16: network precision).")
    parser.add_argument("--jedi-protocol", type=str, default="jedi5000_16f", choices=sorted(JEDI_PROTOCOLS),
                        help="JEDi protocol (V-JEPA ViT-H/16 + SSv2 pooler; suffix _fp16/_bf16: network precision).")
    for flag, what in (("--i3d", "I3D (TorchScript or i3d_pretrained_400.pt, per --protocol)"),
                       ("--c3d", "C3D TorchScript c3d_ucf101.pt"), ("--clip", "CLIP checkpoint (ViT-B/32)"),
                       ("--inception", "pytorch-fid InceptionV3 weights"),
                       ("--videomae", "VideoMAE-v2 vit_g_hybrid_pt_1200e_ssv2_ft.pth (cd-FVD)"),
                       ("--vjepa", "V-JEPA vith16.pth.tar (JEDi)"),
                       ("--vjepa-probe", "V-JEPA ViT-H/16 SSv2 probe (JEDi)")):
        parser.add_argument(flag, type=str, default=None,
                            help=f"Local {what}; default: the cache, downloaded if missing.")
    parser.add_argument("--max-videos", type=int_range(0), default=0,
                        help="Use at most this many videos per side for every metric (0: each metric its own "
                             "protocol's sample count, e.g. 2048 for FVD, 10000 for the TGAN IS, 5000 for JEDi).")
    parser.add_argument("--clip-frames", type=int_range(1), default=8, help="Frames per video for CLIPSIM (uniform).")
    parser.add_argument("--fid-frames", type=int_range(0), default=0,
                        help="Frames per clip for frame FID, uniform over the FVD clip (0: all of them).")
    parser.add_argument("--bootstrap", type=int_range(0), default=200,
                        help="Bootstrap resamples for the FVD, IS and CLIPSIM intervals (0: none); as `ucf101`.")
    parser.add_argument("--fid-bootstrap", type=int_range(0), default=0,
                        help="Bootstrap resamples for the frame-FID interval (0: none); each costs the covariance of "
                             "all generated frames plus one 2048-d Frechet distance, seconds to minutes.")
    parser.add_argument("--seed", type=int_range(0), default=0, help="Seed of the bootstrap and of the KVD subsets.")
    parser.add_argument("--device", type=str, default=None, help="Torch device (default: cuda if present, else cpu).")
    parser.add_argument("--feature-block", type=int_range(1), default=FEATURE_BLOCK,
                        help="Videos per extractor call (fixed blocks; part of the feature cache key; as `ucf101`).")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="Feature cache (default $LUMIERE_EVAL_HOME/features, shared with `ucf101`).")
    parser.add_argument("--timeout", type=float_range(0, low_open=True), default=10.0,
                        help="Seconds before a weight download gives up.")
    parser.add_argument("--no-download", action="store_true", default=False,
                        help="Never download weights; fail if they are neither given nor cached.")
    parser.add_argument("--out", type=str, default=METRICS_FILE,
                        help="Where to write the result record (name it metrics.json for the dashboard to list it).")
    parser.add_argument("--quiet", action="store_true", default=False, help="No progress bars.")
    parser.add_argument("--strict", action="store_true", default=False,
                        help="Fail on any unusable video (unreadable, truncated, too short, too large, NaN features) "
                             "instead of listing it in the record's skipped_videos.")
    parser.add_argument("--max-video-mb", type=float_range(0, low_open=True), default=DEFAULT_MAX_VIDEO_MB,
                        help="Decoded frames kept per video, in MB; a video needing more is skipped (or fails).")
    parser.add_argument("--max-skipped-fraction", type=float_range(0, 1), default=DEFAULT_MAX_SKIPPED_FRACTION,
                        help="Skipped videos above this fraction make the record and the table warn loudly.")


def _parse_metrics(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise MetricsInputError(f"--metrics: unknown {unknown or 'empty list'}; choose from {', '.join(METRICS)}")
    return names


def _items(videos: VideoSet, hashes) -> list:
    from lumiere_eval.runner.features import VideoItem

    return [VideoItem(path, hashes.sha256(path), key) for path, key in zip(videos.paths, videos.keys)]


def compute(args: argparse.Namespace) -> dict:
    """Features of both sets through the runner's feature stage, then the requested metrics; returns the record."""
    from lumiere_eval import __version__
    from lumiere_eval.extractors import create_extractor
    from lumiere_eval.extractors.clipsim import uniform_indices
    from lumiere_eval.metrics.protocols import get_fvd_protocol, get_is_protocol, get_jedi_protocol
    from lumiere_eval.metrics import values
    from lumiere_eval.metrics.record import SCHEMA_VERSION
    from lumiere_eval.runner.cache import FeatureCache, FileHashes, default_cache_dir
    from lumiere_eval.runner.features import FeatureJob, compute_features
    from lumiere_eval.runner.provenance import git_commit, package_versions

    names = _parse_metrics(args.metrics)
    protocol, is_protocol = get_fvd_protocol(args.protocol), get_is_protocol(args.is_protocol)
    extra_protocols = {}  # cd-FVD and JEDi: their own extractors and protocols
    if "cdfvd" in names:
        extra_protocols["cdfvd"] = get_fvd_protocol(args.cdfvd_protocol)
    if "jedi" in names:
        extra_protocols["jedi"] = get_jedi_protocol(args.jedi_protocol)
    # videos per side each metric's protocol asks for; --max-videos sets one count for all
    wanted = {**dict.fromkeys((*I3D_METRICS, "fid"), protocol.num_samples), "is": is_protocol.num_samples,
              **{name: extra.num_samples for name, extra in extra_protocols.items()}}
    limit = args.max_videos or max(wanted.get(n, 0) for n in names) or protocol.num_samples
    used = lambda job: args.max_videos or wanted.get(job.name, limit)  # noqa: E731 - its first videos count
    real, fake = load_video_set(args.real).head(limit), load_video_set(args.fake).head(limit)
    if "clipsim" in names and None in fake.prompts:
        missing = fake.keys[fake.prompts.index(None)]
        raise MetricsInputError(f"clipsim needs a prompt for every generated video; {missing} has none "
                                "(add <name>.txt beside it or a 'prompt' column to the manifest)")
    load = {"fetch_missing": not args.no_download, "timeout": args.timeout, "device": args.device,
            "batch_size": args.feature_block}
    real_jobs, fake_jobs = [], []
    if set(I3D_METRICS) & set(names):
        i3d = create_extractor(protocol.extractor, args.i3d, **load)
        real_jobs.append(FeatureJob("fvd", i3d, protocol.real_sampling))
        fake_jobs.append(FeatureJob("fvd", i3d, protocol.fake_sampling))
    if "fid" in names:
        inception = create_extractor("inception-fid", args.inception, **load)
        clip_length = protocol.fake_sampling.num_frames
        frames = tuple(int(i) for i in uniform_indices(clip_length, args.fid_frames or clip_length))
        real_jobs.append(FeatureJob("fid", inception, protocol.real_sampling, "frame_rows", frames))
        fake_jobs.append(FeatureJob("fid", inception, protocol.fake_sampling, "frame_rows", frames))
    if "is" in names:
        options = {"frame_size": is_protocol.frame_size} if is_protocol.frame_size else {}
        c3d = create_extractor(is_protocol.extractor, args.c3d, **options, **load)
        fake_jobs.append(FeatureJob("is", c3d, is_protocol.sampling))
    if "clipsim" in names:
        clip = create_extractor("clip", args.clip, num_frames=args.clip_frames, **load)
        fake_jobs.append(FeatureJob("clipsim", clip, None, kind="frames"))
    if "cdfvd" in names:
        extractor = create_extractor(extra_protocols["cdfvd"].extractor, args.videomae, **load)
        real_jobs.append(FeatureJob("cdfvd", extractor, extra_protocols["cdfvd"].real_sampling))
        fake_jobs.append(FeatureJob("cdfvd", extractor, extra_protocols["cdfvd"].fake_sampling))
    if "jedi" in names:
        from lumiere_eval.extractors import extractor_class
        from lumiere_eval.extractors.weights import resolve

        probe = resolve(extractor_class(extra_protocols["jedi"].extractor).probe_weights_name, args.vjepa_probe,
                        fetch_missing=not args.no_download, timeout=args.timeout)
        extractor = create_extractor(extra_protocols["jedi"].extractor, args.vjepa, probe=probe, **load)
        real_jobs.append(FeatureJob("jedi", extractor, extra_protocols["jedi"].real_sampling))
        fake_jobs.append(FeatureJob("jedi", extractor, extra_protocols["jedi"].fake_sampling))

    if real_jobs:  # only the real videos some metric uses (IS and CLIPSIM may want more generated ones)
        real = real.head(max(used(job) for job in real_jobs))
    cache = FeatureCache(args.cache_dir or default_cache_dir())
    hashes = FileHashes(cache.root / "file_hashes" / "metrics-command.json")
    real_items, fake_items = _items(real, hashes), _items(fake, hashes)
    hashes.save()
    shared = shared_content([(str(real.source), it.sha256) for it in real_items] if real_jobs else [],
                            [(str(fake.source), it.sha256) for it in fake_items])
    if shared:
        warnings.warn(shared, stacklevel=2)
    no_rate, rate_warning = undeclared_rates((real.paths if real_jobs else []) + fake.paths)
    if rate_warning:
        warnings.warn(rate_warning, stacklevel=2)
    skipped: dict[str, str] = {**(real.unusable if real_jobs else {}), **fake.unusable}
    unusable = len(skipped)
    if args.strict and skipped:
        raise MetricsInputError("{}: {}".format(*next(iter(skipped.items()))))

    def on_skip(item, reason: str) -> None:
        skipped[str(item.path)] = reason

    progress = not args.quiet
    bounds = {"strict": args.strict, "max_video_mb": args.max_video_mb}

    def features(items: list, jobs: list, desc: str) -> dict:  # each job on its protocol's first videos
        rows: dict = {}
        for count in sorted({used(job) for job in jobs}):
            rows |= compute_features(items[:count], [job for job in jobs if used(job) == count], cache,
                                     args.feature_block, progress=progress, desc=desc, on_skip=on_skip, **bounds)
        return rows

    real_rows, fake_rows = features(real_items, real_jobs, "features [real]"), \
        features(fake_items, fake_jobs, "features [generated]")

    def stack(rows: list, what: str) -> np.ndarray:
        kept = [r for r in rows if r is not None]
        if not kept:
            first = next(iter(skipped.items()), None)
            raise MetricsInputError(f"no usable videos for {what}" +
                                    (f"; first skipped: {first[0]}: {first[1]}" if first else ""))
        return np.stack(kept)

    fvd_real = stack(real_rows["fvd"], "FVD (real)") if "fvd" in real_rows else None
    fvd_fake = stack(fake_rows["fvd"], "FVD (generated)") if "fvd" in fake_rows else None
    probs = stack(fake_rows["is"], "IS") if "is" in fake_rows else None
    rows = {}
    if "fvd" in real_rows:
        rows |= dict.fromkeys(I3D_METRICS, (fvd_real, fvd_fake))
    if probs is not None:
        rows["is"] = (None, probs)
    if "clipsim" in fake_rows:
        keep = [i for i, r in enumerate(fake_rows["clipsim"]) if r is not None]
        texts = clip.text_embeddings([fake.prompts[i] for i in keep])
        rows["clipsim"] = (None, values.clipsim_per_sample([fake_rows["clipsim"][i] for i in keep], texts))
    if "fid" in names:
        rows["fid"] = (np.concatenate([r for r in real_rows["fid"] if r is not None]),
                       np.stack([r for r in fake_rows["fid"] if r is not None]))
    for name in extra_protocols:
        rows[name] = (stack(real_rows[name], f"{name} (real)"), stack(fake_rows[name], f"{name} (generated)"))
    clip_job = next((job for job in fake_jobs if job.name == "clipsim"), None)
    protocols = {**dict.fromkeys(I3D_METRICS, (protocol, protocol.id)), "is": (is_protocol, is_protocol.id),
                 "clipsim": (None, values.clip_protocol(clip_job)),
                 "fid": (protocol, f"fid-frames:{protocol.id}:frames{len(frames)}" if "fid" in names else ""),
                 **{name: (extra, extra.id) for name, extra in extra_protocols.items()}}
    # frame FID has its own resample count (each resample recomputes a 2048-d covariance)
    resamples = {name: args.fid_bootstrap if name == "fid" else args.bootstrap for name in names}
    results = values.metric_entries(names, rows, protocols, resamples, args.seed)
    jobs = {job.name: job for job in fake_jobs}
    for name, entry in results.items():
        job = jobs["fvd" if name in I3D_METRICS else name]
        entry.update({"extractor": job.extractor.describe(), "clip": job.config["clip"]})
    described = {job.extractor.id: job.extractor.describe() for job in real_jobs + fake_jobs}
    unverified = sorted({w["path"] for d in described.values() for w in (d["weights"], d.get("probe_weights"))
                         if w is not None and not w["verified"]})
    # each metric against its own protocol's count, in the videos it used (skipped ones not counted): the
    # generated ones (`n`), and for a set distance the real ones too
    given = {name: min(entry["n"], entry.get("n_real", entry["n"])) for name, entry in results.items()}
    short = {name: {"wanted": wanted[name], "given": given[name]} for name in results
             if name in wanted and given[name] < wanted[name]}
    satisfied = not short
    if short:
        warnings.warn("fewer videos than the protocols ask for: " + ", ".join(
            f"{name} wants {s['wanted']}, got {s['given']}" for name, s in short.items())
            + "; these numbers are not comparable to published ones (FVD is biased upward at small N)", stacklevel=2)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "metrics",
        "lumiere_eval_version": __version__,
        "model": {"name": fake.source.stem if fake.source.is_file() else fake.source.name},
        "domain": "videos",
        "protocol_id": f"{protocol.name}_{is_protocol.name}",
        "protocols": {"fvd": protocol.describe(), "is": is_protocol.describe(),
                      **{name: extra.describe() for name, extra in extra_protocols.items()}},
        "metrics": results,
        "unverified_weights": unverified,
        "satisfied": satisfied,
        **({"shared_content_warning": shared} if shared else {}),
        **({"fps_undeclared": no_rate} if no_rate else {}),
        "short_of_protocol": short,
        "real": {"source": str(real.source), "videos": len(real.paths)},
        "fake": {"source": str(fake.source), "videos": len(fake.paths)},
        "skipped_videos": [{"path": path, "reason": reason} for path, reason in sorted(skipped.items())],
        "skipped_fraction": skip_report(list(skipped), len(real_items) * bool(real_jobs) + len(fake_items) + unusable,
                                        args.max_skipped_fraction),
        "config": {"feature_block": args.feature_block, "bootstrap": args.bootstrap, "seed": args.seed,
                   "clip_frames": args.clip_frames, "fid_frames": args.fid_frames, "max_videos": args.max_videos},
        "provenance": {"versions": package_versions(), "git_commit": git_commit(), "extractors": described},
    }


def format_table(record: dict) -> str:
    """The metrics as an aligned text table."""
    lines = [f"{'metric':8s} {'value':>12s}  {'interval':34s} {'better':6s}"]
    for name, result in record["metrics"].items():
        if result.get("ci_low") is not None:
            interval = f"95% CI [{result['ci_low']:.4g}, {result['ci_high']:.4g}]"
        elif "std_over_subsets" in result:
            interval = f"+- {result['std_over_subsets']:.4g} (std over subsets)"
        else:
            interval = "(no interval requested)"
        better = "higher" if result["higher_is_better"] else "lower"
        lines.append(f"{name:8s} {result['value']:12.4f}  {interval:34s} {better:6s}")
    protocol = record["protocols"]["fvd"]
    lines.append(f"protocol {protocol['name']} ({protocol['covariance']} covariance): {record['real']['videos']} real, "
                 f"{record['fake']['videos']} generated videos"
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
    if record["unverified_weights"]:
        lines.append("computed with UNVERIFIED weights: " + ", ".join(record["unverified_weights"]))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Compute, print the table, write the result record (validated, atomically)."""
    from lumiere_eval.metrics.record import write_record

    record = compute(args)
    print(format_table(record))
    out = write_record(args.out, record)
    print(f"wrote {out}")
    return 0
