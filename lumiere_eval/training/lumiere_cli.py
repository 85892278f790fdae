"""`lumiere-eval train STAGE`: train (or resume) one stage of the tiny reference Lumiere.

Stages and their shipped configs: t2i, stunet (needs t2i), ssr, ssr-stunet (needs ssr), keyframes and tsr
(the keyframe-cascade ablation; need t2i), conditional (needs stunet), t2i-sketch (a style; needs t2i).
Rerunning the same command resumes from `<run-root>/<stage>/state.pt`; the exported weights are `<run-root>/<stage>/model.pt`.
"""
from __future__ import annotations

import argparse

from lumiere_eval.cli_types import float_range, int_range
from lumiere_eval.training.lumiere_recipe import STAGES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval train`."""
    parser.add_argument("stage", type=str, choices=STAGES, help="which stage to train")
    parser.add_argument("--config", type=str, default=None,
                        help="stage config json (default: the shipped models/lumiere-tiny/configs/STAGE.json)")
    parser.add_argument("--run-root", type=str, default="runs/lumiere-tiny",
                        help="folder holding one subfolder per stage (checkpoints, exported model.pt)")
    parser.add_argument("--steps", type=int_range(1), default=None,
                        help="total steps (default: the config's train.steps)")
    parser.add_argument("--max-minutes", type=float_range(0, low_open=True), default=None,
                        help="stop (after saving) once this run has trained this many minutes; rerun to resume")
    parser.add_argument("--threads", type=int_range(1), default=1, help="torch CPU threads")
    parser.add_argument("--dry-run", action="store_true", default=False, help="print the resolved config and exit")


def run(args: argparse.Namespace) -> int:
    """Train the stage; prints where the exported model is."""
    import json

    import torch

    from lumiere_eval.assets import asset
    from lumiere_eval.training.lumiere_stages import StageConfig, train_stage

    torch.set_num_threads(args.threads)
    path = args.config or str(asset("models", "lumiere-tiny", "configs", f"{args.stage}.json"))
    config = StageConfig.load(path)
    if args.dry_run:
        print(json.dumps({"config_file": path, **config.__dict__, "run_root": args.run_root}, indent=1))
        return 0
    out = train_stage(config, args.run_root, steps=args.steps, max_minutes=args.max_minutes)
    print(f"exported {out}")
    return 0
