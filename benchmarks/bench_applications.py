"""Lumiere's applications, measured on the shipped tiny model and held-out clips of the synthetic domain.

    python benchmarks/bench_applications.py [--per-task 24] [--threads 2]

Each conditional task is compared with the obvious alternative, the plain text-to-video `lumiere` with the same
prompt and seed (it sees no image, video or mask). The conditional model runs twice: on its own ("model"), and
with known-pixel replacement while sampling ("replaced": the x_0 estimate takes the known pixels at every step,
in the base stage and the SSR, so known pixels come out exact and the measures show how the rest fits them):
- image-to-video: PSNR of the first frame against the input image; prompted class recognised (in-domain
  classifier);
- inpainting (a 12x12 box) and outpainting (a 6-pixel border) at 32x32: error in the kept region (PSNR), and a
  seam measure: the mean absolute step between horizontally or vertically adjacent pixels that straddle the mask
  border, divided by the same on the real video (1 = as smooth as the real video); for the raw output and for the
  output with the known pixels pasted back;
- cinemagraph (the centre 16x16 animated): mean absolute change from the first frame, outside and inside the
  animated region, against image-to-video of the same image and the real clip; and the seam at the region's
  border as a ratio of means over clips (mean step / the real clips' mean step: a still real clip can have
  no step there at all);
- SDEdit: a clip moving one way edited with the prompt of the opposite direction, at several strengths: distance
  to the input, and how often the classifier sees the new direction or the old one.
Writes benchmarks/results/applications.{md,json} and models/lumiere-tiny/samples_applications.gif (rows:
i2v, inpaint, outpaint, cinemagraph alone, cinemagraph with replacement, SDEdit at 0.6).
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
from lumiere_eval.datasets.synthetic import CLASS_PHRASES, CLASSES, SyntheticDomain

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


def run_task(task: str, caption: str, seed: int, inputs: TaskInputs, options: dict) -> dict[str, np.ndarray]:
    """The task's output by the model on its own ("model") and with known-pixel replacement ("replaced")."""
    out = {}
    for mode, replace in (("model", False), ("replaced", True)):
        generator = create_task_generator(task, inputs, FRAMES, SIZE, SIZE, replace_known=replace, **options)
        out[mode] = generator.generate([caption], [seed], FRAMES, FPS, SIZE, SIZE)[0].frames
    return out


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
    from lumiere_eval.training.lumiere_recipe import grid
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
    runs, plain = [], []
    for i, (clip, _, caption) in enumerate(clips):
        runs.append(run_task("i2v", caption, i, TaskInputs(image=clip[0]), options))
        plain.append(baseline(caption, i))
    labels = [label for _, label, _ in clips]
    results["i2v"] = {}
    for mode, videos in (("t2v", plain), *((m, [o[m] for o in runs]) for m in ("model", "replaced"))):
        results["i2v"][f"{mode}_first_frame_psnr_db"] = float(np.mean([psnr(v[0], c[0])
                                                                      for v, (c, _, _) in zip(videos, clips)]))
        results["i2v"][f"{mode}_class_recognised"] = recognised(classifier, videos, labels)
    i2v = [o["model"] for o in runs]
    samples["i2v"] = [np.concatenate([np.repeat(c[:1], FRAMES, 0), v], 2) for v, (c, _, _) in zip(i2v[:4], clips)]
    print("i2v", results["i2v"], flush=True)

    # inpainting and outpainting
    rng = np.random.default_rng(0)
    for task in ("inpaint", "outpaint"):
        rows: dict[str, list[float]] = {}
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
            outs = {"t2v": plain[i], **run_task(task, caption, i, inputs, options)}
            real_seam = seam(clip, keep)
            for mode, out in outs.items():
                pasted = np.where(keep[None, ..., None], clip, out)
                measures = {"kept_psnr_db": psnr(out, clip, np.broadcast_to(keep, clip.shape[:3])),
                            "filled_psnr_db": psnr(out, clip, np.broadcast_to(region, clip.shape[:3])),
                            "seam_ratio": seam(out, keep) / real_seam,
                            "seam_ratio_pasted": seam(pasted, keep) / real_seam}
                for name, value in measures.items():
                    rows.setdefault(f"{mode}_{name}", []).append(value)
            if i < 4:
                shown.append(np.concatenate([np.where(keep[None, ..., None], clip, 128).astype(np.uint8),
                                             outs["model"]], 2))
        results[task] = {k: float(np.mean(v)) for k, v in rows.items()}
        samples[task] = shown
        print(task, results[task], flush=True)

    # cinemagraphs: the same image animated only inside the centre 16x16, against image-to-video of that image
    # (conditioned on the first frame only, free to move everywhere) and the real clip
    region = np.zeros((SIZE, SIZE), bool)
    region[8:24, 8:24] = True
    motion: dict[str, list[float]] = {}
    seams: dict[str, list[float]] = {}
    shown, shown_replaced = [], []
    for i, (clip, _, caption) in enumerate(clips):
        outs = run_task("cinemagraph", caption, i, TaskInputs(image=clip[0], mask=region), options)
        for name, video in (("model", outs["model"]), ("replaced", outs["replaced"]), ("i2v", i2v[i]),
                            ("real", clip)):
            change = np.abs(video.astype(np.float64) - video[:1]).mean(-1)     # [T, H, W]
            motion.setdefault(f"{name}_outside", []).append(float(change[:, ~region].mean()))
            motion.setdefault(f"{name}_inside", []).append(float(change[:, region].mean()))
            seams.setdefault(name, []).append(seam(video, ~region))
        if i < 4:
            shown.append(np.concatenate([np.repeat(clip[:1], FRAMES, 0), outs["model"]], 2))
            shown_replaced.append(np.concatenate([np.repeat(clip[:1], FRAMES, 0), outs["replaced"]], 2))
    # seam ratio of means: a still real clip can have no step at all across the region's border
    results["cinemagraph"] = {**{f"mean_abs_change_{k}": float(np.mean(v)) for k, v in motion.items()},
                              **{f"{k}_seam_ratio": float(np.mean(v) / np.mean(seams["real"]))
                                 for k, v in seams.items()}}
    samples["cinemagraph"], samples["cinemagraph-replaced"] = shown, shown_replaced
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
    rows = [v for task in ("i2v", "inpaint", "outpaint", "cinemagraph", "cinemagraph-replaced", "edit")
            for v in samples[task]]
    write_video(gif, grid(rows, columns=4, scale=2), FPS)
    print(args.out.with_suffix(".md").read_text())


def db(value: float) -> str:
    """A PSNR for the tables: "exact" when the pixels are identical (psnr() caps the error at 1e-10)."""
    return "exact" if value >= 100 else f"{value:.2f}"


def report(r: dict) -> str:
    """The markdown tables of the measurements."""
    i2v, ci = r["i2v"], r["cinemagraph"]
    lines = [f"# Lumiere's applications on the tiny model ({r['per_task']} held-out clips per task, "
             f"{r['size'][0]} frames of {r['size'][1]}x{r['size'][2]}, {r['threads']} threads, {r['seconds']} s)", "",
             "Each task against the plain text-to-video `lumiere` with the same prompt and seed "
             "(`python benchmarks/bench_applications.py`). \"model\": the conditional model on its own; "
             "\"replaced\": with known-pixel replacement while sampling (`--replace-known`).", "",
             "| image-to-video | model | replaced | t2v |", "|---|---|---|---|",
             "| first-frame PSNR vs the input image (dB) | " + " | ".join(
                 db(i2v[f"{m}_first_frame_psnr_db"]) for m in ("model", "replaced", "t2v")) + " |",
             "| prompted class recognised | " + " | ".join(
                 f"{i2v[f'{m}_class_recognised']:.3f}" for m in ("model", "replaced", "t2v")) + " |", ""]
    names = {"kept_psnr_db": "kept-region PSNR (dB)", "filled_psnr_db": "filled-region PSNR vs the real clip (dB)",
             "seam_ratio": "seam ratio (1 = real video)", "seam_ratio_pasted": "seam ratio, known pixels pasted back"}
    for task in ("inpaint", "outpaint"):
        t = r[task]
        lines += [f"| {task} | model | replaced | t2v |", "|---|---|---|---|"]
        lines += [f"| {label} | " + " | ".join(db(t[f"{m}_{key}"]) if key.endswith("db") else f"{t[f'{m}_{key}']:.2f}"
                                           for m in ("model", "replaced", "t2v")) + " |" for key, label in names.items()]
        lines.append("")
    lines += ["| cinemagraph (mean abs change from frame 0, 0-255) | model | replaced | i2v, same image | real clip |",
              "|---|---|---|---|---|"]
    lines += [f"| {where} the animated centre 16x16 | " + " | ".join(
        f"{ci[f'mean_abs_change_{m}_{where}']:.2f}" for m in ("model", "replaced", "i2v", "real")) + " |"
        for where in ("outside", "inside")]
    lines.append("| seam ratio at the region's border (mean step / the real clips' mean step) | " + " | ".join(
        f"{ci[f'{m}_seam_ratio']:.2f}" for m in ("model", "replaced", "i2v", "real")) + " |")
    lines += ["", f"| SDEdit strength ({r['edit']['clips']} clips, prompt = opposite direction) | mean abs diff to "
              "input | new direction recognised | old direction recognised |", "|---|---|---|---|"]
    for strength, e in r["edit"]["by_strength"].items():
        lines.append(f"| {strength} | {e['mean_abs_diff_to_input']:.1f} | {e['new_direction_recognised']:.3f} | "
                     f"{e['old_direction_recognised']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
