"""Cost per video of VBench's quality dimensions on the CPU, at full size with random weights, each through the
tier's own score call (`lumiere_eval.runner.vbench_tier.DIMENSIONS[...].score`, VBench's preprocessing included):
subject consistency (DINO ViT-B/16), background consistency (CLIP ViT-B/32), aesthetic quality (CLIP ViT-L/14 +
the LAION linear head), imaging quality (pyiqa's MUSIQ as VBench builds it), dynamic degree (RAFT-large, 20
iterations) and temporal flickering (the weight-free formula; `temporal_flickering_static` adds VBench's RAFT
static filter first, T + 1 pairs: a row derived from dynamic degree's time per pair, not timed).

VBench has no input size of its own: it scores each model's sampled videos as they are, and each dimension resizes.
The default video is 16 frames at 320x512 (height x width), 8 fps (a common T2V output, the first size of
bench_vbench_motion_smoothness.py); then DINO sees 224x358 frames, both CLIPs 224x224, MUSIQ 320x512 (longer side
not over 512: no resize) and RAFT all 15 pairs at 320x512. Wall and process time: medians of `--repeats` calls,
1-minute load average read before and after each series. Each row also times the obvious alternative in the same
run (VBench's schedule where it differs from ours, else one frame at a time or all at once) and gives alternative /
ours on process time (steadier than wall time on shared cores).

FLOPs: `torch.utils.flop_counter.FlopCounterMode` on one frame (one pair for RAFT) of the same network call, times
the frames (pairs) per video; matmuls, convolutions and attention (counted on the math backend of
scaled_dot_product_attention: FlopCounterMode misses the CPU's fused kernel), 2 FLOP per multiply-add; norms,
activations, grid_sample, resizes and the weight standardisation of MUSIQ's StdConv are not counted. Temporal flickering is
counted analytically (3 FLOP per channel value: subtract, abs, add). The one-GPU projection divides the FLOPs by an
assumed sustained float32 throughput (`--gpu-tflops`, default 9.75 as bench_vbench_semantic.py: half an A100's 19.5
TFLOP/s float32 peak, TF32 off); it is a projection, not a measurement.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_vbench_quality.py [--threads 1] [--repeats 3]
(imaging quality needs pyiqa importable; without it that row says so)
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vbench_semantic import CLIP_B32, _clip_class, gflop, randomised
from common import record

from lumiere_eval.extractors.vbench.dino import VIT_B16, DinoViT
from lumiere_eval.extractors.vbench.features import (
    CLIP_L14_WIDTH,
    build_musiq,
    clip_image_features,
    dino_features,
    steady_math,
)
from lumiere_eval.extractors.vbench.frames import (
    as_vbench_frames,
    clip_frames,
    dino_frames,
    musiq_frames,
)
from lumiere_eval.extractors.vbench.raft import ITERATIONS, build_raft, sintel_padding
from lumiere_eval.extractors.weight_files import WeightsError
from lumiere_eval.metrics.motion import temporal_flickering
from lumiere_eval.metrics.vbench import flow_pair_score
from lumiere_eval.runner.vbench_tier import DIMENSIONS

CLIP_L14 = {**CLIP_B32, "embed_dim": 768, "vision_layers": 24, "vision_width": 1024, "vision_patch_size": 14,
            "transformer_width": 768, "transformer_heads": 12}


def timed(fn, repeats: int) -> dict:
    """Median wall and process (CPU) time of `repeats` calls of `fn`, the 1-minute load average before and after."""
    before = os.getloadavg()[0]
    wall, process = [], []
    for _ in range(repeats):
        start, start_process = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        process.append(time.process_time() - start_process)
    return {"s": statistics.median(wall), "process_s": statistics.median(process),
            "load1": f"{before:.2f} -> {os.getloadavg()[0]:.2f}"}


def vbench_flickering(frames: np.ndarray) -> float:
    """VBench's `cal_score` arithmetic: cv2.absdiff of float32 frames, per pair mean, (255 - mean) / 255."""
    pairs = [np.mean(cv2.absdiff(a.astype(np.float32), b.astype(np.float32))) for a, b in itertools.pairwise(frames)]
    return (255.0 - float(np.mean(pairs))) / 255.0


def raft_batched(model, frames: np.ndarray) -> torch.Tensor:
    """All consecutive pairs in one RAFT batch (the alternative to VBench's one pair at a time)."""
    x = as_vbench_frames(frames)
    x = 2 * (F.pad(x, sintel_padding(*x.shape[-2:]), mode="replicate") / 255.0) - 1.0
    with steady_math():
        return model(x[:-1], x[1:], num_flow_updates=ITERATIONS)[-1]


def musiq_batched(model, frames: np.ndarray) -> torch.Tensor:
    """All frames in one MUSIQ batch (the alternative to VBench's one frame at a time)."""
    with steady_math():
        return model(musiq_frames(as_vbench_frames(frames))).squeeze(-1)


def build_networks() -> dict:
    """Each dimension's networks at full size with random weights, as the tier's loaders build them."""
    clip_class = _clip_class()
    clip_l14 = randomised(clip_class(**CLIP_L14).float(), 2)
    networks = {"subject_consistency": randomised(DinoViT(**VIT_B16)),
                "background_consistency": randomised(clip_class(**CLIP_B32).float(), 1),
                "aesthetic_quality": (clip_l14, randomised(torch.nn.Linear(CLIP_L14_WIDTH, 1), 3)),
                "dynamic_degree": randomised(build_raft(), 4)}
    try:
        networks["imaging_quality"] = randomised(build_musiq(), 5)
    except WeightsError as err:  # pyiqa missing
        print(f"imaging quality not measured: {err}", file=sys.stderr)
    return networks


def flop_per_video(networks: dict, video: np.ndarray) -> dict[str, float]:
    """GFLOP per video of each dimension: one frame (pair) counted, times the frames (pairs) of the video."""
    t, h, w = video.shape[:3]
    x = as_vbench_frames(video[:2])
    with steady_math(), sdpa_kernel(SDPBackend.MATH):  # the CPU's fused attention kernel is not counted
        counts = {"subject_consistency": t * gflop(lambda: networks["subject_consistency"](dino_frames(x[:1]))),
                  "background_consistency": t * gflop(
                      lambda: networks["background_consistency"].encode_image(clip_frames(x[:1]))),
                  "aesthetic_quality": t * gflop(lambda: networks["aesthetic_quality"][1](
                      networks["aesthetic_quality"][0].encode_image(clip_frames(x[:1])).float()))}
        if "imaging_quality" in networks:
            counts["imaging_quality"] = t * gflop(lambda: networks["imaging_quality"](musiq_frames(x[:1])))
        counts["dynamic_degree"] = (t - 1) * gflop(lambda: raft_batched(networks["dynamic_degree"], video[:2]))
    counts["temporal_flickering"] = 3 * (t - 1) * h * w * 3 / 1e9
    return counts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per figure, median kept (default 3)")
    p.add_argument("--video", type=int, nargs=3, default=[16, 320, 512], metavar=("T", "H", "W"))
    p.add_argument("--fps", type=float, default=8.0, help="frame rate of the test video (dynamic degree)")
    p.add_argument("--gpu-tflops", type=float, default=9.75, help="assumed sustained GPU float32 TFLOP/s")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t, h, w = args.video
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (h, w + 2 * t, 3), dtype=np.uint8)  # a pan: every frame shifted 2 pixels
    video = np.stack([base[:, 2 * i:2 * i + w] for i in range(t)])
    networks = build_networks()
    counts = flop_per_video(networks, video)
    dino, clip_b32, (clip_l14, head) = (networks["subject_consistency"], networks["background_consistency"],
                                        networks["aesthetic_quality"])

    def score(name):
        return lambda: DIMENSIONS[name].score(networks[name], video, args.fps)

    plans = [  # dimension, network and input, ours, alternative's name, alternative
        ("subject_consistency", f"DINO ViT-B/16, {t} x 224x{int(224 * w / h)} (batches of 16)",
         score("subject_consistency"), "one frame at a time (VBench)", lambda: dino_features(dino, video, batch=1)),
        ("background_consistency", f"CLIP ViT-B/32, {t} x 224x224 (batches of 32; VBench: all in one)", score("background_consistency"),
         "one frame at a time", lambda: clip_image_features(clip_b32, video, batch=1)),
        ("aesthetic_quality", f"CLIP ViT-L/14 + linear head, {t} x 224x224 (batches of 32, as VBench)",
         score("aesthetic_quality"), "one frame at a time",
         lambda: head(clip_image_features(clip_l14, video, batch=1)) / 10),
        ("imaging_quality", (f"MUSIQ (pyiqa), {t} x {h}x{w} + its 224 and 384 rescales (one frame at a time, "
                             "as VBench)"), score("imaging_quality"), "all frames in one batch",
         lambda: musiq_batched(networks["imaging_quality"], video)),
        ("dynamic_degree", (f"RAFT-large, {t - 1} pairs at {h}x{w}, {ITERATIONS} iterations (one pair at a "
                            "time, as VBench)"), score("dynamic_degree"), "all pairs in one batch",
         lambda: [flow_pair_score(f) for f in raft_batched(networks["dynamic_degree"], video).numpy()]),
        ("temporal_flickering", f"none, {t - 1} frame pairs at {h}x{w} (numpy)", lambda: temporal_flickering(video),
         "VBench's cv2.absdiff", lambda: vbench_flickering(video))]
    gpu = args.gpu_tflops * 1e3  # GFLOP per second
    rows = []
    for dimension, what, ours, alternative, alt in plans:
        if dimension not in counts:
            rows.append({"dimension": dimension, "network_and_input": what + ": not measured (pyiqa missing)"})
            continue
        mine, theirs = timed(ours, args.repeats), timed(alt, args.repeats)
        rows.append({"dimension": dimension, "network_and_input": what, "GFLOP_per_video": counts[dimension],
                     "cpu_s_per_video": mine["s"], "process_s_per_video": mine["process_s"],
                     "cpu_GFLOP_per_s": counts[dimension] / mine["s"],
                     "gpu_ms_projected": counts[dimension] / gpu * 1e3, "alternative": alternative,
                     "alternative_cpu_s": theirs["s"], "alternative_process_s": theirs["process_s"],
                     "alternative_over_ours": theirs["process_s"] / mine["process_s"],
                     "load1_ours": mine["load1"], "load1_alternative": theirs["load1"]})
        print(rows[-1], flush=True)
    measured = [r for r in rows if "cpu_s_per_video" in r]
    total_flop, total_s = sum(r["GFLOP_per_video"] for r in measured), sum(r["cpu_s_per_video"] for r in measured)
    rows.append({"dimension": f"per video, the {len(measured)} rows above", "network_and_input": "sum",
                 "GFLOP_per_video": total_flop, "cpu_s_per_video": total_s,
                 "process_s_per_video": sum(r["process_s_per_video"] for r in measured),
                 "cpu_GFLOP_per_s": total_flop / total_s,
                 "gpu_ms_projected": total_flop / gpu * 1e3})
    if "dynamic_degree" in counts:
        pair_s = next(r["cpu_s_per_video"] for r in rows if r["dimension"] == "dynamic_degree") / (t - 1)
        flops = counts["dynamic_degree"] / (t - 1) * (t + 1)
        rows.append({"dimension": "temporal_flickering_static's RAFT static filter (the tier's VBench temporal flickering)",
                     "network_and_input": f"RAFT-large, {t + 1} pairs at {h}x{w}: derived from the dynamic-degree "
                     "row per pair, not timed", "GFLOP_per_video": flops, "cpu_s_per_video": pair_s * (t + 1),
                     "cpu_GFLOP_per_s": flops / (pair_s * (t + 1)), "gpu_ms_projected": flops / gpu * 1e3})
    rows = [{k: r.get(k, "") for k in rows[0]} for r in rows]  # one column set (a row not measured leaves blanks)
    record("vbench_quality", rows, notes=(
        f"Full-size networks with random weights, float32, torch threads {torch.get_num_threads()} "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}); one uint8 video {t}x{h}x{w} at "
        f"{args.fps:g} fps (a 2-pixel pan of noise). cpu_s: median wall time of {args.repeats} calls of the tier's "
        "score function (preprocessing included); process_s: their median process CPU time (less moved by other "
        "jobs than wall time on shared cores); the alternative timed in the same run, same medians; "
        "alternative_over_ours: ratio of the process times, > 1: ours faster. GFLOP: FlopCounterMode on one frame (one RAFT pair) times frames "
        "(pairs), matmul/conv/attention, 2 FLOP per multiply-add; temporal flickering counted analytically. "
        f"gpu_ms_projected = GFLOP / assumed {args.gpu_tflops} TFLOP/s sustained float32 (half an A100's 19.5 "
        "TFLOP/s peak; TF32 off): a projection, not a measurement; bench_vbench_motion_smoothness.py brackets its "
        "projection at 10% and 40% of that peak instead (5x and 1.25x these times). load1: 1-minute load average "
        "before -> after each series (2 cores, shared). VBench runs CLIP in float16 on a "
        "GPU; no GPU here, so that dtype is not compared."))


if __name__ == "__main__":
    main()
