"""`lumiere-eval ucf101`: the zero-shot UCF101 protocol, or the embedded synthetic default when no UCF101 is set."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from lumiere_eval import LumiereEvalError
from lumiere_eval.cli_types import float_range, int_range
from lumiere_eval.runner import options


def _num_samples(text: str) -> int:
    from lumiere_eval.runner.ucf101_run import PRESETS

    if text in PRESETS:
        return PRESETS[text]
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count or a preset ({', '.join(PRESETS)})") from None
    if value < 2:
        raise argparse.ArgumentTypeError("need at least 2 samples")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `ucf101`."""

    env_root = os.environ.get("LUMIERE_EVAL_UCF101")
    data = p.add_argument_group("data")
    data.add_argument("--data-root", type=Path, default=Path(env_root) if env_root else None,
                      help="UCF-101 folder (or its parent); default $LUMIERE_EVAL_UCF101; without one the embedded "
                           "synthetic default runs")
    data.add_argument("--splits-dir", type=Path, default=None,
                      help="folder with classInd.txt, trainlist0N.txt, testlist0N.txt (default: ucfTrainTestlist "
                           "in or beside the data root)")
    data.add_argument("--fold", type=int, choices=(1, 2, 3), default=1, help="official split number")
    data.add_argument("--split", dest="real_split", choices=("train", "test"), default="train",
                      help="split the real reference clips come from")
    data.add_argument("--num-real", type=int_range(1), default=10000,
                      help="real clips (all of the split when it has fewer; a seeded subset otherwise)")
    gen = p.add_argument_group("generation")
    gen.add_argument("--model", default=None,
                     help="generator name from the registry (required with a data root; the embedded default "
                          "runs lumiere, keyframe-cascade and per-frame-t2i unless one is named)")
    gen.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE", help="generator option (repeat)")
    gen.add_argument("--num-samples", type=_num_samples, default=10000, help="generated videos: a count, 10k or 2048")
    gen.add_argument("--prompts", default="classname-v1",
                     help="prompt suite: classname-v1, person-template-v1, or a CSV/JSON file class -> prompt")
    gen.add_argument("--num-frames", type=int_range(1), default=16, help="frames per generated video")
    gen.add_argument("--fps", type=float_range(0, low_open=True), default=16.0, help="frame rate of generated videos")
    gen.add_argument("--height", type=int_range(1), default=128, help="height of generated videos")
    gen.add_argument("--width", type=int_range(1), default=128, help="width of generated videos")
    ev = p.add_argument_group("evaluation")
    options.add_metric_options(ev, "fvd,is,clipsim")
    options.add_override_options(ev)
    options.add_weight_options(ev)
    options.add_interval_options(ev)
    run = p.add_argument_group("run")
    run.add_argument("--out", type=Path, default=None, help="run folder (default runs/<model>-<protocol>)")
    run.add_argument("--seed", type=int_range(0), default=0, help="base seed of sample seeds and real-clip selection")
    run.add_argument("--batch-size", type=int_range(1), default=4,
                     help="videos per generator call (speed only: every sample depends on its own seed)")
    run.add_argument("--shard", default=None, help="i/n: do shard i of n (cluster job arrays); then --merge")
    run.add_argument("--merge", action="store_true", help="compute the metrics of a sharded run (nothing generated)")
    run.add_argument("--overwrite", action="store_true",
                     help="if --out holds a run made with other settings, discard its samples and results and start "
                          "again (default: refuse, naming every setting that differs)")
    run.add_argument("--wait", action="store_true",
                     help="if another process is writing into --out, wait for it (default: refuse, naming its pid)")
    run.add_argument("--dry-run", action="store_true", help="print the resolved plan and exit")
    options.add_feature_options(run)
    p.add_argument("--synthetic-size", choices=("full", "tiny"), default="full",
                   help="embedded default only: full (64 samples per model) or tiny (a smoke test)")
    p.add_argument("--workers", type=int_range(1), default=min(os.cpu_count() or 1, 4),
                   help="embedded default only: generation processes per model, one torch thread each "
                        "(shards merged afterwards; default: the CPU count, at most 4)")


def config_from_args(args: argparse.Namespace):
    """The RunConfig of a UCF101 run (data root given)."""
    from lumiere_eval.models.base import parse_model_args
    from lumiere_eval.runner.evaluation import parse_metrics
    from lumiere_eval.runner.ucf101_run import RunConfig

    weights = {name: str(path) for name, path in options.weight_paths(args).items()}
    out = args.out or Path("runs") / f"{args.model}-ucf101-n{args.num_samples}"
    absolute = lambda path: None if path is None else Path(path).absolute()  # noqa: E731 - config.json's paths
    return RunConfig(out=out, data_root=absolute(args.data_root), splits_dir=absolute(args.splits_dir),
                     fold=args.fold, real_split=args.real_split, num_real=args.num_real, real_clip=args.real_clip,
                     fake_clip=args.fake_clip, num_samples=args.num_samples, prompts=args.prompts,
                     model=args.model, model_args=parse_model_args(args.model_arg), num_frames=args.num_frames,
                     fps=args.fps, height=args.height, width=args.width,
                     metrics=parse_metrics(args.metrics),
                     fvd_protocol=args.fvd_protocol, is_protocol=args.is_protocol,
                     cdfvd_protocol=args.cdfvd_protocol, jedi_protocol=args.jedi_protocol,
                     clip_frames=args.clip_frames, fid_frames=args.fid_frames, fid_bootstrap=args.fid_bootstrap,
                     fvd_extractor=args.fvd_extractor, is_extractor=args.is_extractor,
                     clip_extractor=args.clip_extractor, weights=weights, fvd_covariance=args.fvd_covariance,
                     is_splits=args.is_splits, bootstrap=args.bootstrap, seed=args.seed, batch_size=args.batch_size,
                     feature_block=args.feature_block,
                     cache_dir=absolute(args.cache_dir), device=args.device, strict=args.strict,
                     max_video_mb=args.max_video_mb, max_skipped_fraction=args.max_skipped_fraction, shard=args.shard,
                     merge=args.merge, overwrite=args.overwrite, wait=args.wait, progress=not args.no_progress)


def run(args: argparse.Namespace) -> int:
    """Run the protocol and print where the results are."""
    from lumiere_eval.runner import ucf101_run

    if args.list_metrics:
        from lumiere_eval.runner.evaluation import describe_metrics

        print(describe_metrics())
        return 0
    if args.data_root is None:
        from lumiere_eval.demo.default_run import run_default

        return run_default(args)
    if not Path(args.data_root).exists():
        raise LumiereEvalError(f"--data-root {args.data_root}: no such folder")
    if args.model is None:
        raise LumiereEvalError("--model is required with a data root (for example --model folder --model-arg "
                               "path=DIR, or --model zeroscope --model-arg path=DIR)")
    config = config_from_args(args)
    results = ucf101_run.run(config, dry_run=args.dry_run)
    if results is not None:
        print((config.out / "summary.md").read_text())
        print(json.dumps({k: round(v["value"], 4) for k, v in results["metrics"].items()}))
        print(f"results: {config.out / 'results.json'}")
    return 0
