"""Lumiere's applications, measured on the shipped tiny model and held-out clips of the synthetic domain.

    python benchmarks/bench_applications.py [--per-task 24] [--threads 2]

Each conditional task is compared with the obvious alternative, the plain text-to-video `lumiere` with the same
prompt and seed (it sees no image, video or mask):
- image-to-video: PSNR of the first frame against the input image; prompted class recognised (in-domain
  classifier);
- inpainting (a 12x12 box) and outpainting (a 6-pixel border) at 32x32: error in the kept region (PSNR), and a
  seam measure: the mean absolute step between horizontally or vertically adjacent pixels that straddle the mask
  border, divided by the same on the real video (1 = as smooth as the real video); for the raw output and for the
  output with the known pixels pasted back;
- cinemagraph (the centre 16x16 animated): mean absolute change from the first frame, outside and inside the
  animated region, against image-to-video of the same image and the real clip;
- SDEdit: a clip moving one way edited with the prompt of the opposite direction, at several strengths: distance
  to the input, and how often the classifier sees the new direction or the old one.
Writes benchmarks/results/applications.{md,json} and models/lumiere-tiny/samples_applications.gif.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from lumiere_eval.models.base import create_generator
from lumiere_eval.models.lumiere.applications import TaskInputs, create_task_generator
from lumiere_eval.protocols.synthetic import CLASS_PHRASES, CLASSES, SyntheticDomain

SIZE, FRAMES, FPS = 32, 16, 8.0
RESULTS = Path(__file__).parent / "results"
OPPOSITE = {"MoveLeft": "MoveRight", "MoveRight": "MoveLeft", "MoveUp": "MoveDown", "MoveDown": "MoveUp"}


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """PSNR in dB between uint8 arrays, over the pixels where `where` (broadcast over channels) is true."""
    diff = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if where is not None:
        diff = diff[np.broadcast_to(where[..., None], diff.shape)]
    return float(10 * np.log10(255.0 ** 2 / max(diff.mean(), 1e-10)))


def seam(video: np.ndarray, keep: np.ndarray) -> float:
    """Mean absolute step between adjacent pixels on opposite sides of the mask border ([T, H, W, 3], [H, W])."""
    v = video.astype(np.float64)
    steps = []
    for axis in (1, 2):
        cross = np.diff(keep.astype(np.int8), axis=axis - 1) != 0          # pairs straddling the border
        step = np.abs(np.diff(v, axis=axis)).mean(-1)                       # [T, H', W']
        steps.append(step[:, cross])
    return float(np.concatenate(steps, axis=1).mean())


def clips_of(domain: SyntheticDomain, classes: list[str], count: int) -> list[tuple[np.ndarray, int, str]]:
    """`count` held-out clips cycling over `classes`, different groups and clips each time."""
    per_class = len(domain.split_groups("test")) * domain.clips_per_group
    out = []
    for i in range(count):
        label = CLASSES.index(classes[i % len(classes)])
        out.append(domain.sample(label * per_class + (i // len(classes) * 5) % per_class, "test"))
    return out


def recognised(classifier, videos: list[np.ndarray], labels: list[int]) -> float:
    """Fraction of videos the in-domain classifier assigns to `labels`."""
    probs = classifier.extract(np.stack(videos))
    return float((probs.argmax(1) == np.asarray(labels)).mean())


def run_task(task: str, clip: np.ndarray, caption: str, seed: int, inputs: TaskInputs, options: dict) -> np.ndarray:
    generator = create_task_generator(task, inputs, FRAMES, SIZE, SIZE, **options)
    return generator.generate([caption], [seed], FRAMES, FPS, SIZE, SIZE)[0].frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-task", type=int, default=24, help="clips per task")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--checkpoint-dir", type=str, default=None, help="checkpoints (default: the shipped ones)")
    parser.add_argument("--strengths", type=str, default="0.4,0.6,0.8,1.0", help="SDEdit strengths")
    parser.add_argument("--out", type=Path, default=RESULTS / "applications", help="results path without suffix")
    parser.add_argument("--gif", type=Path, default=None, help="sample grid (default: the model card's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from lumiere_eval.extractors import create_extractor
    from lumiere_eval.models.lumiere.recipe import grid
    from lumiere_eval.video import write_video

    classifier = create_extractor("synthetic-c3d", fetch_missing=False, device="cpu", batch_size=32)
    options = {"checkpoint_dir": args.checkpoint_dir, "batch_size": 1}
    t2v = create_generator("lumiere", **options)
    domain = SyntheticDomain(SIZE, SIZE, FRAMES)
    n = args.per_task
    results: dict = {"per_task": n, "threads": args.threads, "size": [FRAMES, SIZE, SIZE]}
    samples: dict[str, list[np.ndarray]] = {}
    started = time.perf_counter()

    def baseline(caption: str, seed: int) -> np.ndarray:
        return t2v.generate([caption], [seed], FRAMES, FPS, SIZE, SIZE)[0].frames

    # image-to-video
    clips = clips_of(domain, list(CLASSES), n)
    i2v, plain = [], []
    for i, (clip, _, caption) in enumerate(clips):
        i2v.append(run_task("i2v", clip, caption, i, TaskInputs(image=clip[0]), options))
        plain.append(baseline(caption, i))
    labels = [label for _, label, _ in clips]
    results["i2v"] = {
        "first_frame_psnr_db": float(np.mean([psnr(v[0], c[0]) for v, (c, _, _) in zip(i2v, clips)])),
        "t2v_first_frame_psnr_db": float(np.mean([psnr(v[0], c[0]) for v, (c, _, _) in zip(plain, clips)])),
        "class_recognised": recognised(classifier, i2v, labels),
        "t2v_class_recognised": recognised(classifier, plain, labels)}
    samples["i2v"] = [np.concatenate([np.repeat(c[:1], FRAMES, 0), v], 2) for v, (c, _, _) in zip(i2v[:4], clips)]
    print("i2v", results["i2v"], flush=True)

    # inpainting and outpainting
    rng = np.random.default_rng(0)
    for task in ("inpaint", "outpaint"):
        rows = {"kept_psnr_db": [], "t2v_kept_psnr_db": [], "seam_ratio": [], "seam_ratio_pasted": [],
                "t2v_seam_ratio_pasted": [], "filled_psnr_db": []}
        shown = []
        for i, (clip, _, caption) in enumerate(clips):
            region = np.zeros((SIZE, SIZE), bool)
            if task == "inpaint":
                top, left = rng.integers(4, SIZE - 16, size=2)
                region[top:top + 12, left:left + 12] = True
                inputs = TaskInputs(video=clip, mask=region)
            else:
                region[:] = True
                region[6:-6, 6:-6] = False
                inputs = TaskInputs(video=clip, border=6)
            keep = ~region
            out = run_task(task, clip, caption, i, inputs, options)
            base = plain[i]
            pasted, base_pasted = (np.where(keep[None, ..., None], clip, v) for v in (out, base))
            real_seam = seam(clip, keep)
            rows["kept_psnr_db"].append(psnr(out, clip, np.broadcast_to(keep, clip.shape[:3])))
            rows["t2v_kept_psnr_db"].append(psnr(base, clip, np.broadcast_to(keep, clip.shape[:3])))
            rows["filled_psnr_db"].append(psnr(out, clip, np.broadcast_to(region, clip.shape[:3])))
            rows["seam_ratio"].append(seam(out, keep) / real_seam)
            rows["seam_ratio_pasted"].append(seam(pasted, keep) / real_seam)
            rows["t2v_seam_ratio_pasted"].append(seam(base_pasted, keep) / real_seam)
            if i < 4:
                shown.append(np.concatenate([np.where(keep[None, ..., None], clip, 128).astype(np.uint8), out], 2))
        results[task] = {k: float(np.mean(v)) for k, v in rows.items()}
        samples[task] = shown
        print(task, results[task], flush=True)

    # cinemagraphs: the same image animated only inside the centre 16x16, against image-to-video of that image
    # (conditioned on the first frame only, free to move everywhere) and the real clip
    region = np.zeros((SIZE, SIZE), bool)
    region[8:24, 8:24] = True
    motion: dict[str, list[float]] = {f"{k}_{w}": [] for k in ("cinemagraph", "i2v", "real")
                                      for w in ("outside", "inside")}
    shown = []
    for i, (clip, _, caption) in enumerate(clips):
        out = run_task("cinemagraph", clip, caption, i, TaskInputs(image=clip[0], mask=region), options)
        for name, video in (("cinemagraph", out), ("i2v", i2v[i]), ("real", clip)):
            change = np.abs(video.astype(np.float64) - video[:1]).mean(-1)     # [T, H, W]
            motion[f"{name}_outside"].append(float(change[:, ~region].mean()))
            motion[f"{name}_inside"].append(float(change[:, region].mean()))
        if i < 4:
            shown.append(np.concatenate([np.repeat(clip[:1], FRAMES, 0), out], 2))
    results["cinemagraph"] = {f"mean_abs_change_{k}": float(np.mean(v)) for k, v in motion.items()}
    samples["cinemagraph"] = shown
    print("cinemagraph", results["cinemagraph"], flush=True)

    # SDEdit
    moving = clips_of(domain, list(OPPOSITE), max(4, n // 2))
    edits = {}
    for strength in [float(s) for s in args.strengths.split(",")]:
        outs, new_labels, old_labels = [], [], []
        for i, (clip, label, caption) in enumerate(moving):
            new_class = OPPOSITE[CLASSES[label]]
            prompt = caption.replace(CLASS_PHRASES[CLASSES[label]], CLASS_PHRASES[new_class])
            generator = create_task_generator("edit", TaskInputs(video=clip), FRAMES, SIZE, SIZE,
                                              strength=strength, **options)
            outs.append(generator.generate([prompt], [i], FRAMES, FPS, SIZE, SIZE)[0].frames)
            new_labels.append(CLASSES.index(new_class))
            old_labels.append(label)
        edits[str(strength)] = {
            "mean_abs_diff_to_input": float(np.mean([np.abs(o.astype(np.float64) - c).mean()
                                                     for o, (c, _, _) in zip(outs, moving)])),
            "new_direction_recognised": recognised(classifier, outs, new_labels),
            "old_direction_recognised": recognised(classifier, outs, old_labels)}
        if strength == 0.6 or "edit" not in samples:
            samples["edit"] = [np.concatenate([c, o], 2) for o, (c, _, _) in zip(outs[:4], moving)]
        print("edit", strength, edits[str(strength)], flush=True)
    results["edit"] = {"clips": len(moving), "by_strength": edits}
    results["seconds"] = round(time.perf_counter() - started, 1)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(report(results))
    gif = args.gif
    if gif is None:
        from lumiere_eval.assets import asset
        gif = Path(str(asset("models", "lumiere-tiny"))) / "samples_applications.gif"
    rows = [v for task in ("i2v", "inpaint", "outpaint", "cinemagraph", "edit") for v in samples[task]]
    write_video(gif, grid(rows, columns=4, scale=2), FPS)
    print(args.out.with_suffix(".md").read_text())


def report(r: dict) -> str:
    """The markdown table of the measurements."""
    i2v, ci = r["i2v"], r["cinemagraph"]
    lines = [f"# Lumiere's applications on the tiny model ({r['per_task']} held-out clips per task, "
             f"{r['size'][0]} frames of {r['size'][1]}x{r['size'][2]}, {r['threads']} threads, {r['seconds']} s)", "",
             "Each task against the plain text-to-video `lumiere` with the same prompt and seed "
             "(`python benchmarks/bench_applications.py`).", "",
             "| image-to-video | conditional | t2v |", "|---|---|---|",
             f"| first-frame PSNR vs the input image (dB) | {i2v['first_frame_psnr_db']:.2f} | "
             f"{i2v['t2v_first_frame_psnr_db']:.2f} |",
             f"| prompted class recognised | {i2v['class_recognised']:.3f} | {i2v['t2v_class_recognised']:.3f} |", ""]
    for task in ("inpaint", "outpaint"):
        t = r[task]
        lines += [f"| {task} | conditional | t2v |", "|---|---|---|",
                  f"| kept-region PSNR (dB) | {t['kept_psnr_db']:.2f} | {t['t2v_kept_psnr_db']:.2f} |",
                  f"| filled-region PSNR vs the real clip (dB) | {t['filled_psnr_db']:.2f} | |",
                  f"| seam ratio, raw output (1 = real video) | {t['seam_ratio']:.2f} | |",
                  f"| seam ratio, known pixels pasted back | {t['seam_ratio_pasted']:.2f} | "
                  f"{t['t2v_seam_ratio_pasted']:.2f} |", ""]
    lines += ["| cinemagraph (mean abs change from frame 0, 0-255) | cinemagraph | i2v, same image | real clip |",
              "|---|---|---|---|"]
    lines += [f"| {where} the animated centre 16x16 | {ci[f'mean_abs_change_cinemagraph_{where}']:.2f} | "
              f"{ci[f'mean_abs_change_i2v_{where}']:.2f} | {ci[f'mean_abs_change_real_{where}']:.2f} |"
              for where in ("outside", "inside")]
    lines += ["", f"| SDEdit strength ({r['edit']['clips']} clips, prompt = opposite direction) | mean abs diff to "
              "input | new direction recognised | old direction recognised |", "|---|---|---|---|"]
    for strength, e in r["edit"]["by_strength"].items():
        lines.append(f"| {strength} | {e['mean_abs_diff_to_input']:.1f} | {e['new_direction_recognised']:.3f} | "
                     f"{e['old_direction_recognised']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
