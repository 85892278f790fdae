"""VBench motion smoothness (AMT-S): cost per video on this CPU at VBench's sizes, FLOPs per frame pair, a GPU
projection from them, and our AMT-S against vbench's at full size.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_vbench_motion_smoothness.py
Random weights (the real amt-s.pth cannot be downloaded here; the cost does not depend on the values). A T-frame
video costs ceil(T / 2) - 1 AMT-S passes at its own size (VBench does not resize; frames padded to multiples of
16). Wall time: best of `--repeats` calls of the whole per-video score (`amt_interpolated` + `interpolation_score`).
FLOPs: torch.utils.flop_counter on one pass (convolutions, transposed convolutions and the correlation matmul, 2
FLOP per multiply-add); grid_sample, interpolation, instance norm and element-wise work are not counted.
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import best_time, record  # noqa: E402

from lumiere_eval.extractors.vbench.amt import AmtS, centred_padding  # noqa: E402
from lumiere_eval.extractors.vbench.features import amt_interpolated  # noqa: E402
from lumiere_eval.metrics.vbench import interpolation_score  # noqa: E402

# (frames, height, width): VBench's sampled videos are the models' own outputs; these are common ones
SIZES = ((16, 320, 512), (16, 256, 256), (16, 576, 1024))
A100_FP32 = 19.5e12  # FLOP/s, NVIDIA's A100 datasheet (fp32, no TF32: VBench's tier runs with TF32 off)
EFFICIENCIES = (0.1, 0.4)  # assumed fractions of that peak (not measured): small-channel convs at batch 1


def _model(seed: int = 0) -> AmtS:
    torch.manual_seed(seed)
    model = AmtS().eval().requires_grad_(False)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.02)
    return model


def _video(frames: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (height, width + 2 * frames, 3)).astype(np.uint8)
    return np.stack([base[:, 2 * t:2 * t + width] for t in range(frames)])


def pair_flop(model: AmtS, height: int, width: int) -> int:
    """FLOP of one AMT-S pass on frames padded from height x width."""
    pad = centred_padding(height, width)
    x = torch.rand(1, 3, height + pad[2] + pad[3], width + pad[0] + pad[1])
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x, x.flip(-1), 0.5)
    return counter.get_total_flops()


def full_size_difference(model: AmtS, height: int, width: int) -> float:
    """Max abs difference of one pass between ours and vbench's AMT-S (same weights), at height x width."""
    reference = importlib.import_module("vbench.third_party.amt.networks.AMT-S").Model(corr_radius=3, corr_lvls=4,
                                                                                      num_flows=3).eval()
    reference.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(1)
    img0, img1 = torch.rand(1, 3, height, width, generator=g), torch.rand(1, 3, height, width, generator=g)
    with torch.no_grad():
        theirs = reference(img0, img1, torch.tensor(0.5).view(1, 1, 1, 1), scale_factor=1.0, eval=True)["imgt_pred"]
        return (model(img0, img1, 0.5) - theirs).abs().max().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per size (best kept)")
    parser.add_argument("--skip-reference", action="store_true", help="do not compare with vbench's AMT-S")
    args = parser.parse_args()
    model = _model()
    rows = []
    for frames, height, width in SIZES:
        video = _video(frames, height, width)
        passes = math.ceil(frames / 2) - 1
        seconds = best_time(lambda: interpolation_score(video, amt_interpolated(model, video).numpy()), args.repeats)
        flop = pair_flop(model, height, width)
        row = {"video": f"{frames}x{height}x{width}", "amt_passes": passes, "cpu_s_per_video": seconds,
               "cpu_s_per_pass": seconds / passes, "gflop_per_pass": flop / 1e9,
               "gflop_per_video": flop * passes / 1e9, "cpu_gflop_per_s": flop * passes / seconds / 1e9}
        for share in EFFICIENCIES:
            row[f"a100_videos_per_s_at_{int(share * 100)}pct"] = share * A100_FP32 / (flop * passes)
        rows.append(row)
        print(row, flush=True)
    notes = ("Per-video cost of VBench motion smoothness with our AMT-S (random weights, float32, CPU, "
             f"{torch.get_num_threads()} thread(s)), best of {args.repeats}. GPU columns: projected, not measured: "
             "FLOPs counted by torch.utils.flop_counter (convs, transposed convs, correlation matmul; 2 FLOP per "
             "multiply-add; grid_sample / interpolation / norms not counted) divided into an assumed 10% or 40% of "
             "an A100's 19.5 TFLOP/s fp32 peak, one video at a time (batch 1 as VBench).")
    if not args.skip_reference:
        diff = full_size_difference(model, 320, 512)
        notes += f" Ours vs vbench 0.1.5's AMT-S at 320x512, same random weights: max abs difference {diff:.1e}."
    record("vbench_motion_smoothness", rows, notes)


if __name__ == "__main__":
    main()
