"""The Space-Time U-Net's efficiency argument on a diffusers UNet2DConditionModel (lumiere-sd).

One denoiser call (no grad, one video, one text) at 16, 32 and 80 frames: the U-Net inflated with temporal
down-sampling (STUNet: after each of its spatial down-samplers) against the same U-Net inflated without
(every level keeps every frame, as in video models that never down-sample time). Reported per row: GFLOP
(torch.utils.flop_counter: convolutions, matmuls, attention), peak memory and wall time of the call.

Architectures (random weights, same cost as trained ones; nothing is downloaded):
- `small` (default, CPU): the Stable Diffusion 1.5 layout (4 levels, 3 spatial down-samplers, cross-attention
  at the first three, 2 resnets per level) at widths 32/64/64/64, 32x32 latents (256x256 pixels).
- `sd15`: the Stable Diffusion 1.5 U-Net config (320/640/1280/1280, 768-d text, 64x64 latents = 512x512);
  meant for a GPU: `python benchmarks/bench_lumiere_sd.py --arch sd15 --device cuda`.
Time: the best of 3 calls after the first. Peak memory (of the first call): on CPU the growth of the process's max RSS during the call, each row in a fresh process; on
CUDA torch.cuda.max_memory_allocated above the weights. Results: benchmarks/results/lumiere_sd_<arch>_<device>.md
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, record  # noqa: E402

LENGTHS = (16, 32, 80)
ARCHS = {
    "small": dict(block_out_channels=(32, 64, 64, 64), cross_attention_dim=32, attention_head_dim=8,
                  norm_num_groups=8, sample_size=32),
    "sd15": dict(block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
                 norm_num_groups=32, sample_size=64),
}


def build_unet(arch: str):
    """A randomly initialised UNet2DConditionModel in the SD-1.5 layout at the widths of `arch`."""
    from diffusers import UNet2DConditionModel
    return UNet2DConditionModel(
        in_channels=4, out_channels=4, layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, **ARCHS[arch]).eval()


def _measure(arch: str, kind: str, frames: int, device: str, threads: int, queue) -> None:
    """In a fresh process: build, then FLOPs, peak memory growth and time of one call on one video."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from lumiere_eval.models.lumiere_sd.inflate import inflate

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    unet = build_unet(arch)
    model = inflate(unet, temporal_resampling=kind == "stunet").to(device, dtype)
    side, text_dim = ARCHS[arch]["sample_size"], ARCHS[arch]["cross_attention_dim"]
    x = torch.randn(1, 4, frames, side, side, device=device, dtype=dtype)
    text = torch.randn(1, 77, text_dim, device=device, dtype=dtype)
    t = torch.tensor([500], device=device)
    with torch.no_grad():
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        model(x, t, text)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        seconds = best_time(lambda: (model(x, t, text), torch.cuda.synchronize() if device.startswith("cuda")
                                     else None), repeats=3)
        with FlopCounterMode(display=False) as counter:
            model(x, t, text)
    queue.put({"arch": arch, "model": kind, "frames": frames, "coarsest_frames": frames // model.frame_multiple,
               "gflop_per_call": round(counter.get_total_flops() / 1e9, 1),
               "peak_memory_growth_mb": round((peak - base) / 2 ** 20, 1), "seconds_per_call": round(seconds, 2),
               "device": device, "threads": torch.get_num_threads()})


def measure(arch: str, kind: str, frames: int, device: str, threads: int) -> dict:
    """Run `_measure` in a fresh spawned process and return its row."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(arch, kind, frames, device, threads, queue))
    proc.start()
    row = queue.get()
    proc.join()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(ARCHS), default="small", help="U-Net widths (see above)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:k] (fp16 on CUDA)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of the measuring processes")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)), help="frame counts, comma-separated")
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    rows = [measure(args.arch, kind, n, args.device, args.threads) for n in lengths
            for kind in ("stunet", "no-temporal-down")]
    device_name = args.device.replace(":", "")
    threads = {row["threads"] for row in rows}.pop()
    record(f"lumiere_sd_{args.arch}_{device_name}", rows, machine_extra={"torch_threads": threads},
           notes=f"One denoiser call (no grad) of a UNet2DConditionModel in the SD-1.5 layout ({args.arch}: widths "
           f"{ARCHS[args.arch]['block_out_channels']}, {ARCHS[args.arch]['sample_size']}x"
           f"{ARCHS[args.arch]['sample_size']} latents, 77 text tokens) inflated by lumiere_sd.inflate, random "
           f"weights, one video, on {args.device}. stunet: temporal down-sampling after each of the 3 spatial "
           f"down-samplers (frames / 8 at the coarsest level); no-temporal-down: the same inflation keeping every "
           f"frame at every level. Peak memory: growth during the call (CPU: max RSS, fresh process per row; CUDA: "
           f"max allocated above the weights). Times on a shared machine are indicative; FLOPs are not affected.")


if __name__ == "__main__":
    main()
