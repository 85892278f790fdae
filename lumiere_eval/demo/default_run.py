"""The embedded default of `lumiere-eval ucf101`: the whole protocol on the synthetic action domain.

No download: the domain is rendered locally in the UCF101 layout, the models (`lumiere`,
`keyframe-cascade`, `per-frame-t2i`) and the evaluators (an in-domain 3D-CNN classifier for FVD and IS, an
in-domain video-text model for CLIP similarity) are the small ones shipped in the package. Each model is
run through the same UCF101 runner, then compared in one table (the motion tier's motion magnitude and
temporal flickering beside FVD, IS and CLIPSIM), with plots, a grid of sample GIFs, the statistics section
(runner.default_statistics) and a SIMULATED study (demo.simulated_study). Every output says it is the
synthetic domain.
"""
from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import shutil
import time
from pathlib import Path

import numpy as np

from lumiere_eval.files import (COMPARISON_FILE, SAMPLES_FILE, atomic_write_json, atomic_write_text, lumiere_home,
                                read_json)
from lumiere_eval.metrics.intervals import interval_text
from lumiere_eval.metrics.record import read_samples
from lumiere_eval.runner.cache import default_cache_dir
from lumiere_eval.runner.options import feature_block
from lumiere_eval.runner.section_memo import memo_section

MODELS = ("lumiere", "keyframe-cascade", "per-frame-t2i")
SIZES = {  # samples per model, real clips; "tiny" is the smoke test the test suite runs
    "full": {"num_samples": 64, "num_real": 864, "bootstrap": 200, "groups": 25, "clips_per_group": 4},
    "tiny": {"num_samples": 12, "num_real": 48, "bootstrap": 20, "groups": 8, "clips_per_group": 1},
}
DOMAIN = {"height": 32, "width": 32, "num_frames": 16, "fps": 8.0}

BANNER = """\
################################################################################
#  SYNTHETIC DOMAIN -- NOT UCF101.                                             #
#  No UCF101 data root is configured (--data-root or $LUMIERE_EVAL_UCF101), so #
#  this is the embedded default: the zero-shot protocol on a synthetic action  #
#  domain, with models and evaluators trained by this project and shipped in   #
#  the package. The numbers are NOT comparable with published UCF101 results. #
################################################################################"""


def synthetic_root(size: dict) -> Path:
    """Where the rendered synthetic domain lives, e.g. $LUMIERE_EVAL_HOME/synthetic-ucf-v2-32x32x16-g25c4."""
    return lumiere_home() / (f"synthetic-ucf-v2-{DOMAIN['height']}x{DOMAIN['width']}x{DOMAIN['num_frames']}"
                   f"-g{size['groups']}c{size['clips_per_group']}")


def ensure_synthetic_data(size: dict, progress: bool = True) -> Path:
    """Render the domain in the UCF101 layout once (atomically: a half-written copy is never used)."""
    from lumiere_eval.datasets.synthetic import CLASSES, SyntheticDomain, class_prompt, write_ucf_layout

    root = synthetic_root(size)
    if (root / ".complete").is_file():
        return root
    tmp = root.with_name(f".{root.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    domain = SyntheticDomain(DOMAIN["height"], DOMAIN["width"], DOMAIN["num_frames"], DOMAIN["fps"],
                             groups=size["groups"], clips_per_group=size["clips_per_group"],
                             test_groups=max(1, size["groups"] * 7 // 25))
    # H.264 rather than UCF101's MPEG-4 Part 2: at 32x32, MPEG-4 artefacts cost the in-domain classifier
    # about 10 points of accuracy (measured: 0.89 on AVI against 1.00 on MP4 for the same 96 test clips).
    write_ucf_layout(tmp, domain, extension=".mp4", progress=progress)
    atomic_write_json(tmp / "prompts.json", {c: class_prompt(c) for c in CLASSES}, indent=1)
    (tmp / ".complete").write_text("ok\n")
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)
    return root


def model_config(model: str, root: Path, out: Path, size: dict, args: argparse.Namespace):
    """The runner configuration of one model on the synthetic domain."""
    from lumiere_eval.models.base import parse_model_args
    from lumiere_eval.runner.ucf101_run import RunConfig

    return RunConfig(out=out / model, data_root=root, domain="synthetic", real_split="train",
                     num_real=size["num_real"], real_clip=f"first{DOMAIN['num_frames']}s1",
                     fake_clip=f"first{DOMAIN['num_frames']}s1", num_samples=size["num_samples"],
                     prompts=str(root / "prompts.json"), model=model, model_args=parse_model_args(args.model_arg),
                     num_frames=DOMAIN["num_frames"], fps=DOMAIN["fps"], height=DOMAIN["height"],
                     width=DOMAIN["width"], metrics=("fvd", "is", "clipsim"), fvd_extractor="synthetic-i3d",
                     is_extractor="synthetic-c3d", clip_extractor="synthetic-clip", fvd_covariance="unbiased",
                     # in-domain IS: frames as rendered (no TGAN resize), one split over all samples
                     is_protocol="isv2048_ucf", is_splits=1, is_shuffle_seed=None, bootstrap=size["bootstrap"],
                     seed=args.seed, batch_size=args.batch_size, feature_block=feature_block(args),
                     overwrite=args.overwrite, wait=args.wait,
                     cache_dir=args.cache_dir, device=args.device, decode_workers=args.decode_workers,
                     progress=not args.no_progress)


def _run_shard(config, index: int, count: int) -> None:
    import torch

    from lumiere_eval.runner import ucf101_run

    torch.set_num_threads(1)
    ucf101_run.run(dataclasses.replace(config, shard=f"{index}/{count}", progress=False))


def run_model(config, workers: int, dry_run: bool = False) -> dict | None:
    """One model through the runner: in `workers` shard processes of one thread each, then merged (the
    numbers equal a single-process run's: features are computed in fixed blocks), or in this process."""
    from lumiere_eval.runner import ucf101_run
    from lumiere_eval.runner.generation import collect_records

    plan = ucf101_run.make_plan(config)
    if workers <= 1 or dry_run or not collect_records(config.out, plan.samples)[1]:
        return ucf101_run.run(config, dry_run=dry_run)   # nothing to generate: no processes to start
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        pending = pool.starmap_async(_run_shard, [(config, i, workers) for i in range(workers)])
        _show_generation(config, plan.samples, pending)
        pending.get()   # re-raises a worker's error
        pool.close()   # let the workers exit on their own: terminating them leaks their semaphores
        pool.join()
    return ucf101_run.run(dataclasses.replace(config, merge=True))


def _show_generation(config, samples: list, pending) -> None:
    """A progress bar of the samples on disk while the shard processes (which print nothing) generate them."""
    from tqdm import tqdm

    from lumiere_eval.runner.generation import sample_paths

    def done() -> int:
        return sum(sample_paths(config.out, s.index)[1].is_file() for s in samples)

    with tqdm(total=len(samples), initial=done(), desc=f"generate [{config.model}]", unit="video",
              disable=not config.progress) as bar:
        while not pending.ready():
            pending.wait(1.0)
            bar.update(done() - bar.n)


def real_reference(root: Path, config, num: int) -> dict:
    """The domain's own numbers: held-out real clips scored like a model (FVD floor, IS, CLIPSIM, class accuracy;
    their motion tier is computed with the statistics, on `paths`)."""
    from lumiere_eval.datasets import ucf101 as ucf101_data
    from lumiere_eval.metrics.values import clipsim_per_sample, compute
    from lumiere_eval.runner.cache import FeatureCache, FileHashes
    from lumiere_eval.runner.features import VideoItem, compute_features
    from lumiere_eval.runner.ucf101_run import build_jobs

    splits = root / "ucfTrainTestlist"
    index = ucf101_data.VideoIndex(root)
    cache = FeatureCache(config.cache_dir or default_cache_dir())
    hashes = FileHashes(cache.root / "file_hashes" / "default_run.json")

    def items(split: str, limit: int) -> tuple[list[VideoItem], list[str]]:
        entries = ucf101_data.read_split(splits, split)
        rng = np.random.default_rng(config.seed)
        chosen = [entries[i] for i in sorted(rng.choice(len(entries), min(limit, len(entries)), replace=False))]
        paths = [index.resolve(e) for e in chosen]
        return [VideoItem(p, hashes.sha256(p), e.relpath) for p, e in zip(paths, chosen)], [e.class_name for e in chosen]

    train, _ = items("train", config.num_real)
    test, test_classes = items("test", num)
    hashes.save()
    fake_jobs, real_jobs = build_jobs(config)
    real_rows = compute_features(train, real_jobs, cache, config.feature_block, progress=False,
                                 decode_workers=config.decode_workers)
    test_rows = compute_features(test, fake_jobs, cache, config.feature_block, progress=False,
                                 decode_workers=config.decode_workers)
    suite = ucf101_data.prompt_suite(config.prompts, ucf101_data.read_class_index(splits))
    clip_job = next(j for j in fake_jobs if j.name == "clipsim")
    texts = clip_job.extractor.text_embeddings([suite.prompt(c) for c in test_classes])
    similarities = clipsim_per_sample(test_rows["clipsim"], texts)
    probs = np.stack(test_rows["is"])
    return {
        "fvd": compute("fvd", np.stack(real_rows["fvd"]), np.stack(test_rows["fvd"]), config.fvd(), config.bootstrap,
                       config.seed),
        "is": compute("is", None, probs, config.inception(), config.bootstrap, config.seed),
        "clipsim": compute("clipsim", None, similarities, None, config.bootstrap, config.seed),
        "class_accuracy": float(np.mean([ucf101_data.read_class_index(splits)[int(p.argmax())] == c
                                         for p, c in zip(probs, test_classes)])),
        "n": len(test),
        "paths": [str(it.path) for it in test],
    }


def _cell(metric: dict, digits: int = 2) -> str:
    return f"{metric['value']:.{digits}f}" + interval_text(metric["value"], metric.get("ci_low"),
                                                          metric.get("ci_high"), f".{digits}f")


# The first table's columns: the runner's metrics, then the motion tier's registered scores (the same numbers as
# the motion tier's table of the statistics section); titles and directions from the metric registry.
METRIC_COLUMNS = ("fvd", "is", "clipsim")
MOTION_COLUMNS = ("motion_magnitude_dis", "temporal_flickering")
_BETTER = {True: "higher is better", False: "lower is better",
           None: "has no better direction (compare with the real clips)"}


def _better(name: str) -> str:
    from lumiere_eval.metrics.registry import higher_is_better

    return _BETTER[higher_is_better()[name]]


def motion_columns(summary: dict) -> dict[str, dict]:
    """The first table's motion-tier entries of a motion-tier summary (a model's or the real clips')."""
    return {name: summary[name] for name in MOTION_COLUMNS if name in summary}


def _motion_cells(motion: dict) -> str:
    return " | ".join(_cell(motion[name], 4) if name in motion else "-" for name in MOTION_COLUMNS)


def _needs_weights() -> dict[str, str]:
    """Metrics the default run cannot compute: their networks' weights cannot be downloaded here and no honest
    in-domain stand-in exists (docs/newer_metrics.md, docs/vbench.md): cd-FVD, JEDi and every VBench dimension
    (from the registry). Listed as such, never replaced by numbers from random weights."""
    from lumiere_eval.metrics.registry import METRICS

    vbench = {m.name: f"{m.title} (weights {', '.join(m.weights)})" for m in METRICS.values() if m.tier == "vbench"}
    return {"cdfvd": "cd-FVD: VideoMAE-v2 ViT-g/14 SSv2 (weights videomae_v2_g_ssv2)",
            "jedi": "JEDi: V-JEPA ViT-H/16 + SSv2 probe (weights vjepa_vith16, vjepa_vith16_ssv2_probe)", **vbench}


NEEDS_WEIGHTS = _needs_weights()


def write_comparison(out: Path, rows: dict[str, dict], reference: dict, elapsed: float) -> str:
    """comparison.json and comparison.md: one row per model, plus held-out real clips as the reference; each row's
    `motion` holds its motion-tier entries of MOTION_COLUMNS (`motion_columns`)."""
    from lumiere_eval.metrics.registry import get_metric, interval_methods_text

    atomic_write_json(out / COMPARISON_FILE, {"domain": "synthetic", "models": rows, "real_test": reference,
                                              "elapsed_s": elapsed, "needs_weights": NEEDS_WEIGHTS})
    titles = [get_metric(name).title for name in METRIC_COLUMNS + MOTION_COLUMNS]
    better = "; ".join(f"{get_metric(name).title} {_better(name)}" for name in METRIC_COLUMNS + MOTION_COLUMNS)
    lines = ["# SYNTHETIC DOMAIN (not UCF101): the embedded default of `lumiere-eval ucf101`", "",
             "Zero-shot protocol on the synthetic action domain; evaluators trained in-domain; IS over one split "
             "(TGAN convention); 95% intervals over generated samples ("
             f"{interval_methods_text(('fvd', 'is'))}; percentile bootstrap for CLIPSIM). {better}; class accuracy "
             "(IS's top class against the prompted one) higher is better. The motion columns are the motion tier's "
             "scores (its table is below).", "",
             "| model | samples | " + " | ".join(titles[:3]) + " | class accuracy | " + " | ".join(titles[3:]) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(MOTION_COLUMNS)]
    for name, r in rows.items():
        m = r["metrics"]
        lines.append(f"| {name} | {r['samples']} | {_cell(m['fvd'])} | {_cell(m['is'])} | {_cell(m['clipsim'])} | "
                     f"{m['is'].get('top1_accuracy_vs_prompted_class', float('nan')):.3f} | "
                     f"{_motion_cells(r['motion'])} |")
    lines.append(f"| real held-out clips | {reference['n']} | {_cell(reference['fvd'])} | {_cell(reference['is'])} | "
                 f"{_cell(reference['clipsim'])} | {reference['class_accuracy']:.3f} | "
                 f"{_motion_cells(reference['motion'])} |")
    per_model = ", ".join(f"{name} {r['wall_s']:.0f} s" for name, r in rows.items())
    lines += ["", f"Wall time: {elapsed:.0f} s ({per_model}; {next(iter(rows.values()))['workers']} worker "
                  f"process(es), cached work excluded)."]
    lines += ["", "Not computed here (their pretrained weights are not on this machine and no honest in-domain "
                  "stand-in exists): " + "; ".join(NEEDS_WEIGHTS.values()) + ". See docs/newer_metrics.md and "
                  "docs/vbench.md."]
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / "comparison.md", text)
    return text


def write_plots(out: Path, rows: dict[str, dict], reference: dict) -> Path:
    """plots.png: each metric per model with its interval, the real clips' value as a dashed line; titles and
    directions from the metric registry, temporal flickering from the motion tier (each row's `motion`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lumiere_eval.metrics.registry import get_metric

    panels = [*METRIC_COLUMNS, "temporal_flickering"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4))
    names = list(rows)
    for ax, key in zip(axes, panels):
        part = "metrics" if key in METRIC_COLUMNS else "motion"
        ms = [rows[n][part][key] for n in names]
        values = [m["value"] for m in ms]
        # an interval need not contain the point estimate (old percentile records of a biased FVD): clipped at 0
        errors = np.clip(np.array([[m["value"] - m["ci_low"], m["ci_high"] - m["value"]]
                                   if m.get("ci_low") is not None and m.get("ci_high") is not None else [0.0, 0.0]
                                   for m in ms]).T, 0, None)
        ref = reference[part][key]["value"] if part == "motion" else reference[key]["value"]
        ax.bar(names, values, yerr=errors, capsize=4, color=["#4c72b0", "#dd8452", "#55a868"][:len(names)])
        ax.axhline(ref, color="k", linestyle="--", linewidth=1)
        ax.set_title(f"{get_metric(key).title}\n({_better(key)})", fontsize=9)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.suptitle("SYNTHETIC DOMAIN (not UCF101)", fontsize=11, color="#b00000")
    fig.tight_layout()
    path = out / "plots.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_grid(out: Path, models: list[str], columns: int = 6, scale: int = 3) -> Path:
    """samples_grid.gif: one row per model, the same prompts and seeds in each column."""
    from lumiere_eval.video import read_video, write_video

    records = {m: read_samples(out / m / SAMPLES_FILE) for m in models}
    first = records[models[0]]
    picks, seen = [], set()
    for r in first:  # one sample per class, left to right
        if r["class"] not in seen and all(any(x["index"] == r["index"] for x in records[m]) for m in models):
            picks.append(r["index"])
            seen.add(r["class"])
        if len(picks) == columns:
            break
    rows = []
    for m in models:
        by_index = {r["index"]: r for r in records[m]}
        rows.append(np.concatenate([read_video(out / m / by_index[i]["path"])[0] for i in picks], axis=2))
    grid = np.concatenate(rows, axis=1)
    grid = grid.repeat(scale, axis=1).repeat(scale, axis=2)
    path = write_video(out / "samples_grid.gif", grid, DOMAIN["fps"])
    atomic_write_text(out / "samples_grid.txt", "rows: " + ", ".join(models) + "\ncolumns: " + ", ".join(
        f"{r['class']} (seed {r['seed']})" for r in first if r["index"] in picks) + "\n")
    return path


def run_default(args: argparse.Namespace) -> int:
    """Run every shipped model on the synthetic domain and compare them."""
    from lumiere_eval.models.base import REGISTRY

    print(BANNER, flush=True)
    start = time.perf_counter()
    size = dict(SIZES[args.synthetic_size])
    if args.num_samples != 10000:  # the UCF101 default; anything else was asked for explicitly
        size["num_samples"] = args.num_samples
    models = [m for m in MODELS if m in REGISTRY] if args.model is None else [args.model]
    skipped = [m for m in MODELS if m not in REGISTRY]
    if skipped:
        print(f"not run (not available in this installation): {', '.join(skipped)}")
    out = args.out or Path("runs") / "demo"
    root = ensure_synthetic_data(size, progress=not args.no_progress)
    print(f"synthetic domain: {root}\nmodels: {', '.join(models)}; {size['num_samples']} samples each; "
          f"output: {out}", flush=True)
    rows = {}
    for model in models:
        config = model_config(model, root, out, size, args)
        model_start = time.perf_counter()
        results = run_model(config, args.workers, args.dry_run)
        if results is None:
            continue
        records = read_samples(config.out / SAMPLES_FILE)
        rows[model] = {"metrics": results["metrics"], "samples": len(records),
                       "timings": results["timings"], "wall_s": time.perf_counter() - model_start,
                       "workers": args.workers}
        print(f"[SYNTHETIC] {model}: " + ", ".join(f"{k.upper()} {v['value']:.2f}"
                                                   for k, v in results["metrics"].items()), flush=True)
    if args.dry_run or not rows:
        return 0
    reference = real_reference(root, model_config(models[0], root, out, size, args), size["num_samples"])
    elapsed = time.perf_counter() - start
    from lumiere_eval.demo.simulated_study import simulated_study_section  # labelled SIMULATED raters
    from lumiere_eval.runner.default_statistics import write_statistics  # motion tier, paired tests, curves

    resamples = 1000 if args.synthetic_size == "full" else 200
    samples = {m: (out / m / SAMPLES_FILE).read_text() for m in rows}
    inputs = {"samples": samples, "metrics": {m: r["metrics"] for m, r in rows.items()},
              "real": [str(p) for p in reference["paths"]], "resamples": resamples, "seed": args.seed}
    statistics = memo_section(out, "statistics", inputs,
                              lambda: write_statistics(out, list(rows), reference["paths"], resamples, args.seed),
                              outputs=(out / "statistics.json",))
    tier = read_json(out / "statistics.json")  # the motion tier's summaries, per model and of the real clips
    for model, row in rows.items():
        row["motion"] = motion_columns(tier["motion"][model])
    reference["motion"] = motion_columns(tier["real_test_motion"])
    text = write_comparison(out, rows, reference, elapsed)
    write_plots(out, rows, reference)
    write_grid(out, list(rows))
    text += "\n" + statistics
    text += "\n" + memo_section(out, "simulated_study", inputs, lambda: simulated_study_section(
        {m: read_samples(out / m / SAMPLES_FILE) for m in rows}, inputs["metrics"], seed=args.seed))
    atomic_write_text(out / "comparison.md", text)
    print(BANNER)
    print(text)
    print(f"comparison: {out / 'comparison.md'}; plots: {out / 'plots.png'}; samples: {out / 'samples_grid.gif'}")
    return 0
