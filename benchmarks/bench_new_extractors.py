"""cd-FVD and JEDi extractors on the CPU: clips/s of ours against the reference packages' networks in the same run.

- VideoMAE-v2 ViT-g/14 (cd-FVD): cd-fvd 0.1.1's `preprocess_videomae` + VisionTransformer.forward_features
  (what its `get_videomae_features` runs per batch) against our `unit_frames` + VideoMAEv2.forward_features.
- V-JEPA ViT-H/16 + SSv2 attentive pooler (JEDi): videojedi 1.1.0's `VJEPA.get_feats` (ImageNet Normalize,
  ClipAggregation over vjepa's VisionTransformer, the AttentiveClassifier's pooler) against our VJEPAFeatures.
Both sides share the same random weights (ours hold the reference's tensors: no second copy in memory), so the
run also states how far apart the features are at full size. The clips are 16 frames of 256x256 uint8; the
resize to 224x224 is inside the timed call for both sides. Each network is timed at full depth (one pass, one
clip by default: ViT-g is about 5 TFLOP per clip by the count below) and at reduced depth (same width and tokens, best
of 3, called alternately with the reference).

Run: nice -n 10 python benchmarks/bench_new_extractors.py [--threads 1] [--skip-full]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import types
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record  # noqa: E402

from lumiere_eval.extractors import videomae, vjepa  # noqa: E402
from lumiere_eval.extractors.vit import unit_frames  # noqa: E402


def vit_gflop(tokens: int, dim: int, hidden: int, depth: int, patch_inputs: int) -> float:
    """FLOP (2 per multiply-add) of a ViT pass over one clip: patch embedding, per block qkv + proj + MLP matmuls
    and the two attention products, in GFLOP."""
    per_block = 2 * tokens * (4 * dim * dim + 2 * dim * hidden) + 4 * tokens * tokens * dim
    return (2 * tokens * dim * patch_inputs + depth * per_block) / 1e9


def clips_uint8(n: int = 1, frames: int = 16, size: int = 256, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, frames, size, size, 3), dtype=np.uint8)


def race(reference, ours, repeats: int) -> tuple[float, object, float, object]:
    """Best wall time and last output of each of two calls, run alternately `repeats` times (so that a change
    of load on the shared machine hits both sides)."""
    times, outputs = ([], []), [None, None]
    for _ in range(repeats):
        for side, fn in enumerate((reference, ours)):
            start = time.perf_counter()
            outputs[side] = fn()
            times[side].append(time.perf_counter() - start)
    return min(times[0]), outputs[0], min(times[1]), outputs[1]


def videomae_rows(depth: int, repeats: int, label: str) -> list[dict]:
    from cdfvd.third_party.VideoMAEv2 import videomaev2_finetune as finetune
    from cdfvd.third_party.VideoMAEv2.utils import preprocess_videomae

    config = replace(videomae.VIT_G_SSV2, depth=depth)
    torch.manual_seed(0)
    start = time.perf_counter()
    # vit_giant_patch14_224's arguments, with the depth free
    reference = finetune.VisionTransformer(
        img_size=224, patch_size=14, num_classes=174, embed_dim=1408, depth=depth, num_heads=16, mlp_ratio=48 / 11,
        qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), all_frames=16, tubelet_size=2,
        use_mean_pooling=True).eval()
    build = time.perf_counter() - start
    ours = videomae.from_state_dict(reference.state_dict(), config)  # shares the reference's tensors
    videos = clips_uint8()
    with torch.inference_mode():
        ref_s, ref_out, our_s, our_out = race(
            lambda: reference.forward_features(preprocess_videomae(videos)),
            lambda: ours.forward_features(unit_frames(torch.from_numpy(videos), 224)), repeats)
    gflop = vit_gflop(config.tokens, 1408, config.mlp_hidden, depth, 3 * 2 * 14 * 14)
    diff = float((ref_out - our_out).abs().max())
    common = {"network": f"VideoMAE-v2 ViT-g/14 ({label}: depth {depth})", "GFLOP_per_clip": gflop,
              "max_abs_feature_diff": diff, "max_abs_feature": float(ref_out.abs().max())}
    del reference, ours
    return [{"implementation": "cd-fvd 0.1.1", **common, "s_per_clip": ref_s, "clips_per_s": 1 / ref_s,
             "GFLOP_per_s": gflop / ref_s, "build_s": build},
            {"implementation": "lumiere-eval", **common, "s_per_clip": our_s, "clips_per_s": 1 / our_s,
             "GFLOP_per_s": gflop / our_s, "build_s": 0.0}]


def vjepa_rows(depth: int, repeats: int, label: str) -> list[dict]:
    from videojedi import V_JEPA
    from vjepa.models.attentive_pooler import AttentiveClassifier
    from vjepa.models.vision_transformer import VisionTransformer
    import vjepa.datasets.utils.video.transforms as video_transforms

    config = replace(vjepa.VIT_H16, depth=depth)
    torch.manual_seed(0)
    start = time.perf_counter()
    # vit_huge's arguments, with the depth free
    encoder = VisionTransformer(img_size=224, patch_size=16, num_frames=16, tubelet_size=2, embed_dim=1280,
                                depth=depth, num_heads=16, mlp_ratio=4, qkv_bias=True,
                                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), uniform_power=True, use_sdpa=True)
    classifier = AttentiveClassifier(embed_dim=1280, num_heads=16, depth=1, num_classes=174)
    build = time.perf_counter() - start
    scorer = V_JEPA.VJEPA.__new__(V_JEPA.VJEPA)  # its __init__ downloads weights and a config
    scorer.encoder = V_JEPA.ClipAggregation(encoder.eval(), tubelet_size=2, attend_across_segments=True).eval()
    scorer.classifier = types.SimpleNamespace(module=classifier.eval())
    scorer.transforms = video_transforms.Normalize(mean=vjepa.IMAGENET_MEAN, std=vjepa.IMAGENET_STD)
    scorer.finetuned = True
    ours = vjepa.VJEPAFeatures(vjepa.from_state_dict(vjepa.VJEPAEncoder, encoder.state_dict(), config),
                               vjepa.from_state_dict(vjepa.AttentiveProbe, classifier.state_dict(), config))
    videos = clips_uint8()
    with torch.inference_mode():
        # videojedi takes b t c h w in [0, 1] at the size it is given: the same resize as ours, inside the timing
        ref_s, ref_out, our_s, our_out = race(
            lambda: scorer.get_feats(unit_frames(torch.from_numpy(videos), 224).permute(0, 2, 1, 3, 4)),
            lambda: ours(unit_frames(torch.from_numpy(videos), 224)), repeats)
    tokens = 8 * 14 * 14
    gflop = vit_gflop(tokens, 1280, 5120, depth, 3 * 2 * 16 * 16)
    diff = float(np.abs(ref_out - our_out.numpy()).max())
    common = {"network": f"V-JEPA ViT-H/16 + SSv2 pooler ({label}: depth {depth})", "GFLOP_per_clip": gflop,
              "max_abs_feature_diff": diff, "max_abs_feature": float(np.abs(ref_out).max())}
    return [{"implementation": "videojedi 1.1.0 (vjepa 0.1.2)", **common, "s_per_clip": ref_s,
             "clips_per_s": 1 / ref_s, "GFLOP_per_s": gflop / ref_s, "build_s": build},
            {"implementation": "lumiere-eval", **common, "s_per_clip": our_s, "clips_per_s": 1 / our_s,
             "GFLOP_per_s": gflop / our_s, "build_s": 0.0}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared).")
    parser.add_argument("--reduced-depth", type=int, default=4, help="Blocks of the reduced-depth runs.")
    parser.add_argument("--skip-full", action="store_true", help="Only the reduced-depth runs.")
    parser.add_argument("--full-repeats", type=int, default=1, help="Calls per side at full depth (best kept).")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for rows_of in (videomae_rows, vjepa_rows):
        rows += rows_of(args.reduced_depth, 3, "reduced")
        print(rows[-2:], flush=True)
        if not args.skip_full:
            rows += rows_of(40 if rows_of is videomae_rows else 32, args.full_repeats, "full")
            print(rows[-2:], flush=True)
    notes = (f"One clip of 16x256x256 uint8 per call (resized to 224x224 inside the call), random weights shared by "
             f"both implementations, {args.threads} thread(s); reduced depth: best of 3 calls, full depth: best of "
             f"{args.full_repeats}; reference and ours called alternately. "
             "GFLOP per clip counted analytically (patch embedding, qkv/proj/MLP matmuls, both attention products; "
             "2 FLOP per multiply-add). build_s: constructing the reference network with its random initialisation "
             "(ours load tensors into a network built on the meta device: no initialisation). The machine is shared "
             f"with other jobs; load average at the end: {tuple(round(x, 2) for x in os.getloadavg())}.")
    record("new_extractors", rows, notes, machine_extra={"torch_threads": args.threads})


if __name__ == "__main__":
    main()
