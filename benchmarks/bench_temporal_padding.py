"""Per-frame motion along the clip of the shipped `lumiere`: is the object's step larger at the clip's ends?

The shipped generator samples the direction prompts (motion_check.direction_clips, `--per-class` per
direction, seeds 0..n-1, 16 frames at 32x32); the object's centre of mass is tracked (motion_check.
centroid_track) and the step length |c_{k+1} - c_k| is averaged per frame position. Run once with the
temporal convolutions' zero padding (as trained) and once with replicate padding swapped in at inference
(no retraining: the weights were trained with zero padding).
Run: python benchmarks/bench_temporal_padding.py [--per-class 4]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record  # noqa: E402


def steps_per_position(padding_mode: str, per_class: int) -> np.ndarray:
    """[videos, frames - 1] step lengths (pixels) of the tracked object."""
    import torch
    from torch import nn

    from lumiere_eval.models.base import create_generator
    from lumiere_eval.training.motion_check import centroid_track, direction_clips

    generator = create_generator("lumiere")
    for model in (generator.base, generator.ssr):
        for module in model.temporal.modules():
            if isinstance(module, nn.Conv1d):
                module.padding_mode = padding_mode
    clips = direction_clips(per_class)
    with torch.no_grad():
        videos = generator.generate([c for _, _, c in clips], list(range(len(clips))), 16, 8.0, 32, 32)
    return np.stack([np.linalg.norm(np.diff(centroid_track(v.frames), axis=0), axis=1) for v in videos])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=4, help="prompts per direction class")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    rows = []
    for mode in ("zeros", "replicate"):
        steps = steps_per_position(mode, args.per_class)
        rows.append({"padding": mode, "videos": len(steps), "end_steps": round(float(steps[:, [0, -1]].mean()), 3),
                     "middle_steps": round(float(steps[:, 3:-3].mean()), 3),
                     "per_position": " ".join(f"{v:.2f}" for v in steps.mean(0))})
        print(rows[-1])
    record("temporal_padding", rows, "Shipped lumiere (base STUNet + SSR), direction prompts, 16 frames at 32x32; "
           "step = |centroid(k+1) - centroid(k)| in pixels. end_steps: mean of the first and last step; "
           "middle_steps: steps 3..11; per_position: mean step at each of the 15 positions. 'replicate' swaps the "
           "padding at inference only (weights trained with zero padding).")


if __name__ == "__main__":
    main()
