"""`lumiere-eval train-sd`: train (or resume) the temporal layers of a diffusers T2I inflated into a STUNet.

    lumiere-eval train-sd --make-example runs/sd-example      # tiny random base + captioned clips + config
    lumiere-eval train-sd --config runs/sd-example/config.json --out runs/sd-example/run
    lumiere-eval generate --model lumiere-sd --model-arg base=runs/sd-example/base \\
        --model-arg temporal=runs/sd-example/run/temporal.pt ...
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from lumiere_eval import LumiereEvalError
from lumiere_eval.cli_types import float_range, int_range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval train-sd`."""
    parser.add_argument("--config", type=str, default=None, help="training config json (docs/lumiere_sd.md)")
    parser.add_argument("--out", type=str, default=None,
                        help="run folder: state.pt to resume from, temporal.pt to generate with, log.jsonl "
                             "(default: <config folder>/run)")
    parser.add_argument("--steps", type=int_range(1), default=None,
                        help="total steps (default: the config's train.steps)")
    parser.add_argument("--max-minutes", type=float_range(0, low_open=True), default=None,
                        help="stop (after saving) once this run has trained this many minutes; rerun to resume")
    parser.add_argument("--threads", type=int_range(1), default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--make-example", type=str, default=None, metavar="DIR",
                        help="write a CPU example to DIR (a tiny random base in the Stable Diffusion layout, "
                             "captioned synthetic clips, config.json) and exit")
    parser.add_argument("--dry-run", action="store_true", default=False, help="print the resolved config and exit")


def make_example(folder: str | Path, clips: int = 24, steps: int = 60) -> Path:
    """A tiny CPU example: random base (16x16 pixels, 8x8 latents), `clips` captioned synthetic 16-frame clips,
    and its config.json; returns the config path."""
    from lumiere_eval.models.lumiere_sd.tiny import save_tiny_base
    from lumiere_eval.datasets.synthetic import SyntheticDomain
    from lumiere_eval.video import write_video

    folder = Path(folder)
    save_tiny_base(folder / "base")
    domain = SyntheticDomain(16, 16, 16)
    (folder / "videos").mkdir(parents=True, exist_ok=True)
    for index in range(clips):
        frames, _, caption = domain.sample(index, "train")
        write_video(folder / "videos" / f"clip{index:03d}.mp4", frames, fps=8)
        (folder / "videos" / f"clip{index:03d}.txt").write_text(caption + "\n")
    config = {"base": "base", "data": {"folder": "videos", "num_frames": 16, "size": 16},
              "model": {"temporal_resampling": True},
              "train": {"steps": steps, "batch_size": 2, "lr": 1e-3, "checkpoint_every": 20, "log_every": 10}}
    path = folder / "config.json"
    path.write_text(json.dumps(config, indent=1) + "\n")
    return path


def run(args: argparse.Namespace) -> int:
    """Make the example, or train; prints where the temporal weights are."""
    import torch

    from lumiere_eval.training.lumiere_sd import SDTrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.make_example:
        print(f"example config: {make_example(args.make_example)}")
        return 0
    if not args.config:
        raise LumiereEvalError("give --config CONFIG.json (or --make-example DIR)")
    config = SDTrainConfig.load(args.config)
    out = args.out or str(Path(args.config).parent / "run")
    if args.dry_run:
        print(json.dumps({"config_file": args.config, "out": out, **config.__dict__}, indent=1))
        return 0
    print(f"temporal weights: {train(config, out, steps=args.steps, max_minutes=args.max_minutes)}")
    return 0
