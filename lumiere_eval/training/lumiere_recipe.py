"""The recipe behind the shipped `models/lumiere-tiny` checkpoints: train every stage, then ship.

    python -m lumiere_eval.training.lumiere_recipe train   # t2i -> stunet, ssr -> ssr-stunet, to the shipped steps
    python -m lumiere_eval.training.lumiere_recipe ship    # copy exports, loss curve, sample GIFs, training.json

`train` trains each stage to the step count recorded in the shipped checkpoint's json (or `--steps`), so
rerunning it reproduces the shipped weights (training is deterministic given the config and the step count;
bitwise equality also needs the same torch version and thread count). It resumes where a run stopped.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from lumiere_eval.cli_types import int_range

STAGES = ("t2i", "stunet", "ssr", "ssr-stunet", "keyframes", "tsr", "conditional", "t2i-sketch")
SHIPPED = ("models", "lumiere-tiny")
# One prompt per class for the sample grids, appearance varied across the grid.
SAMPLE_LOOKS = [("red", "square", "dark"), ("green", "circle", "gray"), ("blue", "triangle", "teal"),
                ("yellow", "cross", "dark"), ("white", "square", "teal"), ("magenta", "circle", "dark")]


def shipped_steps(stage: str) -> int | None:
    """Steps of the shipped checkpoint of `stage`, from its json; None if not shipped."""
    from lumiere_eval.models.lumiere.checkpoint import checkpoint_folder
    meta = checkpoint_folder() / f"{stage}.json"
    return json.loads(meta.read_text()).get("steps") if meta.is_file() else None


def train_all(run_root: Path, steps: int | None, threads: int) -> None:
    """Train the four stages in order, each to `steps` or to its shipped step count."""
    import torch

    from lumiere_eval.assets import asset
    from lumiere_eval.training.lumiere_stages import StageConfig, train_stage

    torch.set_num_threads(threads)
    for stage in STAGES:
        config = StageConfig.load(str(asset(*SHIPPED, "configs", f"{stage}.json")))
        train_stage(config, run_root, steps=steps or shipped_steps(stage))


def sample_prompts() -> list[str]:
    """One caption per class for the sample grids."""
    from lumiere_eval.datasets.synthetic import CLASS_PHRASES

    return [f"a {c} {s} {phrase} on a {b} background"
            for (c, s, b), phrase in zip(SAMPLE_LOOKS * 2, CLASS_PHRASES.values())]


def grid(videos: list[np.ndarray], columns: int = 4, scale: int = 2) -> np.ndarray:
    """Tile uint8 videos [T, H, W, 3] into one video, each cell upscaled by `scale` (nearest)."""
    cells = [v.repeat(scale, 1).repeat(scale, 2) for v in videos]
    t, h, w, _ = cells[0].shape
    rows = -(-len(cells) // columns)
    canvas = np.full((t, rows * (h + 2), columns * (w + 2), 3), 255, np.uint8)
    for i, cell in enumerate(cells):
        r, c = divmod(i, columns)
        canvas[:, r * (h + 2):r * (h + 2) + h, c * (w + 2):c * (w + 2) + w] = cell
    return canvas


def loss_curve(run_root: Path, out: Path) -> dict[str, dict]:
    """Plot the training loss of every stage (moving average of 50 steps); returns per-stage summaries."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    summary: dict[str, dict] = {}
    fig, ax = plt.subplots(figsize=(7, 4))
    for stage in STAGES:
        state_path = run_root / stage / "state.pt"
        if not state_path.is_file():
            continue
        losses = np.asarray(torch.load(state_path, weights_only=True)["losses"], dtype=np.float64)
        if not len(losses):
            continue
        window = min(50, len(losses))
        smooth = np.convolve(losses[:, 1], np.ones(window) / window, mode="valid")
        ax.plot(losses[window - 1:, 0], smooth, label=stage)
        summary[stage] = {"steps": int(losses[-1, 0]), "wall_minutes": round(float(losses[-1, 2]) / 60, 1),
                          "loss_first_50": round(float(losses[:50, 1].mean()), 4),
                          "loss_last_50": round(float(losses[-50:, 1].mean()), 4)}
    ax.set_xlabel("step")
    ax.set_ylabel("v-prediction MSE (moving average, 50 steps)")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return summary


def direction_scores(folder: Path, names: list[str], per_class: int) -> dict[str, float]:
    """Direction check (motion_check) at 16x16 of base stages (`stunet`, `t2i` per frame) or of the
    `keyframe-cascade` base (keyframes + TSR), plus the real clips."""
    import torch

    from lumiere_eval.models.base import create_generator
    from lumiere_eval.models.lumiere.checkpoint import load_model
    from lumiere_eval.models.lumiere.generators import sample_videos
    from lumiere_eval.training.motion_check import direction_accuracy
    from lumiere_eval.models.lumiere.frames import to_uint8

    scores = {"real_clips": direction_accuracy(None, per_class), "chance": 0.25, "videos_per_model": 4 * per_class}
    for name in names:
        if name == "keyframe-cascade":
            cascade = create_generator(name, checkpoint_dir=str(folder))

            def generate(captions, seeds, cascade=cascade):
                return list(to_uint8(cascade.base_video(list(captions), list(seeds), 16)))
        else:
            model = load_model(folder / f"{name}.pt")

            def generate(captions, seeds, model=model):
                gens = [torch.Generator().manual_seed(s) for s in seeds]
                return list(to_uint8(sample_videos(model, captions, gens, (3, 16, 16, 16), 20, 3.0, "ddim")))
        scores[name] = direction_accuracy(generate, per_class)
    return scores


def ship(run_root: Path, generators: list[str], direction_stages: list[str], per_class: int, threads: int) -> Path:
    """Copy the exported stages into the shipped folder; write the loss curve, then sample GIFs of
    `generators` and the direction check of `direction_stages`, merged into training.json."""
    import torch

    from lumiere_eval.models.base import create_generator
    from lumiere_eval.datasets.synthetic import CLASSES, SyntheticDomain
    from lumiere_eval.video import write_video

    torch.set_num_threads(threads)
    from lumiere_eval.models.lumiere.checkpoint import checkpoint_folder
    folder = checkpoint_folder()
    for stage in STAGES:
        for ext in (".pt", ".json"):
            source = run_root / stage / f"model{ext}"
            if source.is_file():
                shutil.copyfile(source, folder / f"{stage}{ext}")
    record = folder / "training.json"
    summary = json.loads(record.read_text()) if record.is_file() else {}
    summary["stages"] = loss_curve(run_root, folder / "loss_curve.png")
    prompts = sample_prompts()
    summary["sample_prompts"] = prompts
    domain = SyntheticDomain(32, 32, 16)
    real = [domain.sample(CLASSES.index(c) * domain.split_size("test") // len(CLASSES), "test")[0] for c in CLASSES]
    write_video(folder / "samples_real.gif", grid(real), 8)
    for name in generators:
        generator = create_generator(name)
        start = time.perf_counter()
        videos = generator.generate(prompts, list(range(len(prompts))), 16, 8.0, 32, 32)
        seconds = time.perf_counter() - start
        write_video(folder / f"samples_{name}.gif", grid([v.frames for v in videos]), 8)
        summary[f"samples_{name}"] = {"seconds_per_video": round(seconds / len(prompts), 2), "threads": threads,
                                      **generator.describe()}
    if direction_stages:
        summary.setdefault("direction_accuracy", {}).update(direction_scores(folder, direction_stages, per_class))
    record.write_text(json.dumps(summary, indent=1) + "\n")
    return folder


def main(argv: list[str] | None = None) -> int:
    """`train` or `ship`."""
    parser = argparse.ArgumentParser(prog="python -m lumiere_eval.training.lumiere_recipe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("train", "ship"), help="train all stages, or ship the exports")
    parser.add_argument("--run-root", type=Path, default=Path("runs/lumiere-tiny"), help="training runs folder")
    parser.add_argument("--steps", type=int_range(1), default=None, help="steps per stage (default: the shipped steps)")
    parser.add_argument("--threads", type=int_range(1), default=1, help="torch CPU threads")
    parser.add_argument("--generators", type=str, default="lumiere,keyframe-cascade,per-frame-t2i",
                        help="comma-separated generators to draw sample GIFs from ('' for none)")
    parser.add_argument("--direction", type=str, default="stunet,keyframe-cascade,t2i",
                        help="comma-separated base stages (or keyframe-cascade) to run the direction check on "
                             "('' for none)")
    parser.add_argument("--per-class", type=int_range(1), default=8, help="videos per direction class in the check")
    args = parser.parse_args(argv)
    if args.action == "train":
        train_all(args.run_root, args.steps, args.threads)
    else:
        names = [n for n in args.generators.split(",") if n]
        stages = [n for n in args.direction.split(",") if n]
        print(ship(args.run_root, names, stages, args.per_class, args.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
