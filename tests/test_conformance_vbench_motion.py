"""VBench's motion smoothness against vbench 0.1.5's own code: its AMT-S class (`third_party/amt/networks/AMT-S.py`)
against ours with one random state dict, and its `MotionSmoothness` (built by its own constructor from its
`AMT-S.yaml` and a random checkpoint file written here; its loaders that download are never called) against our
frame re-synthesis and score on the same uint8 frames. `-s` prints the measured differences
(docs/conformance.md)."""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

from lumiere_eval.extractors.vbench.amt import NUM_KEYS, AmtS, load_amt
from lumiere_eval.extractors.vbench.features import amt_interpolated
from lumiere_eval.metrics.vbench import interpolation_score

cv2 = pytest.importorskip("cv2")


def _stand_ins_for_missing_imports() -> list[str]:
    """vbench.motion_smoothness imports omegaconf (`OmegaConf.load(cfg).network`) and, through AMT's utils, imageio
    (`imread`, `imwrite`, unused on this path). Both are dev dependencies (pyproject.toml); where one is not
    installed, a stand-in module takes its place: `OmegaConf.load` parses the YAML with PyYAML into attribute
    access (AMT-S.yaml holds plain strings and integers), imageio's two names raise if ever called. The stand-ins
    stay in `sys.modules` only while vbench imports (`_import_vbench_motion`): vbench keeps the names it bound, and
    other tests' `find_spec("imageio")` still sees the package as absent."""
    import sys
    import types

    added = []
    try:
        import omegaconf  # noqa: F401
    except ImportError:
        import yaml

        class _Node(dict):
            __getattr__ = dict.__getitem__

        def _node(value):
            return _Node({k: _node(v) for k, v in value.items()}) if isinstance(value, dict) else value

        module = types.ModuleType("omegaconf")
        module.OmegaConf = types.SimpleNamespace(load=lambda path: _node(yaml.safe_load(Path(path).read_text())))
        sys.modules["omegaconf"] = module
        added.append("omegaconf")
    try:
        import imageio  # noqa: F401
    except ImportError:
        def _unused(*args, **kwargs):
            raise RuntimeError("imageio stand-in: not installed")

        sys.modules["imageio"] = types.SimpleNamespace(imread=_unused, imwrite=_unused)
        added.append("imageio")
    return added


def _import_vbench_motion():
    """vbench.motion_smoothness, imported with the stand-ins, which are then taken out of `sys.modules`."""
    import sys

    added = _stand_ins_for_missing_imports()
    try:
        return pytest.importorskip("vbench.motion_smoothness")
    finally:
        for name in added:
            del sys.modules[name]


vbench_motion = _import_vbench_motion()
AMT_S_YAML = Path(vbench_motion.__file__).parent / "third_party" / "amt" / "cfgs" / "AMT-S.yaml"


def vbench_amt_s(seed: int = 0) -> torch.nn.Module:
    """vbench's AMT-S at cfgs/AMT-S.yaml's size, default initialisation with random biases and PReLU slopes (zero
    biases would hide a missing one; this keeps the output mostly inside (0, 1), so the clamp does not hide it)."""
    torch.manual_seed(seed)
    model = importlib.import_module("vbench.third_party.amt.networks.AMT-S").Model(corr_radius=3, corr_lvls=4,
                                                                                  num_flows=3)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
            elif p.ndim == 1:  # PReLU slopes
                p.copy_(0.25 + 0.05 * torch.randn(p.shape, generator=g))
    return model.eval()


def _videos(seed: int = 3) -> dict[str, np.ndarray]:
    """Three uint8 videos at sizes that need padding to multiples of 16: a smooth pan (7 frames), a pan with every
    other frame jittered (6 frames: the last frame has no counterpart), a static one with noise (5 frames)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, frames, h, w, jitter in (("pan", 7, 130, 150, 0), ("jitter", 6, 120, 176, 9), ("still", 5, 144, 129, 0)):
        base = cv2.GaussianBlur(rng.integers(0, 256, (h + 20, w + 4 * frames + 20, 3)).astype(np.uint8), (0, 0), 3)
        shift = 0 if name == "still" else 4
        clip = np.stack([base[10 + jitter * (t % 2):10 + jitter * (t % 2) + h, shift * t:shift * t + w]
                         for t in range(frames)]).astype(np.float64)
        out[name] = np.clip(clip + rng.normal(0, 3, clip.shape), 0, 255).astype(np.uint8)
    return out


def test_amt_network_equals_vbench_amt_s():
    torch.set_num_threads(1)
    reference = vbench_amt_s()
    ours = AmtS().eval()
    assert len(reference.state_dict()) == NUM_KEYS
    ours.load_state_dict(reference.state_dict())  # strict: the checkpoint's keys and shapes
    base = torch.rand(1, 3, 160, 240, generator=torch.Generator().manual_seed(1))
    worst, inside = 0.0, []
    for h, w in ((128, 160), (144, 208)):
        img0, img1 = base[..., :h, :w], base[..., 8:h + 8, 12:w + 12]
        with torch.no_grad():
            theirs = reference(img0, img1, torch.tensor(0.5).view(1, 1, 1, 1), scale_factor=1.0, eval=True)
            mine = ours(img0, img1, 0.5)
        worst = max(worst, (mine - theirs["imgt_pred"]).abs().max().item())
        inside.append(((mine > 0) & (mine < 1)).float().mean().item())
    print(f"\nAMT-S vs vbench's AMT-S (128x160, 144x208): max abs difference {worst:.1e}; "
          f"outputs inside (0, 1): {inside}")
    assert worst < 1e-5
    assert min(inside) > 0.5  # not a comparison of clamped constants


def test_interpolation_score_equals_vbench_vfi_score():
    judge = vbench_motion.MotionSmoothness.__new__(vbench_motion.MotionSmoothness)  # its maths only, no network
    judge.fp = vbench_motion.FrameProcess()
    rng = np.random.default_rng(5)
    worst = 0.0
    for frames in (3, 4, 7, 16):
        video = rng.integers(0, 256, (frames, 9, 11, 3)).astype(np.uint8)
        made = rng.integers(0, 256, ((frames + 1) // 2 - 1, 9, 11, 3)).astype(np.uint8)
        interleaved = [video[0]] + [f for pair in zip(made, video[2::2]) for f in pair]  # motion_score's outputs
        theirs = (255.0 - judge.vfi_score(list(video), interleaved)) / 255.0
        worst = max(worst, abs(interpolation_score(video, made) - theirs))
    print(f"\nmotion smoothness score vs vbench vfi_score (3, 4, 7, 16 frames): max abs difference {worst:.1e}")
    assert worst < 1e-12


def test_motion_smoothness_equals_vbench(tmp_path, monkeypatch):
    """vbench's MotionSmoothness on image folders against ours on the same frames: re-made frames, per-video scores,
    aggregate. The frames are written as BMP (lossless, read back by its cv2.imread): PNG would go through cv2's
    libpng, whose zlib clashes with the one another test's imports load first in the same process."""
    torch.set_num_threads(1)
    reference_net = vbench_amt_s(2)
    torch.save({"epoch": 0, "state_dict": reference_net.state_dict()}, tmp_path / "amt-s.pth")
    reference = vbench_motion.MotionSmoothness(str(AMT_S_YAML), str(tmp_path / "amt-s.pth"), "cpu")
    seen = []
    vfi_score = reference.vfi_score
    monkeypatch.setattr(reference, "vfi_score", lambda ori, made: seen.append(made[1::2]) or vfi_score(ori, made))
    videos = _videos()
    folders = []
    for name, frames in videos.items():
        (tmp_path / name).mkdir()
        for t, frame in enumerate(frames):
            cv2.imwrite(str(tmp_path / name / f"{t:03d}.bmp"), frame[..., ::-1])
        folders.append(str(tmp_path / name))
    value, per_video = vbench_motion.motion_smoothness(reference, folders)

    ours_model = load_amt(tmp_path / "amt-s.pth")
    scores, frame_diff, differing = [], 0, 0
    for frames, theirs in zip(videos.values(), seen):
        made = amt_interpolated(ours_model, frames).numpy()
        assert made.shape == np.stack(theirs).shape
        diff = np.abs(made.astype(int) - np.stack(theirs).astype(int))
        frame_diff, differing = max(frame_diff, int(diff.max())), differing + int((diff > 0).sum())
        scores.append(interpolation_score(frames, made))
    theirs = [float(r["video_results"]) for r in per_video]
    score_diff = max(abs(a - b) for a, b in zip(scores, theirs))
    print(f"\nmotion smoothness vs vbench (130x150x7, 120x176x6, 144x129x5): re-made frames max difference "
          f"{frame_diff} levels ({differing} values differ); scores {scores} vs {theirs}: max abs difference "
          f"{score_diff:.1e}; aggregate {abs(np.mean(scores) - value):.1e}")
    assert frame_diff <= 1 and differing <= 1e-3 * sum(np.stack(t).size for t in seen)
    assert score_diff < 1e-5 and abs(np.mean(scores) - value) < 1e-5
    assert max(theirs) - min(theirs) > 1e-4  # the videos score differently: not a comparison of constants
