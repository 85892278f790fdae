"""`lumiere-eval metrics`: compare a real and a generated set of videos (folders or manifests) on FVD, KVD,
IS, CLIPSIM and per-frame FID, print a table with confidence intervals and write a JSON record.

Sets: a folder (video files, sorted by name; a prompt may sit beside a video as `<name>.txt`) or a manifest
(`.csv` with a `path` column and optionally `prompt`, or `.jsonl` with the same keys; paths relative to the
manifest). Every video is decoded once; all requested extractors read from that decode.
The extracted features are saved to `<out>.features.npz` before any metric is computed.
Intervals: FVD and CLIPSIM by a seeded bootstrap over generated videos (real statistics held fixed), frame
FID the same way only on request (--fid-bootstrap: each resample recomputes a 2048-d covariance); KVD and IS
as mean +- std over subsets / splits, as their reference implementations report them.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lumiere_eval import LumiereEvalError, __version__

METRICS = {"fvd": "lower", "kvd": "lower", "is": "higher", "clipsim": "higher", "fid": "lower"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".gif", ".webm", ".mkv", ".mov"}


class MetricsInputError(LumiereEvalError):
    """A video set or option the metrics command cannot use."""


@dataclass
class VideoSet:
    """The videos of one side, with stable keys (relative paths) and optional prompts."""

    source: Path
    paths: list[Path]
    keys: list[str]
    prompts: list[str | None]

    def head(self, n: int) -> VideoSet:
        """The first `n` videos."""
        return VideoSet(self.source, self.paths[:n], self.keys[:n], self.prompts[:n])


def _manifest_rows(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    else:
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise MetricsInputError(f"{path}: line {number} is not JSON ({err.msg})") from None
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not row.get("path"):
            raise MetricsInputError(f"{path}: row {number} has no 'path' field")
    return rows


def load_video_set(source: str | os.PathLike) -> VideoSet:
    """The videos named by a folder or a .csv/.jsonl manifest."""
    source = Path(source)
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        prompts = [p.with_suffix(".txt").read_text(encoding="utf-8").strip() if p.with_suffix(".txt").is_file()
                   else None for p in paths]
        keys = [p.name for p in paths]
    elif source.is_file() and source.suffix in (".csv", ".jsonl"):
        rows = _manifest_rows(source)
        paths = [source.parent / row["path"] for row in rows]
        prompts = [row.get("prompt") or None for row in rows]
        keys = [row["path"] for row in rows]
    else:
        raise MetricsInputError(f"{source}: not a folder of videos or a .csv/.jsonl manifest")
    if not paths:
        raise MetricsInputError(f"{source}: no videos found (suffixes {', '.join(sorted(VIDEO_SUFFIXES))})")
    return VideoSet(source, paths, keys, prompts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval metrics`."""
    from lumiere_eval.metrics.protocols import FVD_PROTOCOLS, IS_PROTOCOLS

    parser.add_argument("--real", type=str, required=True, default=None, help="Folder or manifest of real videos.")
    parser.add_argument("--fake", type=str, required=True, default=None,
                        help="Folder or manifest of generated videos (prompts needed for clipsim).")
    parser.add_argument("--metrics", type=str, default="fvd,kvd,is,clipsim,fid",
                        help=f"Comma-separated subset of {','.join(METRICS)}.")
    parser.add_argument("--protocol", type=str, default="fvd2048_16f", choices=sorted(FVD_PROTOCOLS),
                        help="FVD/KVD/FID protocol: sample count, clip sampling, I3D backend, covariance.")
    parser.add_argument("--is-protocol", type=str, default="isv2048_ucf", choices=sorted(IS_PROTOCOLS),
                        help="Inception Score protocol (C3D on UCF101).")
    for flag, what in (("--i3d", "I3D (TorchScript or i3d_pretrained_400.pt, per --protocol)"),
                       ("--c3d", "C3D TorchScript c3d_ucf101.pt"), ("--clip", "CLIP checkpoint (ViT-B/32)"),
                       ("--inception", "pytorch-fid InceptionV3 weights")):
        parser.add_argument(flag, type=str, default=None,
                            help=f"Local {what}; default: the cache, downloaded if missing.")
    parser.add_argument("--max-videos", type=int, default=0,
                        help="Use at most this many videos per side (0: the protocol's sample count).")
    parser.add_argument("--clip-frames", type=int, default=8, help="Frames per video for CLIPSIM (uniform).")
    parser.add_argument("--fid-frames", type=int, default=0,
                        help="Frames per clip for frame FID, uniform over the FVD clip (0: all of them).")
    parser.add_argument("--bootstrap", type=int, default=100,
                        help="Bootstrap resamples for the FVD and CLIPSIM intervals (0: none).")
    parser.add_argument("--fid-bootstrap", type=int, default=0,
                        help="Bootstrap resamples for the frame-FID interval (0: none); each costs the covariance of "
                             "all generated frames plus one 2048-d Frechet distance, seconds to minutes.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the bootstrap and of the KVD subsets.")
    parser.add_argument("--device", type=str, default=None, help="Torch device (default: cuda if present, else cpu).")
    parser.add_argument("--batch-size", type=int, default=0, help="Clips per forward pass (0: automatic).")
    parser.add_argument("--timeout", type=float, default=10.0, help="Seconds before a weight download gives up.")
    parser.add_argument("--no-download", action="store_true", default=False,
                        help="Never download weights; fail if they are neither given nor cached.")
    parser.add_argument("--out", type=str, default="metrics.json", help="Where to write the JSON record.")
    parser.add_argument("--quiet", action="store_true", default=False, help="No progress bars.")


def _parse_metrics(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise MetricsInputError(f"--metrics: unknown {unknown or 'empty list'}; choose from {', '.join(METRICS)}")
    return names


def _interval(values: np.ndarray, statistic, resamples: int, seed: int) -> list[float] | None:
    from lumiere_eval.metrics import bootstrap_ci

    if len(values) < 2 or resamples < 2:
        return None
    return list(bootstrap_ci(values, statistic=statistic, num_resamples=resamples, seed=seed))


def _frechet(real_stats, fake_rows: np.ndarray, unbiased: bool) -> float:
    from lumiere_eval.metrics import frechet_distance_to_features

    return frechet_distance_to_features(real_stats.mean, real_stats.covariance(unbiased), fake_rows, unbiased)


def save_features(out: Path, real_rows: dict, fake_rows: dict) -> Path:
    """Keep every extracted row (`<out>.features.npz`, keys real_<x> / fake_<x>) before any metric runs."""
    from lumiere_eval.files import atomic_path

    path = out.with_name(out.name + ".features.npz")
    with atomic_path(path) as tmp:
        np.savez(tmp, **{f"real_{k}": v for k, v in real_rows.items()}, **{f"fake_{k}": v for k, v in fake_rows.items()})
    return path


def compute(args: argparse.Namespace) -> dict:
    """Extract features of both sets and compute the requested metrics; returns the JSON record."""
    from lumiere_eval.extractors import create_extractor
    from lumiere_eval.extractors.clipsim import uniform_indices
    from lumiere_eval.extractors.pipeline import Request, extract_videos
    from lumiere_eval.metrics.protocols import get_fvd_protocol, get_is_protocol, protocol_inception_score
    from lumiere_eval.metrics import FeatureStats, kernel_distance

    names = _parse_metrics(args.metrics)
    protocol, is_protocol = get_fvd_protocol(args.protocol), get_is_protocol(args.is_protocol)
    limit = args.max_videos or protocol.num_samples
    real, fake = load_video_set(args.real).head(limit), load_video_set(args.fake).head(limit)
    if "clipsim" in names and None in fake.prompts:
        missing = fake.keys[fake.prompts.index(None)]
        raise MetricsInputError(f"clipsim needs a prompt for every generated video; {missing} has none "
                                "(add <name>.txt beside it or a 'prompt' column to the manifest)")
    common = {"device": args.device, "batch_size": args.batch_size or None}
    load = {"fetch_missing": not args.no_download, "timeout": args.timeout}
    extractors, real_requests, fake_requests = {}, {}, {}

    def features_of(extractor, frames=None):
        def run(clips, _items):
            return extractor.extract(clips if frames is None else clips[:, frames])
        return run

    if {"fvd", "kvd"} & set(names):
        i3d = extractors["i3d"] = create_extractor(protocol.extractor, args.i3d, **load, **common)
        real_requests["i3d"] = Request(features_of(i3d), protocol.real_sampling, i3d.batch_size)
        fake_requests["i3d"] = Request(features_of(i3d), protocol.fake_sampling, i3d.batch_size)
    if "fid" in names:
        inception = extractors["inception"] = create_extractor("inception-fid", args.inception, **load, **common)
        clip_length = protocol.fake_sampling.num_frames
        frames = uniform_indices(clip_length, args.fid_frames or clip_length)
        for requests, sampling in ((real_requests, protocol.real_sampling), (fake_requests, protocol.fake_sampling)):
            requests["inception"] = Request(features_of(inception, frames), sampling, inception.batch_size)
    if "is" in names:
        c3d = extractors["c3d"] = create_extractor("c3d-ucf101", args.c3d, frame_size=is_protocol.frame_size,
                                                   **load, **common)
        fake_requests["c3d"] = Request(features_of(c3d), is_protocol.sampling, c3d.batch_size)
    if "clipsim" in names:
        clip = extractors["clip"] = create_extractor("clip", args.clip, num_frames=args.clip_frames, **load, **common)
        fake_requests["clip"] = Request(lambda clips, items: clip.clipsim(clips, [fake.prompts[i] for i in items]),
                                        None, clip.batch_size)

    real_rows = extract_videos(real.paths, real_requests, real.keys, progress=not args.quiet) if real_requests else {}
    fake_rows = extract_videos(fake.paths, fake_requests, fake.keys, progress=not args.quiet)
    save_features(Path(args.out), real_rows, fake_rows)
    results: dict[str, dict] = {}
    if "fvd" in names:
        real_stats = FeatureStats.from_features(real_rows["i3d"])
        value = _frechet(real_stats, fake_rows["i3d"], protocol.unbiased_covariance)
        ci = _interval(fake_rows["i3d"], lambda f: _frechet(real_stats, f, protocol.unbiased_covariance),
                       args.bootstrap, args.seed)
        results["fvd"] = {"value": value, "ci95": ci, "interval": "bootstrap over generated videos"}
    if "kvd" in names:
        mean, std = kernel_distance(real_rows["i3d"], fake_rows["i3d"], seed=args.seed)
        results["kvd"] = {"value": mean, "std": std, "interval": "std over 100 random subsets"}
    if "fid" in names:
        per_video = len(frames)
        real_stats = FeatureStats.from_features(real_rows["inception"])
        fake_frames = fake_rows["inception"].reshape(len(fake.paths), per_video, -1)
        value = _frechet(real_stats, fake_rows["inception"], True)
        ci = _interval(fake_frames, lambda v: _frechet(real_stats, v.reshape(-1, v.shape[-1]), True),
                       args.fid_bootstrap, args.seed)
        results["fid"] = {"value": value, "ci95": ci, "interval": "bootstrap over generated videos (all their frames)",
                          "frames_per_video": per_video}
    if "is" in names:
        probs = fake_rows["c3d"][:is_protocol.num_samples]
        mean, std = protocol_inception_score(is_protocol, probs)
        splits = min(is_protocol.splits, len(probs))
        results["is"] = {"value": mean, "std": std, "interval": f"std over {splits} splits",
                         "protocol": is_protocol.name, "samples": len(probs)}
    if "clipsim" in names:
        scores = fake_rows["clip"]
        ci = _interval(scores, np.mean, args.bootstrap, args.seed)
        results["clipsim"] = {"value": float(scores.mean()), "ci95": ci,
                              "interval": "bootstrap over generated videos", "scale": "100 * cosine, clamped at 0"}
    for name, result in results.items():
        result["better"] = METRICS[name]
    described = {key: ext.describe() for key, ext in extractors.items()}
    unverified = sorted(d["weights"]["path"] for d in described.values() if not d["weights"]["verified"])
    satisfied = min(len(real.paths), len(fake.paths)) >= protocol.num_samples
    if not satisfied:
        warnings.warn(f"protocol {protocol.name} wants {protocol.num_samples} videos per side; got {len(real.paths)} "
                      f"real and {len(fake.paths)} generated: the numbers are not comparable to published ones "
                      "(FVD is biased upward at small N)", stacklevel=2)
    return {
        "protocol": {"name": protocol.name, "num_samples": protocol.num_samples,
                     "real_sampling": protocol.real_sampling.id, "fake_sampling": protocol.fake_sampling.id,
                     "extractor": protocol.extractor, "unbiased_covariance": protocol.unbiased_covariance,
                     "source": protocol.source, "satisfied": satisfied},
        "is_protocol": is_protocol.name if "is" in names else None,
        "real": {"source": str(real.source), "videos": len(real.paths)},
        "fake": {"source": str(fake.source), "videos": len(fake.paths)},
        "metrics": results,
        "extractors": described,
        "weights_verified": not unverified,
        "unverified_weights": unverified,
        "versions": {"lumiere_eval": __version__, "python": sys.version.split()[0], "numpy": np.__version__,
                     "torch": __import__("torch").__version__},
    }


def format_table(record: dict) -> str:
    """The metrics as an aligned text table."""
    lines = [f"{'metric':8s} {'value':>12s}  {'interval':34s} {'better':6s}"]
    for name, result in record["metrics"].items():
        if result.get("ci95"):
            low, high = result["ci95"]
            interval = f"95% CI [{low:.4g}, {high:.4g}]"
        elif "std" in result:
            interval = f"+- {result['std']:.4g} (std)"
        else:
            interval = "(no interval requested)"
        lines.append(f"{name:8s} {result['value']:12.4f}  {interval:34s} {result['better']:6s}")
    lines.append(f"protocol {record['protocol']['name']}: {record['real']['videos']} real, "
                 f"{record['fake']['videos']} generated videos"
                 + ("" if record["protocol"]["satisfied"] else " (fewer than the protocol's sample count)"))
    if not record["weights_verified"]:
        lines.append("computed with UNVERIFIED weights: " + ", ".join(record["unverified_weights"]))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Compute, print the table, write the JSON record atomically."""
    record = compute(args)
    print(format_table(record))
    from lumiere_eval.files import atomic_write_json

    out = atomic_write_json(args.out, record)
    print(f"wrote {out}")
    return 0
