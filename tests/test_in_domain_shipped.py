"""The shipped in-domain evaluators: registered and checksum-verified, interchangeable with I3D / C3D /
CLIP through `create_extractor`, accurate on held-out clips, and metrics that behave (sanity at small size)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from lumiere_eval.extractors import create_extractor
from lumiere_eval.extractors.base import ExtractorInputError
from lumiere_eval.extractors.in_domain import shipped
from lumiere_eval.training import evaluator_sanity as sanity
from lumiere_eval.training.evaluator_data import attributes
from lumiere_eval.extractors.in_domain.extractors import UnknownWordsWarning
from lumiere_eval.extractors.weights import resolve
from lumiere_eval.metrics import MetricInputError, inception_score
from lumiere_eval.metrics.values import clipsim_per_sample
from lumiere_eval.datasets.synthetic import CLASSES, SyntheticDomain, render

DOMAIN = SyntheticDomain(32, 32, 16)


def subset(split: str, groups: int, clip: int = 0):
    """Clips of the first `groups` groups of every class of `split` (one clip each): uint8 clips, specs."""
    per_class = len(DOMAIN.split_groups(split)) * DOMAIN.clips_per_group
    specs = [DOMAIN.spec(label * per_class + g * DOMAIN.clips_per_group + clip, split)
             for label in range(len(CLASSES)) for g in range(groups)]
    return np.stack([render(s, 32, 32, 16) for s in specs]), specs


@pytest.fixture(scope="module")
def extractors():
    torch.set_num_threads(1)
    load = {"fetch_missing": False, "device": "cpu", "batch_size": 32}
    return {name: create_extractor(name, **load) for name in ("synthetic-i3d", "synthetic-c3d", "synthetic-clip")}


@pytest.fixture(scope="module")
def heldout():
    return subset("test", 4)


def test_shipped_checkpoints_are_small_and_checksum_verified():
    total = 0
    for name, (filename, sha256, _flag, _desc) in shipped.SHIPPED.items():
        resolved = resolve(name, fetch_missing=False)
        assert resolved.path == shipped.shipped_path(filename) and resolved.path.is_file()
        assert resolved.verified and resolved.sha256 == sha256, resolved.status
        total += resolved.path.stat().st_size
    assert total <= 5 * 2 ** 20


def test_classifier_extractors_on_heldout_clips(extractors, heldout):
    clips, specs = heldout
    labels = attributes(specs)[:, 0]
    i3d, c3d = extractors["synthetic-i3d"], extractors["synthetic-c3d"]
    features, probs = i3d.extract(clips), c3d.extract(clips)
    assert features.shape == (len(clips), i3d.dim) and probs.shape == (len(clips), len(CLASSES))
    assert np.allclose(probs.sum(1), 1, atol=1e-5) and (probs >= 0).all()
    assert (probs.argmax(1) == labels).mean() >= 0.9          # 48 held-out clips; chance 1/12
    assert i3d.describe()["weights"]["verified"] and c3d.output == "probs" and i3d.output == "features"
    # The input protocol brings other sizes and lengths to 16 x 32 x 32: a 2x upscaled clip with every
    # frame doubled gives nearly the same features.
    big = torch.from_numpy(clips[:12]).repeat_interleave(2, 1).repeat_interleave(2, 2).repeat_interleave(2, 3)
    again = i3d.extract(big.numpy())
    assert np.abs(again - features[:12]).max() < 0.1 * np.abs(features[:12]).max()
    resized = create_extractor("synthetic-c3d", fetch_missing=False, frame_size=64).extract(clips[:12])
    assert resized.shape == (12, len(CLASSES)) and (resized.argmax(1) == labels[:12]).mean() >= 0.75
    with pytest.raises(ExtractorInputError):
        i3d.extract(clips.astype(np.float32))


def test_video_text_extractor_has_clip_interface_and_prefers_the_right_caption(extractors, heldout):
    clips, specs = heldout
    clip = extractors["synthetic-clip"]
    frames = clip.frame_embeddings(clips)
    texts = clip.text_embeddings([s.caption for s in specs])
    assert frames.shape == (len(clips), 1, clip.dim) and texts.shape == (len(clips), clip.dim)
    assert np.allclose(np.linalg.norm(frames, axis=-1), 1, atol=1e-5)
    captions = [s.caption for s in specs]
    own = clipsim_per_sample(frames, clip.text_embeddings(captions))
    other = clipsim_per_sample(frames, clip.text_embeddings([specs[(i + 24) % len(specs)].caption
                                                             for i in range(len(specs))]))  # other class
    assert own.shape == (len(clips),) and (own > other).mean() >= 0.9
    assert own.mean() > other.mean() + 20
    with pytest.warns(UnknownWordsWarning, match="purple"):
        clip.text_embeddings(["a purple square moving left"])
    with pytest.raises(MetricInputError, match="2 videos but 1 prompts"):
        clipsim_per_sample(clip.frame_embeddings(clips[:2]), clip.text_embeddings(["one prompt"]))
    assert np.isfinite(clip.text_embeddings([""])).all()
    # Built the way the runner builds CLIP (num_frames is accepted; the encoder sees the whole clip).
    same_extractor = create_extractor("synthetic-clip", fetch_missing=False, num_frames=8)
    same = clipsim_per_sample(same_extractor.frame_embeddings(clips[:4]), same_extractor.text_embeddings(captions[:4]))
    assert np.allclose(same, own[:4], atol=1e-4)


def test_fvd_and_is_behave_at_small_size(extractors, heldout):
    reference, _ = subset("train", 8)
    clips, _ = heldout
    i3d, c3d = extractors["synthetic-i3d"], extractors["synthetic-c3d"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = sanity.fvd_table(i3d.extract, reference, clips)
    for kind, strengths in sanity.CORRUPTIONS.items():
        values = [table[kind][str(s)] for s in strengths]
        assert values == sorted(values), (kind, values)               # grows with the corruption
        assert values[-1] > 5 * table["real"], (kind, values, table["real"])
    assert max(table[k][str(s[0])] for k, s in sanity.CORRUPTIONS.items()) > 2 * table["real"]
    score, _ = inception_score(c3d.extract(clips), splits=1)
    assert score > 0.8 * len(CLASSES)
