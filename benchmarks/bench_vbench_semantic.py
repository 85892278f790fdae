"""Cost per video of VBench's text-video dimensions on the CPU, at full size with random weights: ViCLIP ViT-L/14
(overall consistency, temporal style: 8 frames at 224, one prompt) and CLIP ViT-B/32 (appearance style: every frame
at 224, one style text), each through the tier's own calls (`lumiere_eval.extractors.vbench.semantic`, VBench's
preprocessing included).

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode` on the same calls run on the meta device (matmuls,
convolutions and attention; 2 FLOP per multiply-add; LayerNorm, softmax and the activations are not counted). The
one-GPU projection divides those FLOPs by an assumed sustained float32 throughput (`--gpu-tflops`, default 9.75:
half of an A100's 19.5 TFLOP/s float32 peak, since the tier turns TF32 off); it is a projection, not a measurement.

Run: OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_vbench_semantic.py [--threads 1] [--frames 16 80]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, record  # noqa: E402

from lumiere_eval.extractors.vbench import semantic  # noqa: E402
from lumiere_eval.extractors.vbench.frames import clip_pil_frames, viclip_frames  # noqa: E402
from lumiere_eval.extractors.vbench.viclip import VICLIP_L14, ViClip  # noqa: E402

PROMPT = "A beautiful coastal beach in spring, waves lapping on sand, in super slow motion"
CLIP_B32 = {"embed_dim": 512, "image_resolution": 224, "vision_layers": 12, "vision_width": 768,
            "vision_patch_size": 32, "context_length": 77, "vocab_size": 49408, "transformer_width": 512,
            "transformer_heads": 8, "transformer_layers": 12}


def _clip_class():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clip imports the deprecated pkg_resources
        from clip.model import CLIP
    return CLIP


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Normal(0, 0.02) weights, unit norms, eval mode (the cost does not depend on the values)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim > 1:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
            else:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
    return model.eval().requires_grad_(False)


def gflop(fn) -> float:
    """GFLOP of `fn()` as FlopCounterMode counts them."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def meta_counts(frames: int) -> dict[str, float]:
    """GFLOP of each network call, counted on meta-device copies (shapes only, no arithmetic)."""
    with torch.device("meta"):
        viclip, clip_model = ViClip(**VICLIP_L14).eval(), _clip_class()(**CLIP_B32).eval()
    tokens = torch.zeros(1, 32, dtype=torch.long, device="meta")
    clip_tokens = torch.zeros(1, 77, dtype=torch.long, device="meta")
    with torch.no_grad():
        return {"viclip_video": gflop(lambda: viclip.encode_video(torch.empty(1, 8, 3, 224, 224, device="meta"))),
                "viclip_text": gflop(lambda: viclip.text_encoder(tokens)),
                "clip_frame": gflop(lambda: clip_model.encode_image(torch.empty(1, 3, 224, 224, device="meta"))),
                "clip_text": gflop(lambda: clip_model.encode_text(clip_tokens)),
                "frames": frames}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--frames", type=int, nargs="+", default=[16, 80],
                   help="video lengths for the appearance-style projection (default 16 80)")
    p.add_argument("--size", type=int, default=256, help="frame side of the uint8 test video (default 256)")
    p.add_argument("--gpu-tflops", type=float, default=9.75, help="assumed sustained GPU float32 TFLOP/s")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    video = np.random.default_rng(0).integers(0, 256, (16, args.size, args.size, 3), dtype=np.uint8)
    counts = meta_counts(16)

    start = time.perf_counter()
    viclip = randomised(ViClip(**VICLIP_L14))
    build_viclip = time.perf_counter() - start
    viclip_prep = best_time(lambda: viclip_frames(video))
    start = time.perf_counter()
    semantic.viclip_video_embedding(viclip, video)  # one full forward (about 1.65 TFLOP)
    viclip_video = time.perf_counter() - start
    viclip_text = best_time(lambda: semantic.viclip_text_embeddings(viclip, [PROMPT]))
    del viclip

    clip_model = randomised(_clip_class()(**CLIP_B32), 1)
    clip_prep = best_time(lambda: clip_pil_frames(video)) / len(video)
    clip_all = best_time(lambda: semantic.clip_frame_embeddings(clip_model, video), repeats=2) / len(video)
    clip_text = best_time(lambda: semantic.clip_text_embeddings(clip_model, ["Van Gogh style"]))

    gpu = args.gpu_tflops * 1e3  # GFLOP per second
    rows = [
        {"call": "ViCLIP preprocessing (8 middle frames, uint8 bicubic to 224, crop)", "GFLOP": 0.0,
         "cpu_s": viclip_prep, "GFLOP_per_s": 0.0, "gpu_ms_projected": 0.0},
        {"call": "ViCLIP ViT-L/14 video embedding (8x224x224, one forward)", "GFLOP": counts["viclip_video"],
         "cpu_s": viclip_video, "GFLOP_per_s": counts["viclip_video"] / viclip_video,
         "gpu_ms_projected": counts["viclip_video"] / gpu * 1e3},
        {"call": "ViCLIP text embedding (32 tokens)", "GFLOP": counts["viclip_text"], "cpu_s": viclip_text,
         "GFLOP_per_s": counts["viclip_text"] / viclip_text, "gpu_ms_projected": counts["viclip_text"] / gpu * 1e3},
        {"call": "CLIP ViT-B/32 per frame (PIL preprocessing only)", "GFLOP": 0.0, "cpu_s": clip_prep,
         "GFLOP_per_s": 0.0, "gpu_ms_projected": 0.0},
        {"call": "CLIP ViT-B/32 per frame (preprocessing + image embedding, batches of 32)",
         "GFLOP": counts["clip_frame"], "cpu_s": clip_all, "GFLOP_per_s": counts["clip_frame"] / clip_all,
         "gpu_ms_projected": counts["clip_frame"] / gpu * 1e3},
        {"call": "CLIP text embedding (77 tokens)", "GFLOP": counts["clip_text"], "cpu_s": clip_text,
         "GFLOP_per_s": counts["clip_text"] / clip_text, "gpu_ms_projected": counts["clip_text"] / gpu * 1e3}]
    for frames in args.frames:
        viclip_dim = viclip_prep + viclip_video + viclip_text
        flops = 2 * (counts["viclip_video"] + counts["viclip_text"]) + frames * counts["clip_frame"] + counts[
            "clip_text"]
        rows.append({"call": f"per video, all three dimensions, {frames} frames (ViCLIP pass once per dimension, "
                             "as VBench does)", "GFLOP": flops,
                     "cpu_s": 2 * viclip_dim + frames * clip_all + clip_text, "GFLOP_per_s": 0.0,
                     "gpu_ms_projected": flops / gpu * 1e3})
    load = os.getloadavg()
    record("vbench_semantic", rows, notes=(
        f"Full-size networks with random weights, {args.threads} thread(s); one uint8 video of 16x{args.size}x"
        f"{args.size}. ViCLIP video embedding: one call, not repeated; other rows best of 3 "
        "(CLIP frames best of 2), per frame where said. GFLOP: FlopCounterMode on meta-device copies of the same "
        "calls (matmul/conv/attention, 2 FLOP per multiply-add). gpu_ms_projected = GFLOP / assumed "
        f"{args.gpu_tflops} TFLOP/s sustained float32 (half an A100's 19.5 TFLOP/s peak; TF32 off): a projection, "
        f"not a measurement; preprocessing and decoding are left out of it. Building the random ViCLIP took "
        f"{build_viclip:.1f} s (not in the rows). Load average at the end: {tuple(round(x, 2) for x in load)}."))


if __name__ == "__main__":
    main()
