"""VBench's dimensions against vbench 0.1.5's own dimension code, on the same frames and the same networks
(random weights at reduced size; vbench's loaders download and are never called: its `load_video` is replaced by
one returning the frames it would decode). `-s` prints the measured differences (docs/conformance.md)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from vbench_fixtures import perturbed
import torch.nn.functional as F

from lumiere_eval.extractors.vbench.dino import DinoViT, check_dino_state_dict, expected_layout, load_dino
from lumiere_eval.extractors.vbench.features import (aesthetic_scores, clip_image_features, dino_features,
                                                     load_aesthetic_head)
from lumiere_eval.extractors.weights import WeightsError
from lumiere_eval.metrics.vbench import consistency_pairs, consistency_score, pooled_consistency

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # clip imports the deprecated pkg_resources
    vbench_subject = pytest.importorskip("vbench.subject_consistency")
    vbench_background = pytest.importorskip("vbench.background_consistency")
    vbench_aesthetic = pytest.importorskip("vbench.aesthetic_quality")
    from clip.model import CLIP

TINY_DINO = {"dim": 32, "depth": 2, "heads": 4, "patch_size": 16, "img_size": 224}


def _videos(seed: int = 0):
    """Three uint8 videos: square, landscape (DINO's position table interpolated), portrait; smooth motion so that
    consecutive frames are alike and the first-frame term differs from the previous-frame one."""
    rng = np.random.default_rng(seed)
    out = []
    for frames, h, w in ((6, 64, 64), (5, 48, 80), (4, 72, 40)):
        base = rng.integers(0, 256, (h, w + 3 * frames, 3)).astype(np.float32)
        clip = np.stack([base[:, 3 * t:3 * t + w] for t in range(frames)])
        clip += rng.normal(0, 8, clip.shape)
        out.append(np.clip(clip, 0, 255).astype(np.uint8))
    return out


def _as_load_video(videos):
    """vbench.utils.load_video's return value for each video (torch.Tensor(frames) -> float32 [T, C, H, W])."""
    table = {f"v{i}.mp4": torch.Tensor(v).permute(0, 3, 1, 2) for i, v in enumerate(videos)}
    return table, lambda path, *args, **kwargs: table[path].clone()


def tiny_clip(embed_dim: int = 24, seed: int = 0) -> CLIP:
    torch.manual_seed(seed)
    return CLIP(embed_dim=embed_dim, image_resolution=224, vision_layers=1, vision_width=64, vision_patch_size=32,
                context_length=77, vocab_size=49408, transformer_width=32, transformer_heads=1,
                transformer_layers=1).eval()


def test_dino_network_equals_timm_vit_on_square_input():
    timm = pytest.importorskip("timm")
    ours = perturbed(DinoViT(**TINY_DINO), 1)
    reference = timm.models.vision_transformer.VisionTransformer(
        img_size=224, patch_size=16, embed_dim=32, depth=2, num_heads=4, mlp_ratio=4.0, qkv_bias=True,
        num_classes=0, global_pool="token").eval()
    reference.load_state_dict(ours.state_dict())  # strict: the same keys and shapes as DINO's checkpoint layout
    x = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        diff = (ours(x) - reference(x)).abs().max().item()
    print(f"\nDINO ViT vs timm VisionTransformer, 224x224: max abs difference {diff:.2e}")
    assert diff < 1e-5


def test_dino_position_table_follows_dino_interpolation_factor():
    model = perturbed(DinoViT(**TINY_DINO), 2)
    table = model.position_table(224, 373)  # a 48x80 frame after VBench's shorter-side resize
    assert table.shape == (1, 1 + 14 * 23, 32)
    assert torch.equal(table[:, 0], model.pos_embed[:, 0])
    assert model.position_table(224, 224) is model.pos_embed
    # the factor (not the target size) sets the sampling grid: a plain size= interpolation is a different table
    grid = model.pos_embed[:, 1:].reshape(1, 14, 14, 32).permute(0, 3, 1, 2)
    by_size = F.interpolate(grid, size=(14, 23), mode="bicubic").permute(0, 2, 3, 1).reshape(1, -1, 32)
    assert (by_size - table[:, 1:]).abs().max() > 1e-4


def test_subject_consistency_equals_vbench(monkeypatch):
    videos = _videos()
    table, load_video = _as_load_video(videos)
    monkeypatch.setattr(vbench_subject, "load_video", load_video)
    model = perturbed(DinoViT(**TINY_DINO), 3)
    value, per_video = vbench_subject.subject_consistency(model, list(table), "cpu", read_frame=False)
    pairs = [consistency_pairs(dino_features(model, v).numpy()) for v in videos]
    ours = [consistency_score(dino_features(model, v).numpy()) for v in videos]
    theirs = [r["video_results"] for r in per_video]
    diff = max(abs(a - b) for a, b in zip(ours, theirs))
    print(f"\nsubject consistency vs vbench: per-video max abs difference {diff:.1e} on {theirs}; "
          f"aggregate {abs(pooled_consistency(pairs) - value):.1e}")
    assert diff < 1e-5 and abs(pooled_consistency(pairs) - value) < 1e-5
    assert len(set(round(t, 3) for t in theirs)) == 3  # the videos differ: the comparison is not of constants


def test_background_consistency_equals_vbench(monkeypatch):
    videos = _videos(1)
    table, load_video = _as_load_video(videos)
    monkeypatch.setattr(vbench_background, "load_video", load_video)
    model = tiny_clip()
    value, per_video = vbench_background.background_consistency(model, None, list(table), "cpu", read_frame=False)
    pairs = [consistency_pairs(clip_image_features(model, v).numpy()) for v in videos]
    ours = [s / c for s, c in pairs]
    theirs = [r["video_results"] for r in per_video]
    diff = max(abs(a - b) for a, b in zip(ours, theirs))
    print(f"\nbackground consistency vs vbench: per-video max abs difference {diff:.1e} on {theirs}; "
          f"aggregate {abs(pooled_consistency(pairs) - value):.1e}")
    assert diff < 1e-5 and abs(pooled_consistency(pairs) - value) < 1e-5
    assert [c for _, c in pairs] == [r["cnt_per_video"] for r in per_video]


def test_aesthetic_quality_equals_vbench(monkeypatch, tmp_path):
    videos = _videos(2)
    table, load_video = _as_load_video(videos)
    monkeypatch.setattr(vbench_aesthetic, "load_video", load_video)
    model = tiny_clip(embed_dim=768, seed=4)
    head = torch.nn.Linear(768, 1)
    torch.nn.init.normal_(head.weight, std=0.5)
    torch.save(head.state_dict(), tmp_path / "sa_0_4_vit_l_14_linear.pth")
    ours_head = load_aesthetic_head(tmp_path / "sa_0_4_vit_l_14_linear.pth")
    value, per_video = vbench_aesthetic.laion_aesthetic(head, model, list(table), "cpu")
    ours = [float(aesthetic_scores(model, ours_head, v).mean()) for v in videos]
    theirs = [r["video_results"] for r in per_video]
    diff = max(abs(a - b) for a, b in zip(ours, theirs))
    print(f"\naesthetic quality vs vbench: per-video max abs difference {diff:.1e} on {theirs}; "
          f"aggregate {abs(np.mean(ours) - value):.1e}")
    assert diff < 1e-5 and abs(np.mean(ours) - value) < 1e-5


def test_dino_checkpoint_layout_and_loader(tmp_path):
    layout = expected_layout()
    assert len(layout) == 150 and layout["pos_embed"] == (1, 197, 768)
    model = perturbed(DinoViT(**TINY_DINO), 5)
    torch.save(model.state_dict(), tmp_path / "tiny.pth")
    loaded = load_dino(tmp_path / "tiny.pth", **TINY_DINO)
    x = torch.randn(1, 3, 224, 224)
    assert torch.equal(loaded(x), model(x).detach())
    with pytest.raises(WeightsError, match="not a DINO ViT-B/16 checkpoint"):
        check_dino_state_dict(model.state_dict(), "tiny.pth")
    with pytest.raises(WeightsError, match="tiny.pth: not a DINO ViT checkpoint"):
        load_dino(tmp_path / "tiny.pth")  # ViT-B/16 expected by default
    assert math.isclose(sum(math.prod(s) for s in layout.values()) / 1e6, 85.8, abs_tol=0.1)


def test_frames_equal_vbench_transforms():
    from vbench.utils import clip_transform, dino_transform

    from lumiere_eval.extractors.vbench.frames import as_vbench_frames, clip_frames, dino_frames

    for video in _videos(3):
        loaded = torch.Tensor(video).permute(0, 3, 1, 2)  # vbench.utils.load_video's tensor
        assert torch.equal(as_vbench_frames(video), loaded)
        assert torch.equal(dino_frames(as_vbench_frames(video)), dino_transform(224)(loaded.clone()))
        assert torch.equal(clip_frames(as_vbench_frames(video)), clip_transform(224)(loaded.clone()))


def test_musiq_frames_equal_vbench_resize_rule():
    from lumiere_eval.extractors.vbench.frames import musiq_frames

    imaging = pytest.importorskip("vbench.imaging_quality", reason="vbench.imaging_quality imports pyiqa")
    big = torch.Tensor(np.random.default_rng(4).integers(0, 256, (2, 300, 700, 3))).permute(0, 3, 1, 2)
    for frames in (big, big[..., :200, :400]):  # resized (longer side 700 > 512), left as it is
        assert torch.equal(musiq_frames(frames.clone()), imaging.transform(frames.clone(), "longer"))


def test_imaging_quality_equals_vbench(monkeypatch, tmp_path):
    imaging = pytest.importorskip("vbench.imaging_quality", reason="vbench.imaging_quality imports pyiqa")
    from lumiere_eval.extractors.vbench.features import build_musiq, load_musiq, musiq_scores

    size = {"hidden_size": 32, "mlp_dim": 64, "num_heads": 2, "num_layers": 1}
    torch.manual_seed(6)
    model = build_musiq(**size)
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, tmp_path / "musiq.pth")
    ours_model = load_musiq(tmp_path / "musiq.pth", **size)
    videos = [v for v in _videos(5)] + [np.random.default_rng(7).integers(0, 256, (3, 300, 620, 3), dtype=np.uint8)]
    table, load_video = _as_load_video(videos)
    monkeypatch.setattr(imaging, "load_video", load_video)
    model.training = False  # what VBench's compute_imaging_quality does (only the top module's flag)
    value, per_video = imaging.technical_quality(model, list(table), "cpu")
    ours = [float(musiq_scores(ours_model, v).mean()) for v in videos]
    theirs = [r["video_results"] for r in per_video]
    diff = max(abs(a - b) for a, b in zip(ours, theirs))
    print(f"\nimaging quality vs vbench: per-video max abs difference {diff:.1e} on {theirs}; aggregate "
          f"{abs(np.mean(ours) / 100 - value):.1e}")
    assert diff < 1e-4 and abs(np.mean(ours) / 100 - value) < 1e-6


def _vbench_raft(seed: int):
    """VBench's own RAFT (vbench/third_party/RAFT) with random weights everywhere, BatchNorm statistics included;
    the flow head's output scaled down so that the random network's top flows (about 3.6 pixels) fall between
    the thresholds of the two test videos (3.05 and 4.22)."""
    import argparse

    from vbench.third_party.RAFT.core.raft import RAFT

    model = RAFT(argparse.Namespace(small=False, mixed_precision=False, alternate_corr=False))
    perturbed(model, seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_var"):
                buffer.copy_(torch.rand(buffer.shape, generator=g) + 0.5)
            elif name.endswith("running_mean"):
                buffer.copy_(torch.randn(buffer.shape, generator=g) * 0.1)
        model.update_block.flow_head.conv2.weight.mul_(0.0012)
        model.update_block.flow_head.conv2.bias.mul_(0.25)
    return model.eval()


class _Capture:
    """What vbench.dynamic_degree reads from cv2.VideoCapture (BGR frames, then the end, and the fps)."""

    table: dict = {}

    def __init__(self, path):
        self.frames, self.fps = list(self.table[path][0][..., ::-1]), self.table[path][1]

    def get(self, prop):
        return self.fps

    def isOpened(self):
        return True

    def read(self):
        return (True, self.frames.pop(0).copy()) if self.frames else (False, None)

    def release(self):
        pass


def test_dynamic_degree_rule_equals_vbench_check_move():
    from vbench.dynamic_degree import DynamicDegree

    from lumiere_eval.metrics.vbench import is_dynamic

    judge = DynamicDegree.__new__(DynamicDegree)  # its rule only: no network is loaded
    rng = np.random.default_rng(8)
    outcomes = set()
    for _ in range(400):
        frames, h, w = int(rng.integers(1, 40)), int(rng.integers(128, 600)), int(rng.integers(128, 600))
        scores = list(rng.uniform(0, 14, frames - 1))
        judge.set_params(torch.zeros(1, 3, h, w), frames)
        theirs = judge.check_move(scores)
        assert is_dynamic(scores, frames, h, w) == theirs, (frames, h, w, scores)
        outcomes.add(theirs)
    assert outcomes == {True, False}


def test_dynamic_degree_equals_vbench(monkeypatch, tmp_path):
    """VBench's DynamicDegree (its RAFT, its frame taking, padding and rule) against ours (torchvision's RAFT with
    the converted checkpoint) on the same frames: per-pair scores and per-video verdicts."""
    import vbench.dynamic_degree as vbench_dynamic

    from lumiere_eval.extractors.vbench.features import raft_flows
    from lumiere_eval.extractors.vbench.raft import load_raft
    from lumiere_eval.metrics.vbench import flow_pair_score, is_dynamic

    torch.set_num_threads(1)
    model = _vbench_raft(9)
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, tmp_path / "raft-things.pth")
    ours_model = load_raft(tmp_path / "raft-things.pth")
    rng = np.random.default_rng(10)
    videos = {}
    for name, frames, h, w, fps, shift in (("a.mp4", 7, 130, 150, 24.0, 2), ("b.mp4", 4, 180, 200, 8.0, 0)):
        base = rng.integers(0, 256, (h, w + shift * frames, 3)).astype(np.uint8)
        videos[name] = (np.stack([base[:, shift * t:shift * t + w] for t in range(frames)]), fps)
    monkeypatch.setattr(_Capture, "table", videos)
    monkeypatch.setattr(vbench_dynamic.cv2, "VideoCapture", _Capture)
    reference = vbench_dynamic.DynamicDegree(argparse_namespace(tmp_path / "raft-things.pth"), "cpu")
    seen = {}
    check_move = reference.check_move
    monkeypatch.setattr(reference, "check_move",
                        lambda scores: seen.setdefault(len(seen), (scores, check_move(scores)))[1])
    value, per_video = vbench_dynamic.dynamic_degree(reference, list(videos))
    verdicts, worst = [], 0.0
    for i, (frames, fps) in enumerate(videos.values()):
        flows, (h, w), taken = raft_flows(ours_model, frames, fps)
        scores = [flow_pair_score(f) for f in flows.numpy()]
        worst = max(worst, max(abs(a - b) for a, b in zip(scores, seen[i][0])))
        assert len(scores) == len(seen[i][0])
        verdicts.append(is_dynamic(scores, taken, h, w))
    print(f"\ndynamic degree vs vbench: pair scores max abs difference {worst:.1e} on {[s for s, _ in seen.values()]}"
          f"; verdicts {verdicts} vs {[r['video_results'] for r in per_video]}")
    assert worst < 1e-3  # float32 flows of about 3 px; measured 0 with one thread
    assert verdicts == [r["video_results"] for r in per_video] and float(np.mean(verdicts)) == value
    assert len(set(verdicts)) == 2  # one dynamic, one not: the comparison is not of constants


def argparse_namespace(path):
    """vbench's compute_dynamic_degree arguments (an EasyDict there; a Namespace supports what RAFT reads)."""
    import argparse

    class Args(argparse.Namespace):
        def __contains__(self, key):
            return key in vars(self)

    return Args(model=str(path), small=False, mixed_precision=False, alternate_corr=False)


def test_static_filter_rule_equals_vbench_check_static():
    from vbench.cli.static_filter import StaticFilter

    from lumiere_eval.metrics.vbench import is_static

    judge = StaticFilter.__new__(StaticFilter)  # its rule only: no network is loaded
    rng = np.random.default_rng(12)
    outcomes = set()
    for _ in range(400):
        frames, h, w = int(rng.integers(2, 40)), int(rng.integers(128, 600)), int(rng.integers(128, 600))
        scores = list(rng.uniform(0, 4, frames + 1) * rng.choice([0.5, 1.0, 3.0]))
        judge.set_params(torch.zeros(1, 3, h, w), frames)
        theirs = judge.check_static(scores)
        assert is_static(scores, frames, h, w) == theirs, (frames, h, w, scores)
        outcomes.add(theirs)
    assert outcomes == {True, False}


def test_temporal_flickering_with_the_static_filter_equals_vbench(monkeypatch, tmp_path):
    """VBench's temporal flickering as VBench runs it: its static filter (`cli/static_filter.py`, its RAFT, all
    frames, the two closing pairs, top-2% score, `check_static`) keeps some videos, then `temporal_flickering`
    scores those; against the tier's `temporal_flickering_static` on the same frames (our RAFT from the converted
    checkpoint): pair scores, verdicts, per-video scores, value, and VBench's results layout."""
    import vbench.cli.static_filter as vbench_static
    import vbench.temporal_flickering as vbench_flicker

    from lumiere_eval.runner.vbench_tier import score_videos

    torch.set_num_threads(1)
    model = _vbench_raft(9)
    with torch.no_grad():  # top-2% flows of about 1.35 px, under the threshold of the 130-pixel videos (1.52)
        model.update_block.flow_head.conv2.weight.mul_(0.35)
        model.update_block.flow_head.conv2.bias.mul_(0.35)
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, tmp_path / "raft-things.pth")
    rng = np.random.default_rng(11)
    videos = {}  # 8 frames: one pair may exceed the threshold; 4 frames: none may (VBench's count_num 0)
    for name, frames, h, w, shift in (("a.mp4", 8, 130, 150, 1), ("b.mp4", 4, 136, 144, 1), ("c.mp4", 7, 128, 160, 2)):
        base = rng.integers(0, 256, (h, w + shift * frames, 3)).astype(np.uint8)
        clip = np.stack([base[:, shift * t:shift * t + w] for t in range(frames)]).astype(np.int16)
        videos[name] = (np.clip(clip + rng.integers(-6, 7, clip.shape), 0, 255).astype(np.uint8), 8.0)
    monkeypatch.setattr(_Capture, "table", videos)
    monkeypatch.setattr(vbench_static.cv2, "VideoCapture", _Capture)
    monkeypatch.setattr(vbench_static, "DEVICE", "cpu")
    reference = vbench_static.StaticFilter.__new__(vbench_static.StaticFilter)
    reference.model, reference.device = model, "cpu"  # what its load_model leaves (DataParallel unwrapped)
    seen = []
    check_static = reference.check_static
    monkeypatch.setattr(reference, "check_static", lambda scores: seen.append(scores) or check_static(scores))
    verdicts = [reference.infer(name) for name in videos]
    value, per_video = vbench_flicker.temporal_flickering([n for n, keep in zip(videos, verdicts) if keep])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random checkpoint has no published checksum
        ours = score_videos([v for v, _ in videos.values()], ["temporal_flickering_static"],
                            {"raft_things": tmp_path / "raft-things.pth"}, video_names=list(videos), num_resamples=20)
    from lumiere_eval.extractors.vbench.features import raft_static_flows
    from lumiere_eval.extractors.vbench.raft import load_raft
    from lumiere_eval.metrics.vbench import static_pair_score

    ours_model = load_raft(tmp_path / "raft-things.pth")
    worst = max(max(abs(static_pair_score(f) - s) for f, s in zip(raft_static_flows(ours_model, v)[0].numpy(), t))
                for (v, _), t in zip(videos.values(), seen))
    entry = ours["dimensions"]["temporal_flickering_static"]
    layout_value, layout = ours["eval_results"]["temporal_flickering"]  # VBench's name
    mine = [r["video_results"] for r in layout]
    print(f"\ntemporal flickering vs vbench: static-filter pair scores max abs difference {worst:.1e}; verdicts "
          f"{verdicts}; scores {mine} vs {[r['video_results'] for r in per_video]}; value {entry['value']} vs "
          f"{value}")
    assert worst < 1e-3  # float32 flows of about 1.35 px
    assert verdicts == [True, False, True]  # the comparison holds a kept and a left-out video
    assert [r["video_path"] for r in layout] == [r["video_path"] for r in per_video] == ["a.mp4", "c.mp4"]
    assert mine == pytest.approx([r["video_results"] for r in per_video], abs=1e-12)
    assert entry["value"] == layout_value == pytest.approx(value, abs=1e-12)
    assert entry["n"] == 2 and entry["videos_left_out"] == 1
    assert "temporal_flickering_static" not in ours["per_video"][1]
