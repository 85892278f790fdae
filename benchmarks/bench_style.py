"""Stylized generation measured: does the style show, and does the action stay recognisable, as alpha grows?

1. A tiny frame classifier, styled ("sketch") vs plain, trained here on rendered 16x16 frames of the train split
   (seeded, a few seconds; Gaussian noise added to its training frames so that sampling noise is not read as
   style); its accuracy on held-out test-split frames is reported.
2. The shipped base STUNet (stunet.pt) blended with the shipped style U-Net (t2i-sketch.pt) by style.stylize at
   alpha in {0 (plain), 0.5, 0.75, 1}; the same prompts (test-split captions, `--per-class` per class) and the
   same seeds at every alpha; DDIM 20 steps, guidance 3, 16 frames of 16x16 (the base stage, no SSR).
3. Per alpha: the style score (classifier probability of "styled", mean over frames and videos), the share of
   videos scored styled (> 0.5), the mean pixel value (model-free: sketch frames are light); the action class
   against the prompt's class by (a) the shipped in-domain classifier (`synthetic-c3d`, the network behind
   `synthetic-i3d`; its input protocol resizes the 16x16 frames to 32x32 bilinearly), trained on plain clips
   only, and (b) the same architecture trained here (seeded, ~20 s) at 16x16 on the train split in both looks,
   plain and styled, so that it reads the motion whatever the look; and the model-free direction check
   (motion_check) on the direction prompts. The same figures on the real test clips, plain and in the style,
   are the references (the ceilings to compare samples with). Ablation rows: alpha 0.75 and 1 with the
   text encoder blended too (what stylize did before it kept the text encoder, which the temporal
   cross-attention reads).
Writes benchmarks/results/style.md/.json and the sample grid models/lumiere-tiny/samples_style.gif
(rows: real plain, real sketch, then alpha 0, 0.5, 0.75, 1; one prompt per column, the first `--gif-columns`).
Run: nice -n 10 python benchmarks/bench_style.py [--per-class 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record  # noqa: E402

from lumiere_eval.datasets.synthetic import CLASSES, SyntheticDomain  # noqa: E402

STYLE = "sketch"
ALPHAS = (0.0, 0.5, 0.75, 1.0)
TEXT_BLENDED_ALPHAS = (0.75, 1.0)   # ablation: the text encoder blended as well
SIZE, FRAMES = 16, 16


def frames_tensor(videos: np.ndarray) -> torch.Tensor:
    """uint8 [..., h, w, 3] -> float [n, 3, h, w] in [-1, 1] (every frame one row)."""
    flat = torch.from_numpy(np.ascontiguousarray(videos)).reshape(-1, SIZE, SIZE, 3)
    return flat.permute(0, 3, 1, 2).float() / 127.5 - 1


def style_classifier() -> nn.Module:
    """Two strided convolutions, global average pooling, one logit ("styled")."""
    return nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.SiLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.SiLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 1))


def style_frames(split: str, frames_per_clip: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`frames_per_clip` random frames of every clip of `split`, plain (label 0) and styled (label 1)."""
    plain, styled = SyntheticDomain(SIZE, SIZE, FRAMES), SyntheticDomain(SIZE, SIZE, FRAMES, style=STYLE)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for index in range(plain.split_size(split)):
        pick = rng.choice(FRAMES, frames_per_clip, replace=False)
        for label, domain in ((0.0, plain), (1.0, styled)):
            xs.append(domain.sample(index, split)[0][pick])
            ys += [label] * frames_per_clip
    return frames_tensor(np.stack(xs)), torch.tensor(ys)


def train_style_classifier(seed: int = 0, steps: int = 400) -> tuple[nn.Module, float, float]:
    """(classifier, held-out accuracy on test-split frames, training seconds)."""
    start = time.perf_counter()
    x, y = style_frames("train", 2, seed)
    torch.manual_seed(seed)
    model = style_classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randint(len(x), (64,), generator=g)
        sigma = 0.1 * torch.rand(64, 1, 1, 1, generator=g)
        noisy = x[batch] + sigma * torch.randn(x[batch].shape, generator=g)
        loss = nn.functional.binary_cross_entropy_with_logits(model(noisy)[:, 0], y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    xt, yt = style_frames("test", 1, seed + 1)
    with torch.no_grad():
        accuracy = float(((model.eval()(xt)[:, 0] > 0).float() == yt).float().mean())
    return model, accuracy, seconds


def train_action_classifier(seed: int = 0, steps: int = 600) -> tuple[nn.Module, dict[str, float], float]:
    """The in-domain classifier's architecture at 16x16 trained on train-split clips plain and styled (AdamW,
    cosine learning rate, noise up to 0.1 added): (model, held-out accuracy per look, training seconds)."""
    import math

    from lumiere_eval.extractors.in_domain.networks import VideoClassifier, to_model_input

    def clips(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for style in (None, STYLE):
            domain = SyntheticDomain(SIZE, SIZE, FRAMES, style=style)
            for index in range(domain.split_size(split)):
                frames, label, _ = domain.sample(index, split)
                xs.append(frames)
                ys.append(label)
        return to_model_input(torch.from_numpy(np.stack(xs)), FRAMES, SIZE), torch.tensor(ys)

    start = time.perf_counter()
    x, y = clips("train")
    torch.manual_seed(seed)
    model = VideoClassifier(len(CLASSES), num_frames=FRAMES, size=SIZE)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        batch = torch.randint(len(x), (32,), generator=g)
        noisy = x[batch] + 0.1 * torch.rand(32, 1, 1, 1, 1, generator=g) * torch.randn(x[batch].shape, generator=g)
        loss = nn.functional.cross_entropy(model(noisy), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    xt, yt = clips("test")
    with torch.no_grad():
        right = (model.eval()(xt).argmax(1) == yt).float()
    half = len(yt) // 2
    return model, {"plain": float(right[:half].mean()), STYLE: float(right[half:].mean())}, seconds


def prompt_specs(per_class: int) -> list:
    """`per_class` test-split clips of every class, each from its own group (appearance varies)."""
    domain = SyntheticDomain(SIZE, SIZE, FRAMES)
    per_label = len(domain.split_groups("test")) * domain.clips_per_group
    return [domain.spec(label * per_label + group * domain.clips_per_group, "test")
            for group in range(per_class) for label in range(len(CLASSES))]


def measure(videos: np.ndarray, labels: list[int], style_model: nn.Module, shipped_action, action: nn.Module
            ) -> dict:
    """Style score, styled share, mean pixel, action accuracies (shipped plain-trained classifier; classifier
    trained on both looks) and direction accuracy of uint8 videos [n, t, h, w, 3]."""
    from lumiere_eval.extractors.in_domain.networks import to_model_input
    from lumiere_eval.training.motion_check import DIRECTIONS, direction_of

    with torch.no_grad():
        p = torch.sigmoid(style_model(frames_tensor(videos))[:, 0]).reshape(len(videos), -1).mean(1).numpy()
        both = action(to_model_input(torch.from_numpy(videos), FRAMES, SIZE)).argmax(1).numpy()
    shipped = shipped_action.extract(videos).argmax(1)
    labels = np.asarray(labels)
    directions = [(direction_of(v) == CLASSES[label]) for v, label in zip(videos, labels)
                  if CLASSES[label] in DIRECTIONS]
    return {"videos": len(videos), "style_score": float(p.mean()), "styled_share": float((p > 0.5).mean()),
            "mean_pixel": float(videos.mean()), "action_c3d_plain_trained": float((shipped == labels).mean()),
            "action_both_looks": float((both == labels).mean()),
            "direction_accuracy": float(np.mean(directions))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=3, help="prompts per action class (1..7)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--batch", type=int, default=6, help="videos sampled per denoiser call")
    parser.add_argument("--gif-columns", type=int, default=12, help="prompts shown in the sample GIF")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from lumiere_eval.assets import asset
    from lumiere_eval.extractors import create_extractor
    from lumiere_eval.models.lumiere.checkpoint import load_model, read_meta
    from lumiere_eval.models.lumiere.generators import sample_videos
    from lumiere_eval.training.lumiere_recipe import grid
    from lumiere_eval.models.lumiere.style import load_style_t2i, style_checkpoint, stylize
    from lumiere_eval.models.lumiere.frames import to_uint8
    from lumiere_eval.datasets.synthetic import render
    from lumiere_eval.video import write_video

    style_model, style_accuracy, style_seconds = train_style_classifier()
    print(f"style classifier: held-out frame accuracy {style_accuracy:.4f} ({style_seconds:.1f} s to train)")
    action, action_accuracy, action_seconds = train_action_classifier()
    print(f"action classifier (both looks): held-out accuracy {action_accuracy} ({action_seconds:.1f} s to train)")
    shipped_action = create_extractor("synthetic-c3d", fetch_missing=False, device="cpu", batch_size=32)
    specs = prompt_specs(args.per_class)
    labels, prompts = [s.label for s in specs], [s.caption for s in specs]

    rows, gif_rows = [], []
    for name, style in (("real plain", None), (f"real {STYLE}", STYLE)):
        real = np.stack([render(s, SIZE, SIZE, FRAMES, style) for s in specs])
        scores = measure(real, labels, style_model, shipped_action, action)
        rows.append({"videos_of": name, "alpha": "-", "text_encoder": "-", **scores, "seconds_per_video": "-"})
        gif_rows.append(real[:args.gif_columns])
    base_path = Path(str(asset("models", "lumiere-tiny", "stunet.pt")))
    base, base_meta = load_model(base_path), read_meta(base_path)
    style_t2i, style_meta = load_style_t2i(STYLE), read_meta(style_checkpoint(STYLE))
    for alpha, text_blended in [(a, False) for a in ALPHAS] + [(a, True) for a in TEXT_BLENDED_ALPHAS]:
        model = stylize(base, style_t2i, alpha)   # keeps the text encoder
        if text_blended:
            style_text = style_t2i.text.state_dict()
            with torch.no_grad():
                for name, weight in model.t2i.text.state_dict().items():
                    weight.copy_(alpha * style_text[name] + (1 - alpha) * weight)
        start = time.perf_counter()
        chunks = []
        for i in range(0, len(prompts), args.batch):
            gens = [torch.Generator().manual_seed(seed) for seed in range(i, min(i + args.batch, len(prompts)))]
            chunks.append(to_uint8(sample_videos(model, prompts[i:i + args.batch], gens, (3, FRAMES, SIZE, SIZE),
                                                 20, 3.0, "ddim")))
        seconds = (time.perf_counter() - start) / len(prompts)
        videos = np.concatenate(chunks)
        scores = measure(videos, labels, style_model, shipped_action, action)
        rows.append({"videos_of": "stunet stylized", "alpha": alpha,
                     "text_encoder": "blended" if text_blended else "original", **scores, "seconds_per_video": seconds})
        if not text_blended:
            gif_rows.append(videos[:args.gif_columns])
        print(rows[-1])
    columns = min(args.gif_columns, len(prompts))
    write_video(Path(str(asset("models", "lumiere-tiny", "samples_style.gif"))),
                grid([v for row in gif_rows for v in row], columns=columns, scale=2), 8)
    notes = (f"Style '{STYLE}' ({style_checkpoint(STYLE).name}, {style_meta['steps']} steps, sha256 "
             f"{style_meta['sha256'][:12]}) blended into the shipped stunet.pt ({base_meta['steps']} steps, sha256 "
             f"{base_meta['sha256'][:12]}): "
             f"W = alpha * W_style + (1 - alpha) * W_orig on the T2I U-Net's weights, text encoder and temporal "
             f"layers unchanged (style.stylize); rows with text_encoder 'blended' are an ablation that blends the "
             f"text encoder too (stylize's behaviour before; the temporal layers read its output). "
             f"{len(prompts)} test-split captions ({args.per_class} per class), seeds 0.."
             f"{len(prompts) - 1} at every alpha; DDIM 20 steps, guidance 3, {FRAMES} frames of {SIZE}x{SIZE}, "
             f"{args.threads} thread(s), shared machine. style_score: mean P(styled) of a frame classifier trained "
             f"here (held-out frame accuracy {style_accuracy:.4f}, {style_seconds:.1f} s); styled_share: videos "
             f"with mean P > 0.5; mean_pixel: 0..255. action_c3d_plain_trained: synthetic-c3d (trained on "
             f"plain clips only; 16x16 frames resized to 32x32 bilinearly by its input protocol) argmax = prompt "
             f"class; action_both_looks: the same architecture trained here at 16x16 on plain and styled clips "
             f"(held-out accuracy plain {action_accuracy['plain']:.4f}, {STYLE} {action_accuracy[STYLE]:.4f}, "
             f"{action_seconds:.1f} s); chance 1/12. direction_accuracy: motion_check on the "
             f"{4 * args.per_class} direction prompts, chance 1/4. "
             f"Sample grid: lumiere_eval/assets/models/lumiere-tiny/samples_style.gif (rows: real plain, real "
             f"{STYLE}, alpha {', '.join(map(str, ALPHAS))}).")
    record("style", rows, notes)


if __name__ == "__main__":
    main()
