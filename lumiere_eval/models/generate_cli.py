"""`lumiere-eval generate`: run any registered generator over a prompt list, write videos and a manifest.

The output folder holds one video per (prompt, seed), named `{slugified prompt}-{seed}.mp4`, a
`manifest.jsonl` (prompt, seed, path, ...) that the `folder` generator reads back, and
`generate_config.json` with the resolved options and the generator's description. A rerun skips every
video that is already there and decodes to the requested shape, so a killed run resumes where it stopped.

`--task` runs Lumiere's applications with the shipped tiny model (models/lumiere/applications.py):
i2v (--image), inpaint (--video --mask), outpaint (--video, --mask or --border), cinemagraph (--image --mask),
edit (SDEdit: --video --strength). Mask images: light pixels mark the region to generate or animate.
`--style NAME --alpha A` generates t2v with the `lumiere` model's spatial weights interpolated towards a
fine-tuned style.
`--prompt-suite vbench[:DIM,...]` takes VBench's standard prompt suite (from the installed vbench package or
`--suite-path`) and writes `OUT/videos/{prompt}-{index}.mp4` as VBench reads them (lumiere_eval/models/suite_jobs.py).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from lumiere_eval import LumiereEvalError
from lumiere_eval.cli_types import float_range, int_range
from lumiere_eval.models.base import VideoGenerator, create_generator, parse_model_args
from lumiere_eval.models.lumiere.applications import TASKS
from lumiere_eval.models.manifest import ManifestEntry, read_prompt_list, slugify, write_manifest
from lumiere_eval.output_files import atomic_output, clean_stale_temporaries
from lumiere_eval.video import VideoReadError, probe_video, write_video

CONFIG_NAME = "generate_config.json"
MANIFEST_NAME = "manifest.jsonl"
# Options whose change makes existing outputs stale: a rerun with other values refuses to mix them.
_RESUME_KEYS = ("model", "model_args", "num_frames", "fps", "height", "width", "format", "task", "inputs")
_RESUME_DEFAULTS = {"task": "t2v", "inputs": {}}   # what folders written before --task existed hold
TASK_MODEL = "lumiere"   # the model whose checkpoints the tasks other than t2v use


class GenerateError(LumiereEvalError):
    """Bad `generate` options, a seed list that cannot be read, or outputs from another configuration."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `generate`."""
    parser.add_argument("--model", type=str, default="dummy", help="registered generator name (e.g. dummy, "
                        "folder, zeroscope, animatediff, cogvideox, svd, diffusers)")
    parser.add_argument("--model-arg", type=str, action="append", default=[], metavar="KEY=VALUE",
                        help="generator option, repeatable (e.g. --model-arg path=models/zeroscope)")
    prompts = parser.add_mutually_exclusive_group(required=True)
    prompts.add_argument("--prompts", type=Path, default=None,
                         help="prompt list: .txt (one per line) or .csv/.jsonl with 'prompt' and optional 'seed'")
    prompts.add_argument("--prompt", type=str, default=None, help="a single prompt (instead of --prompts)")
    prompts.add_argument("--prompt-suite", type=str, default=None, metavar="vbench[:DIM,...]",
                         help="VBench's standard prompt suite, every dimension or the named ones (e.g. "
                              "vbench:subject_consistency,scene); videos named as VBench reads them, in OUT/videos/")
    parser.add_argument("--suite-path", type=Path, default=None,
                        help="with --prompt-suite: VBench's VBench_full_info.json, its prompts/ folder or a prompts "
                             ".txt (default: the installed vbench package's VBench_full_info.json)")
    parser.add_argument("--samples-per-prompt", type=int_range(1), default=None,
                        help="with --prompt-suite: videos per prompt, indices 0..N-1 (default VBench's: 5, and 25 "
                             "for temporal flickering's prompts; VBench's standard mode reads indices 0..4)")
    parser.add_argument("--task", type=str, default="t2v", choices=TASKS,
                        help="t2v (any model), or one of Lumiere's applications with the tiny lumiere model")
    parser.add_argument("--image", type=Path, default=None, help="input image (i2v, cinemagraph)")
    parser.add_argument("--video", type=Path, default=None, help="input video (inpaint, outpaint, edit)")
    parser.add_argument("--mask", type=Path, default=None,
                        help="mask image, light = region to generate (inpaint, outpaint) or animate (cinemagraph)")
    parser.add_argument("--border", type=int_range(0), default=0,
                        help="outpaint: border width in output pixels to generate")
    parser.add_argument("--strength", type=float_range(0, 1, low_open=True), default=0.6,
                        help="edit: SDEdit strength in (0, 1], how far the input is noised (1 = ignore it)")
    parser.add_argument("--paste", action="store_true", default=False,
                        help="i2v/inpaint/outpaint/cinemagraph: copy the known pixels into the output")
    parser.add_argument("--replace-known", action="store_true", default=False,
                        help="i2v/inpaint/outpaint/cinemagraph: known-pixel replacement while sampling (the model "
                             "generates the rest around the known pixels, exact at the model's 32x32)")
    parser.add_argument("--style", type=str, default=None,
                        help="t2v with lumiere: fine-tuned style whose spatial weights to interpolate towards")
    parser.add_argument("--alpha", type=float_range(0, 1), default=1.0,
                        help="with --style: weight of the style's spatial weights, in [0, 1] (paper: 0.5-1)")
    parser.add_argument("--seeds", type=str, default="0",
                        help="seeds for each prompt without its own seed: '0', '0-4' or '0,3,7' (>= 0); with "
                             "--prompt-suite one base seed, from which each (prompt, index) gets its own")
    parser.add_argument("--num-frames", type=int_range(1), default=16, help="frames per video (>= 1)")
    parser.add_argument("--fps", type=float_range(0, low_open=True), default=16.0,
                        help="frame rate of the videos (> 0)")
    parser.add_argument("--height", type=int_range(1), default=128, help="frame height in pixels (>= 1)")
    parser.add_argument("--width", type=int_range(1), default=128, help="frame width in pixels (>= 1)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; reused to resume)")
    parser.add_argument("--batch-size", type=int_range(1), default=1,
                        help="videos per generator call (outputs do not depend on it)")
    parser.add_argument("--format", type=str, default="mp4", choices=("mp4", "avi", "gif"),
                        help="video container (mp4 = H.264 yuv420p, needs even sizes)")
    parser.add_argument("--num-threads", type=int_range(0), default=0,
                        help="torch CPU threads (0: torch's default; 1 is fastest for small models on busy machines)")
    parser.add_argument("--overwrite", action="store_true", default=False,
                        help="regenerate every video, even ones already in --out")
    parser.add_argument("--dry-run", action="store_true", default=False,
                        help="print the resolved configuration and the number of videos to make, then stop")


def parse_seeds(text: str) -> list[int]:
    """'0' -> [0]; '0-4' -> [0, 1, 2, 3, 4]; '0,3,7' -> [0, 3, 7] (ranges and lists can mix)."""
    seeds: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match or (match[2] is not None and int(match[2]) < int(match[1])):
            raise GenerateError(f"--seeds {text!r}: {part!r} is not a seed (>= 0) or a range like 0-4")
        seeds.extend(range(int(match[1]), int(match[2] or match[1]) + 1))
    if len(set(seeds)) != len(seeds):
        raise GenerateError(f"--seeds {text!r} names a seed twice")
    return seeds


def plan_jobs(prompts_path: Path | None, seeds: list[int], prompt: str | None = None) -> list[tuple[str, int]]:
    """(prompt, seed) pairs: a row's own seed, otherwise each of `seeds`; a pair listed twice is an error.
    With `prompt` instead of a file: that prompt with each seed."""
    if prompt is not None:
        return [(prompt, seed) for seed in seeds]
    jobs = []
    for row in read_prompt_list(prompts_path):
        for seed in ([row.seed] if row.seed is not None else seeds):
            if seed < 0:
                raise GenerateError(f"{prompts_path}: prompt {row.prompt!r} has a negative seed {seed}")
            jobs.append((row.prompt, seed))
    duplicates = sorted(job for job, count in Counter(jobs).items() if count > 1)
    if duplicates:
        raise GenerateError(f"{prompts_path}: (prompt, seed) listed twice: {duplicates[0]!r}"
                            + (f" and {len(duplicates) - 1} more" if len(duplicates) > 1 else ""))
    return jobs


def file_names(jobs: list[tuple[str, int]], suffix: str) -> list[str]:
    """`{slug}-{seed}{suffix}`; prompts whose slugs clash (or are empty) get an 8-hex hash of the prompt added."""
    prompts_by_slug: dict[str, set[str]] = defaultdict(set)
    for prompt, _ in jobs:
        prompts_by_slug[slugify(prompt)].add(prompt)
    names = []
    for prompt, seed in jobs:
        slug = slugify(prompt)
        if not slug or len(prompts_by_slug[slug]) > 1:
            slug = f"{slug or 'prompt'}_{hashlib.sha256(prompt.encode()).hexdigest()[:8]}"
        names.append(f"{slug}-{seed}{suffix}")
    return names


def is_done(path: Path, num_frames: int, height: int, width: int) -> bool:
    """True if `path` decodes (header and index) to the requested frame count and size."""
    try:
        info = probe_video(path)
    except VideoReadError:
        return False
    return (info.num_frames, info.height, info.width) == (num_frames, height, width)


def _check_config(out: Path, config: dict, overwrite: bool) -> None:
    path = out / CONFIG_NAME
    if overwrite or not path.is_file():
        return
    old = json.loads(path.read_text())
    changed = [k for k in _RESUME_KEYS if old.get(k, _RESUME_DEFAULTS.get(k)) != config[k]]
    seeds = [c.get("prompt_suite", {}).get("base_seed") for c in (old, config)]
    if None not in seeds and seeds[0] != seeds[1]:  # suite names hold no seed: another base makes them stale
        changed.append("prompt_suite.base_seed (--seeds)")
    if changed:
        raise GenerateError(f"{out} holds outputs of another configuration ({', '.join(changed)} differ from "
                            f"{path}); use another --out or --overwrite")


def task_options(args: argparse.Namespace, options: dict) -> dict:
    """Check the task's flags against --model; returns the generator options with --style/--alpha added and
    a record of the task's inputs (file SHA-256s and settings) for the resume check."""
    from lumiere_eval.models.lumiere.checkpoint import sha256_file

    given = [f"--{k}" for k in ("image", "video", "mask") if getattr(args, k) is not None]
    if args.task == "t2v":
        if given or args.border:
            raise GenerateError(f"{', '.join(given) or '--border'} only go with --task i2v, inpaint, outpaint, "
                                f"cinemagraph or edit")
        if args.style is None:
            return {}
        if args.model != TASK_MODEL:
            raise GenerateError(f"--style works with --model {TASK_MODEL}, not {args.model!r}")
        options.update(style=args.style, alpha=args.alpha)
        return {"style": args.style, "alpha": args.alpha}
    if args.model not in ("dummy", TASK_MODEL):   # dummy is the flag's default
        raise GenerateError(f"--task {args.task} runs the tiny {TASK_MODEL} model, not {args.model!r}")
    if args.style is not None:
        raise GenerateError("--style goes with --task t2v")
    args.model = TASK_MODEL
    files = {k: getattr(args, k) for k in ("image", "video", "mask") if getattr(args, k) is not None}
    for name, path in files.items():
        if not path.is_file():
            raise GenerateError(f"--{name} {path}: file not found")
    replace = {"replace_known": True} if args.replace_known else {}   # absent = off, as in folders made before it
    return {"task": args.task, "strength": args.strength, "border": args.border, "paste": args.paste, **replace,
            **{name: {"file": str(path), "sha256": sha256_file(path)} for name, path in files.items()}}


def make_generator(args: argparse.Namespace, options: dict) -> VideoGenerator:
    """The registered model for t2v, or the task's generator bound to its inputs."""
    if args.task == "t2v":
        return create_generator(args.model, **options)
    from lumiere_eval.models.lumiere.applications import create_task_generator, read_task_inputs

    inputs = read_task_inputs(args.image, args.video, args.mask, args.border)
    return create_task_generator(args.task, inputs, args.num_frames, args.height, args.width,
                                 strength=args.strength, paste=args.paste, replace_known=args.replace_known,
                                 **options)


def validate_plan(generator: VideoGenerator, jobs: list[tuple[str, int]], args: argparse.Namespace) -> None:
    """A generator that can check its inputs first (the `folder` generator) checks the whole plan at once, so
    every problem (missing files, prompts sharing a file name, unreadable videos) is reported together."""
    if not hasattr(generator, "validate"):
        return
    from lumiere_eval.models.folder import FolderValidationError

    problems = generator.validate([p for p, _ in jobs], [s for _, s in jobs], args.num_frames, args.fps,
                                  args.height, args.width)
    if problems:
        raise FolderValidationError(generator.root, problems)


def suite_plan(args: argparse.Namespace) -> tuple[list[tuple[str, int]], list[str], list[dict], dict]:
    """With --prompt-suite: (jobs, file names, per-video manifest fields, the config's `prompt_suite`); without
    it (the suite-only options refused): the prompt list's jobs and names, no extra fields, no suite."""
    if args.prompt_suite is None:
        given = [f for f, v in (("--suite-path", args.suite_path), ("--samples-per-prompt", args.samples_per_prompt))
                 if v is not None]
        if given:
            raise GenerateError(f"{' and '.join(given)} go with --prompt-suite")
        jobs = plan_jobs(args.prompts, parse_seeds(args.seeds), args.prompt)
        return jobs, file_names(jobs, f".{args.format}"), [{} for _ in jobs], {}
    from lumiere_eval.datasets.vbench_suite import load_suite, parse_suite_spec
    from lumiere_eval.models.suite_jobs import describe_plan, plan_suite_jobs

    if args.task != "t2v":
        raise GenerateError("--prompt-suite goes with --task t2v")
    if args.format not in ("mp4", "gif"):
        raise GenerateError(f"--prompt-suite writes .mp4 or .gif (what VBench reads), not .{args.format}")
    seeds = parse_seeds(args.seeds)
    if len(seeds) != 1:
        raise GenerateError(f"--seeds {args.seeds!r}: with --prompt-suite give one base seed (each video gets its own "
                            "seed from it)")
    suite = load_suite(args.suite_path, parse_suite_spec(args.prompt_suite))
    plan = plan_suite_jobs(suite, seeds[0], args.samples_per_prompt, f".{args.format}")
    extras = [{"vbench_index": j.index, "dimensions": list(j.dimensions)} for j in plan]
    return ([(j.prompt, j.seed) for j in plan], [j.path for j in plan], extras,
            describe_plan(suite, seeds[0], args.samples_per_prompt))


def run(args: argparse.Namespace) -> int:
    """Generate the missing videos of the plan, batch by batch, keeping the manifest current after each batch."""
    from tqdm import tqdm

    jobs, names, extras, suite = suite_plan(args)
    options = parse_model_args(args.model_arg)
    inputs = task_options(args, options)
    config = {"model": args.model, "model_args": options, "num_frames": args.num_frames, "fps": args.fps,
              "height": args.height, "width": args.width, "format": args.format, "task": args.task,
              "inputs": inputs, "prompts": str(args.prompts or args.prompt or args.prompt_suite),
              "num_videos": len(jobs), **({"prompt_suite": suite} if suite else {})}
    out: Path = args.out
    _check_config(out, config, args.overwrite)
    done = [not args.overwrite and is_done(out / n, args.num_frames, args.height, args.width) for n in names]
    if args.dry_run:
        print(json.dumps({**config, "out": str(out), "already_done": sum(done)}, indent=2))
        return 0
    def write_current_manifest() -> None:
        extra = {"num_frames": args.num_frames, "fps": args.fps, "height": args.height, "width": args.width,
                 "model": args.model}
        write_manifest(out / MANIFEST_NAME, [ManifestEntry(p, s, n, {**extra, **more})
                                             for (p, s), n, d, more in zip(jobs, names, done, extras) if d])

    for folder in dict.fromkeys((out / n).parent for n in names):  # out, or out/videos with --prompt-suite
        clean_stale_temporaries(folder)  # left by a killed run or a full disk
    pending = [i for i, d in enumerate(done) if not d]
    skipped = len(jobs) - len(pending)
    if not pending:  # nothing to make: no model to load
        write_current_manifest()
        print(f"generated 0, kept {skipped} already done; manifest: {out / MANIFEST_NAME}")
        return 0
    if args.num_threads > 0:
        import torch

        torch.set_num_threads(args.num_threads)
    generator = make_generator(args, options)
    validate_plan(generator, [jobs[i] for i in pending], args)
    with atomic_output(out / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps({**config, "generator": generator.describe()}, indent=2, default=str))
    write_current_manifest()
    with tqdm(total=len(jobs), initial=skipped, desc=f"generate {args.model}", unit="video") as bar:
        for start in range(0, len(pending), args.batch_size):
            batch = pending[start:start + args.batch_size]
            videos = generator.generate([jobs[i][0] for i in batch], [jobs[i][1] for i in batch],
                                        args.num_frames, args.fps, args.height, args.width)
            if len(videos) != len(batch):
                raise GenerateError(f"model {args.model!r} returned {len(videos)} videos for {len(batch)} prompts")
            for i, video in zip(batch, videos):
                expected = (args.num_frames, args.height, args.width, 3)
                if video.frames.shape != expected or str(video.frames.dtype) != "uint8":
                    raise GenerateError(f"model {args.model!r} returned {video.frames.dtype} "
                                        f"{list(video.frames.shape)} for {jobs[i][0]!r} seed {jobs[i][1]}, "
                                        f"expected uint8 {list(expected)}")
                write_video(out / names[i], video.frames, args.fps)
                done[i] = True
            write_current_manifest()
            bar.update(len(batch))
    print(f"generated {len(pending)}, kept {skipped} already done; manifest: {out / MANIFEST_NAME}")
    return 0
