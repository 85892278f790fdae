"""The command-line options every evaluating command shares (`ucf101`, `metrics`), defined once.

Each `add_*` adds one group of options with one spelling, one default and one help text; `weight_paths` and
`extractor_factory` turn the weight options into what the engine (`runner.evaluation`) builds extractors with.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from lumiere_eval.cli_types import float_range, int_range
from lumiere_eval.limits import DEFAULT_MAX_SKIPPED_FRACTION, DEFAULT_MAX_VIDEO_MB
from lumiere_eval.metrics.registry import interval_methods_text

# weight option -> the extractor registry names it gives a local file for
WEIGHT_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "i3d": ("I3D (TorchScript, or i3d_pretrained_400.pt for the VideoGPT/TATS/cd-fvd/TF protocols)",
            ("i3d-torchscript", "i3d-native", "i3d-videogpt", "i3d-cdfvd")),
    "c3d": ("C3D TorchScript c3d_ucf101.pt (IS)", ("c3d-ucf101",)),
    "clip": ("CLIP checkpoint (ViT-B/32, CLIPSIM)", ("clip",)),
    "inception": ("pytorch-fid InceptionV3 weights (frame FID)", ("inception-fid",)),
    "videomae": ("VideoMAE-v2 vit_g_hybrid_pt_1200e_ssv2_ft.pth (cd-FVD)",
                 ("videomae-v2-g-ssv2", "videomae-v2-g-ssv2-fp16", "videomae-v2-g-ssv2-bf16")),
    "vjepa": ("V-JEPA vith16.pth.tar (JEDi)", ("vjepa-h16-ssv2", "vjepa-h16-ssv2-fp16", "vjepa-h16-ssv2-bf16")),
    "vjepa_probe": ("V-JEPA ViT-H/16 SSv2 probe (JEDi)", ("probe",)),
}
# VBench weight option -> the weight registry name it gives a local file for (`runner.vbench_tier`; background
# consistency reads CLIP ViT-B/32 from --clip)
VBENCH_WEIGHT_OPTIONS: dict[str, tuple[str, str]] = {
    "dino": ("DINO ViT-B/16 dino_vitbase16_pretrain.pth (VBench subject consistency)", "dino_vitb16"),
    "clip_l14": ("CLIP ViT-L/14 ViT-L-14.pt (VBench aesthetic quality)", "clip_vit_l14"),
    "aesthetic": ("LAION aesthetic head sa_0_4_vit_l_14_linear.pth (VBench aesthetic quality)", "laion_aesthetic_l14"),
    "musiq": ("MUSIQ musiq_spaq_ckpt-358bb6af.pth (VBench imaging quality)", "musiq_spaq"),
    "raft": ("RAFT raft-things.pth (VBench dynamic degree, static filter of temporal flickering)", "raft_things"),
    "amt": ("AMT-S amt-s.pth (VBench motion smoothness)", "amt_s"),
    "viclip": ("ViCLIP ViClip-InternVid-10M-FLT.pth (VBench overall consistency, temporal style)",
               "viclip_internvid_10m_flt"),
}


def add_metric_options(p: argparse.ArgumentParser, default_metrics: str) -> None:
    """--metrics, --list-metrics and the protocol of every protocol slot."""
    from lumiere_eval.metrics.protocols import (DEFAULT_FVD_PROTOCOL, DEFAULT_IS_PROTOCOL, FVD_PROTOCOLS, IS_PROTOCOLS,
                                                JEDI_PROTOCOLS)
    from lumiere_eval.runner.evaluation import ENGINE_METRICS, MOTION, VBENCH, VBENCH_METRICS

    p.add_argument("--metrics", default=default_metrics,
                   help=f"comma-separated subset of {', '.join((*ENGINE_METRICS, MOTION, VBENCH, *VBENCH_METRICS))} "
                        "(motion: the motion tier; vbench: every VBench dimension)")
    p.add_argument("--list-metrics", action="store_true",
                   help="print every metric with its direction, protocols and the weights it needs, and exit")
    p.add_argument("--protocol", dest="fvd_protocol", default=DEFAULT_FVD_PROTOCOL,
                   choices=sorted(n for n in FVD_PROTOCOLS if not n.startswith("cdfvd")),
                   help="FVD protocol (FVD, KVD, precision, recall, frame FID): sample count, clips, I3D, covariance")
    p.add_argument("--is-protocol", default=DEFAULT_IS_PROTOCOL, choices=sorted(IS_PROTOCOLS),
                   help="Inception Score protocol (C3D on UCF101)")
    p.add_argument("--cdfvd-protocol", default="cdfvd2048_16f",
                   choices=sorted(n for n in FVD_PROTOCOLS if n.startswith("cdfvd")),
                   help="cd-FVD protocol (VideoMAE-v2 ViT-g features; suffix _fp16/_bf16: network precision)")
    p.add_argument("--jedi-protocol", default="jedi5000_16f", choices=sorted(JEDI_PROTOCOLS),
                   help="JEDi protocol (V-JEPA ViT-H/16 + SSv2 pooler; suffix _fp16/_bf16: network precision)")
    p.add_argument("--clip-frames", type=int_range(1), default=None,
                   help="frames per video for CLIPSIM, uniform (default: the CLIP extractor's, 8)")
    p.add_argument("--fid-frames", type=int_range(0), default=0,
                   help="frames per clip for frame FID, uniform over the FVD clip (0: all of them)")


def add_override_options(p: argparse.ArgumentParser) -> None:
    """Changes to the registered protocols (a changed protocol is named `<name>+custom`, its id says what changed)."""
    p.add_argument("--real-clip", default=None,
                   help="clip of each real video: first|center|random<frames>s<stride>[seed<n>] (default: the "
                        "FVD protocol's)")
    p.add_argument("--fake-clip", default=None, help="clip of each generated video, same syntax")
    p.add_argument("--fvd-extractor", default=None, help="extractor for FVD/KVD features (default: the protocol's)")
    p.add_argument("--fvd-covariance", choices=("unbiased", "biased"), default=None,
                   help="unbiased (TF-GAN, pytorch-fid) or biased (StyleGAN-V); default: the protocol's")
    p.add_argument("--is-extractor", default=None, help="classifier for the Inception Score (default: the protocol's)")
    p.add_argument("--is-splits", type=int_range(1), default=None,
                   help="Inception Score splits (StyleGAN-V 10, TGAN 1); default: the IS protocol's")
    p.add_argument("--clip-extractor", default="clip", help="extractor for CLIP similarity")


def add_weight_options(p: argparse.ArgumentParser) -> None:
    """One local-weight-file option per network (--i3d, --c3d, --clip, --inception, --videomae, --vjepa, ...)."""
    for option, (what, _) in (*WEIGHT_OPTIONS.items(), *VBENCH_WEIGHT_OPTIONS.items()):
        p.add_argument(f"--{option.replace('_', '-')}", type=Path, default=None,
                       help=f"local {what}; default: the weight cache")


def add_interval_options(p: argparse.ArgumentParser) -> None:
    """--bootstrap and --fid-bootstrap."""
    p.add_argument("--bootstrap", type=int_range(0), default=200,
                   help="resamples for the 95%% intervals (0: none): "
                        f"{interval_methods_text().replace('%', '%%')}; percentile bootstrap for per-sample means")
    p.add_argument("--fid-bootstrap", type=int_range(0), default=0,
                   help="halves for the frame-FID interval (0: none); each half and its 20 halves (pooled-t) "
                        "recompute a 2048-d covariance")


def add_feature_options(p: argparse.ArgumentParser) -> None:
    """How the feature stage runs: device, block, cache, progress, and what happens to unusable videos."""
    from lumiere_eval.runner.features import FEATURE_BLOCK, GPU_FEATURE_BLOCK

    p.add_argument("--device", default=None, help="torch device: cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.add_argument("--feature-block", type=int_range(1), default=None,
                   help=f"videos per extractor forward pass, in fixed blocks (it changes float round-off, so it is "
                        f"part of the feature cache key and of a run's identity; default: {FEATURE_BLOCK} on the CPU, "
                        f"{GPU_FEATURE_BLOCK} on a GPU)")
    p.add_argument("--decode-workers", type=int_range(0), default=None,
                   help="processes decoding the next videos while the extractor runs (0: decode in this process; "
                        "default: the cores the extractor leaves free, at most 8); speed only, the numbers are the "
                        "same for any value")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="feature cache, shared by every command (default: $LUMIERE_EVAL_HOME/features)")
    p.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true", help="no progress bars")
    p.add_argument("--strict", action="store_true",
                   help="fail on any unusable video (unreadable, truncated, too short, too large, NaN features) "
                        "instead of skipping and listing it")
    p.add_argument("--max-video-mb", type=float_range(0, low_open=True), default=DEFAULT_MAX_VIDEO_MB,
                   help="decoded frames kept per video, in MB; a video needing more is skipped (or fails)")
    p.add_argument("--max-skipped-fraction", type=float_range(0, 1), default=DEFAULT_MAX_SKIPPED_FRACTION,
                   help="skipping more than this fraction of videos is flagged loudly in the result")


def feature_block(args: argparse.Namespace) -> int:
    """`--feature-block`, else the device's default (features.default_feature_block)."""
    from lumiere_eval.runner.features import default_feature_block

    return args.feature_block or default_feature_block(args.device)


def weight_paths(args: argparse.Namespace) -> dict[str, Path]:
    """Extractor registry name -> the local weight file given for it."""
    return {name: getattr(args, option) for option, (_, names) in WEIGHT_OPTIONS.items()
            for name in names if getattr(args, option, None)}


def vbench_weight_paths(args: argparse.Namespace) -> dict[str, Path]:
    """Weight registry name -> the local file given for a VBench dimension's network."""
    given = {name: getattr(args, option, None) for option, (_, name) in VBENCH_WEIGHT_OPTIONS.items()}
    return {name: path for name, path in {**given, "clip_vit_b32": getattr(args, "clip", None)}.items() if path}


def extractor_factory(weights: dict, device: str | None, batch_size: int, fetch_missing: bool = False,
                      timeout: float = 10.0):
    """`make_extractor(name, **options)` for `evaluation.plan_jobs`: the extractor on its local file from
    `weights` (else the weight cache; downloaded only when `fetch_missing`). The feature stage runs each block as
    one forward pass whatever the extractor's batch; `batch_size` (the feature block) sets the frame batches of
    per-frame work (CLIP frames, frame FID) the same way."""
    from lumiere_eval.extractors import create_extractor, extractor_class

    def make(name: str, **options):
        for option in getattr(extractor_class(name), "companion_weights", {}):
            if weights.get(option):  # e.g. V-JEPA's probe
                options.setdefault(option, weights[option])
        return create_extractor(name, weights.get(name), fetch_missing=fetch_missing, timeout=timeout,
                                device=device, batch_size=batch_size, **options)

    return make
