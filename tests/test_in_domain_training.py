"""In-domain evaluators: input protocol, tokenizer and captions, corruptions, and training at tiny size
(deterministic, resumable, exported checkpoints reload with weights_only=True)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lumiere_eval.extractors.in_domain.networks import InDomainInputError, Tokenizer, load_checkpoint, to_model_input
from lumiere_eval.extractors.weight_files import WeightsError
from lumiere_eval.datasets.synthetic import CLASSES, SyntheticDomain, class_prompt
from lumiere_eval.training import evaluator_data as data
from lumiere_eval.training import evaluator_sanity as sanity
from lumiere_eval.training.evaluators import TrainingError, export, train

TINY_CLASSIFIER = {"num_classes": len(CLASSES), "widths": [4, 4, 8, 8], "feature_dim": 8, "num_frames": 8, "size": 16}


@pytest.fixture(scope="module")
def tiny_set():
    domain = SyntheticDomain(16, 16, 8, groups=3, clips_per_group=1, test_groups=1)
    clips, specs = data.render_split(domain, "train")
    return domain, clips, data.attributes(specs)


def test_model_input_resamples_frames_and_resizes_to_unit_range():
    clips = torch.zeros(2, 5, 40, 24, 3, dtype=torch.uint8)
    clips[:, :, :, :, 0] = torch.arange(5, dtype=torch.uint8).view(1, 5, 1, 1) * 60   # frame index in red
    x = to_model_input(clips, num_frames=9, size=16)
    assert x.shape == (2, 3, 9, 16, 16)
    # 9 evenly spaced indices over 5 frames: 0,0.5,...,4 rounded (numpy rounds half to even)
    expected = np.linspace(0, 4, 9).round() * 60 / 127.5 - 1
    assert np.allclose(x[0, 0, :, 8, 8].numpy(), expected, atol=1e-5)
    assert float(x[:, 1].max()) == -1.0
    same = torch.randint(0, 256, (1, 9, 16, 16, 3), dtype=torch.uint8)
    assert torch.equal(to_model_input(same, 9, 16), same.permute(0, 4, 1, 2, 3).float() / 127.5 - 1)
    with pytest.raises(InDomainInputError, match="uint8"):
        to_model_input(same.float(), 9, 16)


def test_captions_match_the_domain_and_class_prompts():
    domain = SyntheticDomain(16, 16, 4)
    specs = list(domain.specs("test"))[::37]
    attrs = data.attributes(specs)
    for spec, a in zip(specs, attrs):
        assert data.describe(a, np.ones(4, bool)) == spec.caption
        assert data.describe(a, np.array([True, False, False, False])) == class_prompt(spec.action)
    captions, masks = data.caption_variants(attrs, np.random.default_rng(0))
    match = data.consistent(attrs, masks, attrs)
    assert match.diagonal().all()       # every caption describes its own clip
    general = data.consistent(attrs, np.array([[True, False, False, False]] * len(attrs)), attrs)
    assert (general == (attrs[:, None, 0] == attrs[None, :, 0])).all()
    tokenizer = Tokenizer(domain.vocabulary(), max_words=6)
    ids = tokenizer(["A red square, moving LEFT!", "a purple blob"])
    assert ids.shape == (2, 6) and (ids[0, :5] > 1).all() and ids[0, 5] == 0
    assert ids[1, 1] == 1 and ids[1, 2] == 1        # unknown words
    assert tokenizer.unknown_words("a purple blob") == ["purple", "blob"]
    assert tokenizer(["", "!!"]).tolist() == [[1, 0, 0, 0, 0, 0]] * 2      # no words: one <unk>


def test_corruptions_change_what_they_say():
    clips = np.random.default_rng(0).integers(0, 256, (3, 8, 4, 4, 3), dtype=np.uint8)
    frozen = sanity.corrupt(clips, "freeze", 1.0)
    assert (frozen == clips[:, :1]).all()
    half = sanity.corrupt(clips, "freeze", 0.5)
    assert (half[:, :4] == clips[:, :4]).all() and (half[:, 4:] == clips[:, 3:4]).all()
    shuffled = sanity.corrupt(clips, "shuffle", 1.0, seed=1)
    assert sorted(map(bytes, shuffled[0])) == sorted(map(bytes, clips[0])) and not (shuffled == clips).all()
    noisy = sanity.corrupt(clips, "noise", 16.0)
    assert 10 < np.abs(noisy.astype(float) - clips).mean() < 16
    with pytest.raises(Exception, match="unknown corruption"):
        sanity.corrupt(clips, "blur", 1.0)


@pytest.mark.parametrize("kind", ["classifier", "video_text"])
def test_training_is_deterministic_and_resumes_exactly(tmp_path, tiny_set, kind):
    torch.set_num_threads(1)
    domain, clips, attrs = tiny_set
    config = TINY_CLASSIFIER if kind == "classifier" else {
        "vocabulary": domain.vocabulary(), "widths": [4, 4, 8, 8], "dim": 8, "max_words": 12, "num_frames": 8,
        "size": 16}
    args = {"steps": 4, "batch": 6, "lr": 1e-2, "seed": 3, "log": lambda _: None}
    straight = train(kind, config, clips, attrs, state_path=tmp_path / "a.pt", **args)
    train(kind, config, clips, attrs, state_path=tmp_path / "b.pt", stop_after=2, **args)
    assert torch.load(tmp_path / "b.pt", weights_only=True)["step"] == 2
    resumed = train(kind, config, clips, attrs, state_path=tmp_path / "b.pt", **args)
    fresh = train(kind, config, clips, attrs, state_path=tmp_path / "c.pt", **{**args, "steps": 1})
    for (name, a), b, c in zip(straight.state_dict().items(), resumed.state_dict().values(),
                               fresh.state_dict().values()):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, c) for a, c in zip(straight.state_dict().values(), fresh.state_dict().values()))
    with pytest.raises(TrainingError, match="different run"):
        train(kind, config, clips, attrs, state_path=tmp_path / "a.pt", **{**args, "seed": 4})
    export(straight, tmp_path / "model.pt")
    loaded = load_checkpoint(tmp_path / "model.pt", kind)
    assert not loaded.training
    for a, b in zip(straight.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(3)}, bad)
    with pytest.raises(WeightsError, match="bad.pt"):
        load_checkpoint(bad, "classifier")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(WeightsError, match="text.pt"):
        load_checkpoint(tmp_path / "text.pt", "video_text")
