"""Sanity of the in-domain metrics: FVD of real against real held-out clips is small, FVD against corrupted
copies of the held-out clips (shuffled frames, frozen frames, added noise) grows with the corruption, and
the Inception Score of real clips is close to the number of classes."""
from __future__ import annotations

import numpy as np
import torch

from lumiere_eval import LumiereEvalError
from lumiere_eval.extractors.in_domain.networks import VideoClassifier, to_model_input

# Corruption -> strengths, weakest first: fraction of frames shuffled / frozen, noise sigma in 0..255 units.
CORRUPTIONS: dict[str, tuple[float, ...]] = {
    "shuffle": (0.25, 0.5, 1.0),
    "freeze": (0.25, 0.5, 1.0),
    "noise": (8.0, 24.0, 64.0),
}


def corrupt(clips: np.ndarray, kind: str, strength: float, seed: int = 0) -> np.ndarray:
    """A corrupted copy of uint8 clips `[N, T, H, W, 3]`.

    shuffle: a random `strength` fraction of frame positions is permuted at random (per clip);
    freeze: the last `strength` fraction of the frames repeat the frame before them (1.0: a still image);
    noise: Gaussian noise of standard deviation `strength` (0..255 scale), rounded and clipped.
    """
    rng = np.random.default_rng(seed)
    out = clips.copy()
    n, t = clips.shape[:2]
    if kind == "shuffle":
        count = int(round(strength * t))
        for i in range(n):
            chosen = np.sort(rng.choice(t, size=count, replace=False))
            out[i, chosen] = clips[i, rng.permutation(chosen)]
    elif kind == "freeze":
        frozen = int(round(strength * (t - 1)))
        if frozen:
            out[:, t - frozen:] = clips[:, t - frozen - 1:t - frozen]
    elif kind == "noise":
        noisy = clips.astype(np.float64) + rng.normal(0.0, strength, size=clips.shape)
        out = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    else:
        raise LumiereEvalError(f"unknown corruption {kind!r}; known: {', '.join(CORRUPTIONS)}")
    return out


@torch.inference_mode()
def classifier_outputs(model: VideoClassifier, clips: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(features `[N, feature_dim]`, softmax probabilities `[N, classes]`) of uint8 clips."""
    feats, probs = [], []
    for start in range(0, len(clips), batch):
        x = to_model_input(torch.from_numpy(clips[start:start + batch]), model.num_frames, model.size)
        f, logits = model.features_and_logits(x)
        feats.append(f.numpy())
        probs.append(logits.softmax(-1).numpy())
    return np.concatenate(feats).astype(np.float64), np.concatenate(probs).astype(np.float64)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between the Gaussians of two feature sets (unbiased covariances)."""
    from lumiere_eval.metrics import FeatureStats, frechet_distance_from_stats

    return frechet_distance_from_stats(FeatureStats.from_features(a), FeatureStats.from_features(b))


def fvd_table(features, reference: np.ndarray, heldout: np.ndarray, seed: int = 0) -> dict:
    """FVD of `reference` clips against `heldout` clips, plain and under every corruption and strength.

    `features(clips uint8 [N, T, H, W, 3]) -> [N, D]`. Returns {"real": fvd, kind: {strength: fvd}}.
    """
    ref = features(reference)
    table: dict = {"real": frechet(ref, features(heldout))}
    for kind, strengths in CORRUPTIONS.items():
        table[kind] = {str(s): frechet(ref, features(corrupt(heldout, kind, s, seed))) for s in strengths}
    return table


def measure(classifier, video_text, domain, seed: int = 0) -> dict:
    """Sanity figures of the trained models on `domain`: FVD (train split vs test split, and corrupted
    test split), IS of real test and train clips (1 and 10 splits), and the mean in-domain CLIPSIM of
    test clips with their own caption against a caption of another class."""
    from lumiere_eval.metrics import clip_similarity, inception_score
    from lumiere_eval.training.evaluator_data import attributes, render_split

    train_clips, _ = render_split(domain, "train")
    test_clips, test_specs = render_split(domain, "test")
    table = fvd_table(lambda c: classifier_outputs(classifier, c)[0], train_clips, test_clips, seed)
    _, test_probs = classifier_outputs(classifier, test_clips)
    _, train_probs = classifier_outputs(classifier, train_clips)
    with torch.inference_mode():
        videos = video_text.encode_video(to_model_input(torch.from_numpy(test_clips), video_text.num_frames,
                                                        video_text.size)).numpy()
        captions = [s.caption for s in test_specs]
        other = [test_specs[(i + len(test_specs) // 2) % len(test_specs)].caption for i in range(len(test_specs))]
        own = video_text.encode_text(video_text.tokenizer(captions)).numpy()
        wrong = video_text.encode_text(video_text.tokenizer(other)).numpy()
    labels = attributes(test_specs)[:, 0]
    differs = labels != np.roll(labels, -(len(test_specs) // 2))
    return {
        "fvd_train_vs_test": table,
        "num_reference_clips": int(len(train_clips)), "num_heldout_clips": int(len(test_clips)),
        "inception_score_test": {"splits_1": inception_score(test_probs, splits=1)[0],
                                 "splits_10": list(inception_score(test_probs, splits=10, shuffle_seed=seed))},
        "inception_score_train": {"splits_1": inception_score(train_probs, splits=1)[0]},
        "num_classes": int(test_probs.shape[1]),
        "clipsim_test": {"own_caption": float(np.mean([clip_similarity(v[None], t) for v, t in zip(videos, own)])),
                         "other_class_caption": float(np.mean([clip_similarity(v[None], t)
                                                               for v, t, d in zip(videos, wrong, differs) if d]))},
    }
