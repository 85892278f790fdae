"""The Space-Time U-Net's efficiency argument, measured at the shipped tiny size.

1. FLOPs and peak memory of one denoiser call on one video: STUNet (temporal down-sampling 16 -> 8 -> 4 frames)
   against the same inflated U-Net without temporal down-sampling, at 16, 32, 64 and 80 frames (16x16).
2. SSR (32x32, no temporal resampling) peak memory of one denoising step on the whole video against
   MultiDiffusion over windows of 8 frames with an overlap of 2, at the same lengths.
3. CPU sampling time per video of the shipped generators (if the checkpoints are shipped).

FLOPs come from torch.utils.flop_counter (2 per multiply-add; convolutions, matmuls, attention). Peak memory
is the growth of the process's maximum resident set size during the call, measured in a fresh process per
row (so each row's peak is its own); weights are built before the baseline is read.
Run: python benchmarks/bench_stunet.py [--skip-sampling]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record  # noqa: E402

LENGTHS = (16, 32, 64, 80)


def _config(name: str) -> dict:
    import json

    from lumiere_eval.assets import asset
    from lumiere_eval.datasets.synthetic import SyntheticDomain

    raw = json.loads(Path(str(asset("models", "lumiere-tiny", "configs", f"{name}.json"))).read_text())
    return {"vocab": SyntheticDomain().vocabulary(), **raw["model"]}, raw["data"]


def _measure(kind: str, frames: int, queue) -> None:
    """In a fresh process: build the model, then FLOPs, peak RSS growth and time of one call on one video."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from lumiere_eval.models.lumiere.multidiffusion import multidiffusion
    from lumiere_eval.models.lumiere.stunet import STUNet

    torch.set_num_threads(1)
    torch.manual_seed(0)
    if kind in ("stunet", "no-temporal-down"):
        t2i, data = _config("t2i")
        model = STUNet(t2i, temporal_resampling=kind == "stunet").eval()
        cond = None
    else:
        t2i, data = _config("ssr")
        model = STUNet(t2i, temporal_resampling=False).eval()
        cond = torch.randn(1, 3, frames, data["height"], data["width"])
    x = torch.randn(1, 3, frames, data["height"], data["width"])
    t = torch.tensor([0.5])
    tokens = model.t2i.text.tokenizer.encode(["a red square bouncing on a dark background"])
    if kind == "ssr-multidiffusion":
        call = multidiffusion(lambda xw, tw, w: model(xw, tw, tokens, cond[:, :, w]), window=8, overlap=2)
        run = lambda: call(x, t)   # noqa: E731
    else:
        run = lambda: model(x, t, tokens, cond)   # noqa: E731
    with torch.no_grad():
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with FlopCounterMode(display=False) as counter:
            run()
    queue.put({"model": kind, "frames": frames, "gflop_per_call": round(counter.get_total_flops() / 1e9, 2),
               "peak_rss_growth_mb": round((peak - base) / 1024, 1), "seconds_per_call": round(seconds, 3),
               "threads": torch.get_num_threads()})


def measure(kind: str, frames: int) -> dict:
    """Run `_measure` in a fresh spawned process and return its row."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(kind, frames, queue))
    proc.start()
    row = queue.get()
    proc.join()
    return row


def _threads(rows: list[dict]) -> int:
    """The one thread count the measuring child processes ran with."""
    counts = {row["threads"] for row in rows}
    if len(counts) != 1:
        raise RuntimeError(f"rows measured at different thread counts: {sorted(counts)}")
    return counts.pop()


def sampling_rows() -> list[dict]:
    """Seconds per 16-frame 32x32 video for the shipped generators with their default options."""
    import torch

    from lumiere_eval.models.base import create_generator
    from lumiere_eval.models.lumiere.checkpoint import CheckpointError

    torch.set_num_threads(1)
    rows = []
    for name in ("lumiere", "per-frame-t2i"):
        try:
            generator = create_generator(name)
        except CheckpointError as err:
            print(f"skipping sampling time of {name}: {err}")
            continue
        prompts = ["a red square moving left on a dark background", "a blue circle bouncing on a gray background"]
        start = time.perf_counter()
        generator.generate(prompts, [0, 1], 16, 8.0, 32, 32)
        rows.append({"model": name, "videos": 2, "seconds_per_video": round((time.perf_counter() - start) / 2, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-sampling", action="store_true", help="skip the sampling-time rows")
    args = parser.parse_args()
    rows = [measure(kind, n) for n in LENGTHS for kind in ("stunet", "no-temporal-down")]
    # the rows are measured in child processes: record their thread count, not this process's
    record("stunet_efficiency", rows, machine_extra={"torch_threads": _threads(rows)},
           notes="One denoiser call (no grad) on one video at 16x16, 1 thread. STUNet: temporal down-sampling "
           "after each spatial down-sampling (frames 16 -> 8 -> 4 for 16 input frames); no-temporal-down: the "
           "same inflated U-Net keeping all frames at every level. Peak memory = growth of max RSS during the "
           "call in a fresh process. Times are on a shared 2-core machine: indicative.")
    ssr = [measure(kind, n) for n in LENGTHS for kind in ("ssr-whole-video", "ssr-multidiffusion")]
    record("stunet_ssr_memory", ssr, machine_extra={"torch_threads": _threads(ssr)},
           notes="One SSR denoiser call (no grad) at 32x32 on one video: the whole video at once against "
           "MultiDiffusion over windows of 8 frames overlapping by 2 (windows run one after another).")
    if not args.skip_sampling:
        sampling = sampling_rows()
        if sampling:
            record("stunet_sampling", sampling, "Shipped generators, default options: 16 frames at 32x32, DDIM 20 base "
                   "steps with classifier-free guidance 3 (two passes per step) + 10 SSR steps without guidance "
                   "(MultiDiffusion windows of 8, overlap 2, for lumiere), batch of 2, 1 thread, shared machine.")


if __name__ == "__main__":
    main()
