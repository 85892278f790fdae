"""The synthetic action domain: determinism, classes that differ only over time, the UCF101 layout on disk."""
from __future__ import annotations

import numpy as np
import pytest

from lumiere_eval.datasets.synthetic import (CLASSES, SyntheticDomain, SyntheticDomainError, class_prompt,
                                              clip_spec, render, write_ucf_layout)


def _centroid_track(frames: np.ndarray) -> np.ndarray:
    """Per-frame centre of mass of the pixels that differ from the clip's per-pixel median (the object)."""
    diff = np.abs(frames.astype(np.float64) - np.median(frames, axis=0)).sum(-1)
    ys, xs = np.mgrid[: frames.shape[1], : frames.shape[2]]
    mass = diff.sum((1, 2)) + 1e-9
    return np.stack([(diff * xs).sum((1, 2)) / mass, (diff * ys).sum((1, 2)) / mass], 1)


def test_at_least_ten_classes_with_captions_naming_appearance():
    domain = SyntheticDomain(16, 16, 8, groups=4, clips_per_group=1, test_groups=1)
    assert len(CLASSES) >= 10
    seen = set()
    for spec in domain.specs("train"):
        assert spec.colour in spec.caption and spec.shape in spec.caption and spec.background in spec.caption
        assert set(spec.caption.split()) <= set(domain.vocabulary())
        seen.add(spec.label)
    assert seen == set(range(len(CLASSES)))
    assert all(set(class_prompt(c).split()) <= set(domain.vocabulary()) for c in CLASSES)
    with pytest.raises(SyntheticDomainError, match="Jump"):
        class_prompt("Jump")


def test_sample_is_deterministic_and_independent_of_order():
    domain = SyntheticDomain(24, 20, 10)
    a = [domain.sample(i, "test") for i in (5, 17, 3)]
    b = [domain.sample(i, "test") for i in (3, 17, 5)][::-1]
    for (fa, la, ca), (fb, lb, cb) in zip(a, b):
        assert fa.dtype == np.uint8 and fa.shape == (10, 24, 20, 3)
        np.testing.assert_array_equal(fa, fb)
        assert (la, ca) == (lb, cb)
    assert not np.array_equal(a[0][0], a[2][0])


def test_splits_are_disjoint_groups_and_bad_arguments_raise():
    domain = SyntheticDomain(8, 8, 4, groups=5, clips_per_group=2, test_groups=2)
    train = {s.name for s in domain.specs("train")}
    test = {s.name for s in domain.specs("test")}
    assert not train & test and len(train) == 12 * 3 * 2 and len(test) == 12 * 2 * 2
    with pytest.raises(SyntheticDomainError, match="val"):
        domain.sample(0, "val")
    with pytest.raises(SyntheticDomainError, match="index 999"):
        domain.sample(999, "test")


def test_time_reversed_pairs_have_identical_frame_sets_but_opposite_motion():
    """MoveLeft/MoveRight are time reversals: the same multiset of frames, told apart only by their order."""
    left = clip_spec(CLASSES.index("MoveLeft"), 3, 1)
    right = clip_spec(CLASSES.index("MoveRight"), 3, 1)
    right = type(right)(**{**right.__dict__, "colour": left.colour, "shape": left.shape,
                           "background": left.background, "size": left.size, "cross": left.cross})
    fl, fr = render(left, 32, 32, 12), render(right, 32, 32, 12)
    np.testing.assert_array_equal(fl, fr[::-1])
    assert np.diff(_centroid_track(fl)[:, 0]).mean() < -0.5 < 0.5 < np.diff(_centroid_track(fr)[:, 0]).mean()


@pytest.mark.parametrize("action", ["MoveLeft", "MoveDown", "Bounce", "Orbit", "Pendulum", "Grow", "Rotate",
                                    "CameraPan"])
def test_frame_shuffle_destroys_the_temporal_statistic(action):
    """Mean squared frame-to-frame change is small in the real order and grows once frames are shuffled."""
    frames = render(clip_spec(CLASSES.index(action), 9, 2), 32, 32, 16).astype(np.float64)
    shuffled = frames[np.random.default_rng(0).permutation(16)]
    step = (np.diff(frames, axis=0) ** 2).mean()
    assert step > 0, "the class must change something over time"
    assert (np.diff(shuffled, axis=0) ** 2).mean() > 1.2 * step


def test_blink_alternates_between_two_frames_in_runs():
    frames = render(clip_spec(CLASSES.index("Blink"), 9, 2), 32, 32, 16)
    assert len(np.unique(frames.reshape(16, -1), axis=0)) == 2
    switches = np.flatnonzero(np.abs(np.diff(frames.astype(int), axis=0)).sum((1, 2, 3)))
    assert 2 <= len(switches) <= 5 and np.diff(np.r_[-1, switches, 15]).min() >= 2


def test_ucf_layout_round_trip(tmp_path):
    from lumiere_eval.video import read_video

    domain = SyntheticDomain(16, 16, 6, fps=8, groups=3, clips_per_group=1, test_groups=1)
    root = write_ucf_layout(tmp_path / "syn", domain)
    lists = root / "ucfTrainTestlist"
    class_ind = (lists / "classInd.txt").read_bytes()
    assert class_ind.endswith(b"\r\n") and class_ind.count(b"\r\n") == len(CLASSES)
    assert class_ind.decode().splitlines()[0] == f"1 {CLASSES[0]}"
    train = (lists / "trainlist01.txt").read_bytes().decode().split("\r\n")[:-1]
    test = (lists / "testlist01.txt").read_bytes().decode().split("\r\n")[:-1]
    assert len(train) == 12 * 2 and len(test) == 12
    rel, label = train[5].split(" ")
    klass = rel.split("/")[0]
    assert CLASSES[int(label) - 1] == klass and rel.startswith(f"{klass}/v_{klass}_g")
    frames, fps = read_video(root / "UCF-101" / rel)
    index = [s.name for s in domain.specs("train")].index(rel.split("/")[1][:-4])
    expected, _, _ = domain.sample(index, "train")
    assert frames.shape == expected.shape and fps == pytest.approx(8, abs=0.01)
    # lossy mpeg4 at 16x16: close, not equal
    assert np.abs(frames.astype(float) - expected).mean() < 12
    assert all((root / "UCF-101" / t).is_file() for t in test)
