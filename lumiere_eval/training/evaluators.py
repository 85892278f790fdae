"""Train the in-domain evaluators on the synthetic domain: one deterministic, resumable command.

    lumiere-eval train-evaluators            # = python -m lumiere_eval.training.evaluators

Trains the classifier (cross-entropy on the train split) and then the video-text model (InfoNCE with every
consistent caption a positive), saving a resumable state to `--work` every `--save-every` seconds; a rerun
continues from there. Batches depend only on (seed, step), so a resumed run equals an uninterrupted one.
Then it measures test accuracy, text->video retrieval and the metric sanity figures, and writes the shipped
checkpoints, their SHA-256 and the model card's measured numbers (`results.json`) to `--out`.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from lumiere_eval import LumiereEvalError
from lumiere_eval.cli_types import float_range, int_range
from lumiere_eval.extractors.in_domain.networks import LOAD_ERRORS, VideoTextModel, build_model, to_model_input
from lumiere_eval.datasets.synthetic import CLASSES, SyntheticDomain, class_prompt
from lumiere_eval.training import evaluator_data as data
from lumiere_eval.training import evaluator_sanity as sanity
from lumiere_eval.training.evaluator_sanity import classifier_outputs

CHECKPOINTS = {"classifier": "synthetic-classifier.pt", "video_text": "synthetic-video-text.pt"}


class TrainingError(LumiereEvalError):
    """A training state that does not match the requested run."""


def _save_atomic(obj: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def export(model: torch.nn.Module, path: Path) -> None:
    """Write the shipped form of `model`: its config and state dict only."""
    _save_atomic({"config": model.config, "state_dict": model.state_dict()}, path)


def _classifier_loss(model, clips, labels, attrs, rng):
    logits = model(to_model_input(clips, model.num_frames, model.size))
    return F.cross_entropy(logits, labels)


def _video_text_loss(model, clips, labels, attrs, rng):
    captions, masks = data.caption_variants(attrs, rng)
    videos = model.encode_video(to_model_input(clips, model.num_frames, model.size))
    texts = model.encode_text(model.tokenizer(captions))
    logits = model.log_scale.clamp(max=math.log(100.0)).exp() * texts @ videos.T     # text x video
    positive = torch.from_numpy(data.consistent(attrs, masks, attrs)).float()
    t2v = -(positive / positive.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
    v2t = -(positive.T / positive.T.sum(1, keepdim=True) * logits.T.log_softmax(1)).sum(1).mean()
    return (t2v + v2t) / 2


LOSSES: dict[str, Callable] = {"classifier": _classifier_loss, "video_text": _video_text_loss}


def train(kind: str, config: dict, clips: np.ndarray, attrs: np.ndarray, steps: int, batch: int, lr: float,
          seed: int, state_path: Path, save_every_s: float = 120.0, stop_after: int | None = None,
          log: Callable[[str], None] = print) -> torch.nn.Module:
    """Train a `kind` model for `steps` AdamW steps (cosine learning rate), resuming from `state_path`.

    Step `s` draws its batch (and captions) from `default_rng([seed, s])`, so the result does not depend on
    where the run was interrupted. `stop_after` ends the run early after that many steps (for tests).
    """
    torch.manual_seed(seed)
    model = build_model(kind, config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    run_id = {"kind": kind, "config": config, "steps": steps, "batch": batch, "lr": lr, "seed": seed,
              "num_clips": int(len(clips))}
    step = 0
    if state_path.is_file():
        try:
            state = torch.load(state_path, map_location="cpu", weights_only=True)
        except LOAD_ERRORS as err:
            raise TrainingError(f"{state_path}: unreadable training state ({type(err).__name__}); delete it to "
                                "start again") from err
        if state["run"] != run_id:
            raise TrainingError(f"{state_path}: holds a different run ({state['run']}); delete it or use another "
                                "--work folder")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        log(f"{kind}: resumed at step {step}/{steps} from {state_path}")
    loss_fn, tensor_clips = LOSSES[kind], torch.from_numpy(clips)
    labels = torch.from_numpy(attrs[:, 0])
    model.train()
    last_save, started, done = time.monotonic(), time.monotonic(), 0
    while step < steps and (stop_after is None or done < stop_after):
        rng = np.random.default_rng([seed, step])
        index = rng.choice(len(clips), size=min(batch, len(clips)), replace=False)
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = loss_fn(model, tensor_clips[index], labels[index], attrs[index], rng)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step, done = step + 1, done + 1
        if step % 50 == 0 or step == steps:
            log(f"{kind}: step {step}/{steps} loss {loss.item():.4f} ({(time.monotonic() - started) / done:.2f} s/step)")
        if time.monotonic() - last_save > save_every_s or step == steps or done == stop_after:
            _save_atomic({"run": run_id, "step": step, "model": model.state_dict(),
                          "optimizer": optimizer.state_dict()}, state_path)
            last_save = time.monotonic()
    return model.eval().requires_grad_(False)


@torch.inference_mode()
def video_text_scores(model: VideoTextModel, clips: np.ndarray, attrs: np.ndarray, batch: int = 64) -> dict:
    """Text->video retrieval top-1 (full captions; a hit is a clip with every named attribute) and
    zero-shot class accuracy from the class prompts (`class_prompt`), on the given clips."""
    videos = torch.cat([model.encode_video(to_model_input(torch.from_numpy(clips[s:s + batch]), model.num_frames,
                                                          model.size)) for s in range(0, len(clips), batch)])
    full = np.ones((len(attrs), 4), dtype=bool)
    captions = [data.describe(a, m) for a, m in zip(attrs, full)]
    unique, first = np.unique(captions, return_index=True)
    texts = model.encode_text(model.tokenizer(list(unique)))
    best = (texts @ videos.T).argmax(1).numpy()
    hits = data.consistent(attrs[first], full[first], attrs)[np.arange(len(unique)), best]
    prompts = model.encode_text(model.tokenizer([class_prompt(c) for c in CLASSES]))
    predicted = (videos @ prompts.T).argmax(1).numpy()
    return {"text_to_video_top1": float(hits.mean()), "num_queries": int(len(unique)),
            "class_prompt_accuracy": float((predicted == attrs[:, 0]).mean()), "num_clips": int(len(clips))}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lumiere-eval train-evaluators`."""
    from lumiere_eval.assets import asset

    parser.add_argument("--out", type=str, default=str(asset("models", "in-domain-evaluators")),
                        help="Folder for the exported checkpoints and results.json (default: the shipped folder).")
    parser.add_argument("--work", type=str, default="runs/in-domain-evaluators",
                        help="Folder for resumable training states (a rerun resumes from here).")
    parser.add_argument("--classifier-steps", type=int_range(0), default=600, help="Classifier optimisation steps.")
    parser.add_argument("--video-text-steps", type=int_range(0), default=600,
                        help="Video-text model optimisation steps.")
    parser.add_argument("--batch", type=int_range(1), default=32, help="Clips per step.")
    parser.add_argument("--lr", type=float_range(0, low_open=True), default=2e-3,
                        help="Peak AdamW learning rate (cosine decay to 0).")
    parser.add_argument("--seed", type=int_range(0), default=0, help="Seed of initial weights and of every batch.")
    parser.add_argument("--train-clips-per-group", type=int_range(1), default=8,
                        help="Clips rendered per (class, group) of the train split (the test split keeps 4).")
    parser.add_argument("--save-every", type=float_range(0, low_open=True), default=120.0,
                        help="Seconds between resumable saves.")
    parser.add_argument("--threads", type=int_range(1), default=1, help="torch CPU threads.")


def run(args: argparse.Namespace) -> int:
    """Train (or resume) both models, evaluate them, export checkpoints and results.json."""
    from lumiere_eval.extractors.download import sha256_file

    torch.set_num_threads(args.threads)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    train_domain = SyntheticDomain(32, 32, 16, clips_per_group=args.train_clips_per_group)
    test_domain = SyntheticDomain(32, 32, 16)
    train_clips, train_specs = data.render_split(train_domain, "train")
    test_clips, test_specs = data.render_split(test_domain, "test")
    train_attrs, test_attrs = data.attributes(train_specs), data.attributes(test_specs)
    print(f"rendered {len(train_clips)} train and {len(test_clips)} test clips in {time.monotonic() - started:.0f} s")
    common = {"batch": args.batch, "lr": args.lr, "seed": args.seed, "save_every_s": args.save_every}
    classifier = train("classifier", {"num_classes": len(CLASSES)}, train_clips, train_attrs,
                       args.classifier_steps, state_path=work / "classifier-state.pt", **common)
    video_text = train("video_text", {"vocabulary": test_domain.vocabulary()}, train_clips, train_attrs,
                       args.video_text_steps, state_path=work / "video-text-state.pt", **common)
    export(classifier, out / CHECKPOINTS["classifier"])
    export(video_text, out / CHECKPOINTS["video_text"])

    _, test_probs = classifier_outputs(classifier, test_clips)
    _, train_probs = classifier_outputs(classifier, train_clips)
    results = {
        "command": "lumiere-eval train-evaluators " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out", "work", "func")),
        "classifier": {"test_accuracy": float((test_probs.argmax(1) == test_attrs[:, 0]).mean()),
                       "train_accuracy": float((train_probs.argmax(1) == train_attrs[:, 0]).mean()),
                       "num_test_clips": len(test_clips), "num_train_clips": len(train_clips)},
        "video_text": {"test": video_text_scores(video_text, test_clips, test_attrs)},
        "sanity": sanity.measure(classifier, video_text, SyntheticDomain(32, 32, 16)),
        "sha256": {name: sha256_file(out / name) for name in CHECKPOINTS.values()},
        "seconds": round(time.monotonic() - started, 1),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return 0


def main() -> int:
    """`python -m lumiere_eval.training.evaluators`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
