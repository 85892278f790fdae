"""VBench's text-video dimensions (appearance style, overall consistency, temporal style) against vbench 0.1.5's own
code, on the same frames and the same networks (random weights at reduced size; vbench's loaders download and are
never called: its frame readers are replaced by ones returning the frames they would decode).

vbench's ViCLIP modules need two things this venv lacks or must not fetch:
- `timm` (not installed): `viclip_vision.py` imports `timm.models.layers.DropPath` and `timm.models.registry.
  register_model`. With drop_path 0 (built here) DropPath is never constructed (`nn.Identity` instead), and
  `register_model` only registers a name; while vbench's modules are imported, a stand-in `timm` whose DropPath
  raises if built takes its place (removed again at once; the real timm is used when installed).
- its BPE file: `simple_tokenizer.py` downloads `bpe_simple_vocab_16e6.txt.gz` into VBENCH_CACHE_DIR at import;
  the test points vbench's cache at a temporary folder holding clip-anytorch's copy of that file.
`-s` prints the measured differences (docs/conformance.md)."""
from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import shutil
import sys
import types
import warnings

import numpy as np
import pytest
import torch
from vbench_fixtures import perturbed

from lumiere_eval.extractors.vbench.frames import middle_frame_indices
from lumiere_eval.extractors.vbench.semantic import (clip_frame_embeddings, clip_logit_scale, clip_text_embeddings,
                                                     viclip_text_embeddings, viclip_video_embedding)
from lumiere_eval.extractors.vbench.viclip import (NUM_KEYS_L14, VICLIP_L14, ViClip, check_viclip_state_dict,
                                                   expected_layout, load_viclip)
from lumiere_eval.extractors.weights import WeightsError
from lumiere_eval.datasets.vbench_suite import appearance_styles
from lumiere_eval.metrics.vbench import appearance_style_text, style_frame_scores, video_text_similarity

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # clip imports the deprecated pkg_resources
    vbench_utils = pytest.importorskip("vbench.utils")
    import clip
    from clip.model import CLIP

# reduced ViCLIP: the structure of ViT-L/14 + CLIP text at width 32/48, depth 2, patch 28 (8 x 64 video tokens)
TINY = {"vision_width": 32, "vision_layers": 2, "vision_heads": 4, "patch_size": 28, "image_size": 224,
        "num_frames": 8, "embed_dim": 24, "text_width": 48, "text_layers": 2, "text_heads": 4,
        "context_length": 32, "vocab_size": 49408}
PROMPTS = ["a red fox running through fresh snow, tracking shot",
           "Close up of grapes on a rotating table.",
           "an astronaut riding a horse on the moon in the style of a watercolour painting, slow motion, camera "
           "pans left while stars twinkle above the grey dusty craters of the lunar surface"]  # > 32 tokens: cut


def _timm_stand_in() -> dict[str, types.ModuleType]:
    class DropPath:  # never built at drop_path 0
        def __init__(self, *args, **kwargs):
            raise NotImplementedError("stand-in timm: DropPath is not available")

    timm, models = types.ModuleType("timm"), types.ModuleType("timm.models")
    layers, registry = types.ModuleType("timm.models.layers"), types.ModuleType("timm.models.registry")
    layers.DropPath, registry.register_model = DropPath, lambda fn: fn
    timm.models, models.layers, models.registry = models, layers, registry
    return {"timm": timm, "timm.models": models, "timm.models.layers": layers, "timm.models.registry": registry}


@pytest.fixture(scope="module")
def vbench_viclip(tmp_path_factory):
    """vbench's ViCLIP modules and its overall-consistency / temporal-style modules, imported without downloads."""
    cache = tmp_path_factory.mktemp("vbench_cache")
    (cache / "ViCLIP").mkdir()
    shutil.copy(os.path.join(os.path.dirname(clip.__file__), "bpe_simple_vocab_16e6.txt.gz"), cache / "ViCLIP")
    saved_cache, vbench_utils.CACHE_DIR = vbench_utils.CACHE_DIR, str(cache)
    stand_in = _timm_stand_in() if importlib.util.find_spec("timm") is None else {}
    sys.modules.update(stand_in)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names = ("vbench.third_party.ViCLIP.viclip", "vbench.third_party.ViCLIP.viclip_vision",
                     "vbench.third_party.ViCLIP.viclip_text", "vbench.overall_consistency", "vbench.temporal_style")
            modules = types.SimpleNamespace(**{n.rsplit(".", 1)[-1]: importlib.import_module(n) for n in names})
    finally:
        for name in stand_in:
            sys.modules.pop(name, None)
        vbench_utils.CACHE_DIR = saved_cache
    return modules


def _their_viclip(v, size: dict, seed: int):
    """vbench's `ViCLIP` around its own vision and text towers at `size` (its constructor builds ViT-L/14 and loads
    a file, so the towers are attached to an instance made without it), random weights."""
    vision = v.viclip_vision.VisionTransformer(
        input_resolution=size["image_size"], patch_size=size["patch_size"], width=size["vision_width"],
        layers=size["vision_layers"], heads=size["vision_heads"], output_dim=size["embed_dim"], kernel_size=1,
        num_frames=size["num_frames"], drop_path=0.0, checkpoint_num=0).eval()
    text = v.viclip_text.CLIP_TEXT(size["embed_dim"], size["context_length"], size["vocab_size"], size["text_width"],
                                   size["text_heads"], size["text_layers"], checkpoint_num=0).eval()
    model = v.viclip.ViCLIP.__new__(v.viclip.ViCLIP)
    torch.nn.Module.__init__(model)
    model.vision_encoder, model.text_encoder, model.max_txt_l = vision, text, size["context_length"]
    model.temp = torch.nn.Parameter(torch.ones([]) / 100.0)
    return perturbed(model, seed)


def _videos(seed: int):
    """Three uint8 videos of different lengths and shapes (5 frames: fewer than 8, padded with the last)."""
    rng = np.random.default_rng(seed)
    out = []
    for frames, h, w in ((12, 64, 80), (5, 90, 60), (9, 224, 224)):
        base = rng.integers(0, 256, (h, w + 3 * frames, 3)).astype(np.float32)
        video = np.stack([base[:, 3 * t:3 * t + w] for t in range(frames)]) + rng.normal(0, 8, (frames, h, w, 3))
        out.append(np.clip(video, 0, 255).astype(np.uint8))
    return out


def _as_decord(videos, get_frame_indices):
    """vbench.utils.read_frames_decord_by_fps for each video: its own frame indices, decord's uint8 [T, C, H, W]."""
    table = {f"v{i}.mp4": v for i, v in enumerate(videos)}

    def read(path, sample_fps=2, sample="rand", fix_start=None, max_num_frames=-1, trimmed30=False, num_frames=8):
        video = table[path]
        index = get_frame_indices(num_frames, len(video), sample=sample, fix_start=fix_start)
        return torch.from_numpy(video[index]).permute(0, 3, 1, 2)
    return table, read


@pytest.fixture(scope="module")
def viclip_pair(vbench_viclip, tmp_path_factory):
    """vbench's reduced ViCLIP and ours loaded by `load_viclip` from its state dict saved as {'model': ...}."""
    theirs = _their_viclip(vbench_viclip, TINY, 3)
    path = tmp_path_factory.mktemp("viclip") / "ViClip-InternVid-10M-FLT.pth"
    torch.save({"model": theirs.state_dict()}, path)
    return theirs, load_viclip(path, vision_heads=TINY["vision_heads"], text_heads=TINY["text_heads"])


def test_middle_frame_indices_equal_vbench():
    for length in range(1, 70):
        for count in (1, 3, 8):
            assert middle_frame_indices(length, count) == [int(i) for i in vbench_utils.get_frame_indices(
                count, length, sample="middle")], (length, count)


def test_viclip_tokens_equal_vbench(vbench_viclip, viclip_pair):
    theirs, ours = viclip_pair
    for prompt in PROMPTS:
        assert torch.equal(theirs.text_encoder.tokenize(prompt, context_length=32).long(), ours.tokenize([prompt]))
    assert ours.tokenize(PROMPTS[2:])[0, -1] == theirs.text_encoder._tokenizer.encoder["<|endoftext|>"]


def test_viclip_embeddings_equal_vbench(viclip_pair):
    theirs, ours = viclip_pair
    g = torch.Generator().manual_seed(5)
    video = torch.randn(2, 8, 3, 224, 224, generator=g)
    image = video[:, :1]  # one frame: the mean of the temporal table
    with torch.no_grad():
        video_diff = (theirs.encode_vision(video, test=True) - ours.encode_video(video)).abs().max().item()
        image_diff = (theirs.encode_vision(image, test=True) - ours.encode_video(image)).abs().max().item()
        text_diff = (theirs.encode_text(PROMPTS) - ours.encode_text(PROMPTS)).abs().max().item()
        scale = ours.encode_video(video).abs().max().item()
    print(f"\nViCLIP (reduced) vs vbench: video embedding max abs difference {video_diff:.1e} (values up to "
          f"{scale:.2f}), one frame {image_diff:.1e}, text {text_diff:.1e}")
    assert video_diff < 1e-5 and image_diff < 1e-5 and text_diff < 1e-5


@pytest.mark.parametrize("dimension", ["overall_consistency", "temporal_style"])
def test_text_video_similarity_equals_vbench(vbench_viclip, viclip_pair, monkeypatch, dimension):
    module = getattr(vbench_viclip, dimension)
    theirs, ours = viclip_pair
    videos = _videos(7)
    table, read = _as_decord(videos, vbench_utils.get_frame_indices)
    monkeypatch.setattr(module, "read_frames_decord_by_fps", read)
    module.get_text_features.__defaults__[-1].clear()  # vbench caches text features by text across calls
    video_dict = [{"prompt": p, "video_list": [name]} for p, name in zip(PROMPTS, table)]
    value, per_video = getattr(module, dimension)(theirs, video_dict, None, "cpu")
    ours_scores = [video_text_similarity(viclip_video_embedding(ours, v).numpy(),
                                         viclip_text_embeddings(ours, [p])[0].numpy()) for v, p in zip(videos, PROMPTS)]
    their_scores = [r["video_results"] for r in per_video]
    diff = max(abs(a - b) for a, b in zip(ours_scores, their_scores))
    print(f"\n{dimension} vs vbench: per-video max abs difference {diff:.1e} on {their_scores}; aggregate "
          f"{abs(np.mean(ours_scores) - value):.1e}")
    assert diff < 1e-5 and abs(np.mean(ours_scores) - value) < 1e-5
    assert len({round(s, 3) for s in their_scores}) == 3


def test_viclip_full_size_layout_equals_vbench(vbench_viclip):
    vision = vbench_viclip.viclip_vision.clip_joint_l14(pretrained=False)  # its drop-path rates need real tensors
    with torch.device("meta"):
        text = vbench_viclip.viclip_text.clip_text_l14(pretrained=False, context_length=32)
        ours = ViClip()
    theirs = {"temp": ()} | {f"vision_encoder.{k}": tuple(t.shape) for k, t in vision.state_dict().items()} | {
        f"text_encoder.{k}": tuple(t.shape) for k, t in text.state_dict().items()}
    assert theirs == expected_layout() == {k: tuple(t.shape) for k, t in ours.state_dict().items()}
    assert len(theirs) == NUM_KEYS_L14
    assert check_viclip_state_dict(ours.state_dict(), "meta") == VICLIP_L14  # the heads follow width // 64


def test_viclip_size_read_from_checkpoint_and_other_layouts_refused(tmp_path, viclip_pair):
    theirs, _ = viclip_pair
    state = theirs.state_dict()
    assert check_viclip_state_dict(state, "tiny.pth") == {**TINY, "vision_heads": 1, "text_heads": 1}
    del state["text_encoder.text_projection"]
    torch.save({"model": state}, tmp_path / "broken.pth")
    with pytest.raises(WeightsError, match="broken.pth.*missing.*text_projection"):
        load_viclip(tmp_path / "broken.pth")
    torch.save({"model": {"w": torch.zeros(1)}, "config": {"a": 1}}, tmp_path / "odd.pth")
    with pytest.raises(WeightsError, match="odd.pth.*not a ViCLIP checkpoint"):
        load_viclip(tmp_path / "odd.pth")


def _vbench_full_info() -> list[dict]:
    with open(os.path.join(os.path.dirname(vbench_utils.__file__), "VBench_full_info.json"), encoding="utf-8") as f:
        return json.load(f)


def _tiny_clip(seed: int) -> CLIP:
    torch.manual_seed(seed)
    model = CLIP(embed_dim=24, image_resolution=224, vision_layers=1, vision_width=64, vision_patch_size=32,
                 context_length=77, vocab_size=49408, transformer_width=32, transformer_heads=1,
                 transformer_layers=1).eval()
    with torch.no_grad():
        model.logit_scale.fill_(math.log(37.0))  # not OpenAI's 100: the scale must come from the model
    return model


def test_appearance_style_equals_vbench(monkeypatch, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vbench_appearance = importlib.import_module("vbench.appearance_style")
    full_info = _vbench_full_info()
    entries = [e for e in full_info if "appearance_style" in e["dimension"]][::31]  # three of VBench's prompts
    videos = _videos(11)
    table = {f"v{i}.mp4": v for i, v in enumerate(videos)}
    for entry, name in zip(entries, table):
        entry["video_list"] = [name]
    (tmp_path / "full_info.json").write_text(json.dumps(entries))
    _, video_dict = vbench_utils.load_dimension_info(str(tmp_path / "full_info.json"), "appearance_style", "en")
    monkeypatch.setattr(vbench_appearance, "load_video", lambda path, *a, **k: table[path].copy())
    model = _tiny_clip(13)
    value, per_video = vbench_appearance.appearance_style(model, video_dict, "cpu")

    ours_frames = []
    for entry, video in zip(entries, videos):
        text, from_vbench = appearance_style_text(entry["prompt_en"], appearance_styles()[0])
        assert from_vbench and text == entry["auxiliary_info"]["appearance_style"]["appearance_style"]
        ours_frames.append(style_frame_scores(clip_frame_embeddings(model, video).numpy(),
                                              clip_text_embeddings(model, [text])[0].numpy(),
                                              clip_logit_scale(model)))
    frame_diff = max(np.abs(o - np.asarray(r["frame_results"])).max() for o, r in zip(ours_frames, per_video))
    video_diff = max(abs(o.mean() - r["video_results"]) for o, r in zip(ours_frames, per_video))
    aggregate = np.concatenate(ours_frames).mean()
    print(f"\nappearance style vs vbench: per-frame max abs difference {frame_diff:.1e}, per video {video_diff:.1e} "
          f"on {[r['video_results'] for r in per_video]}; aggregate {abs(aggregate - value):.1e}")
    assert frame_diff < 1e-5 and video_diff < 1e-5 and abs(aggregate - value) < 1e-5
    assert len({e["auxiliary_info"]["appearance_style"]["appearance_style"] for e in entries}) == 3


def test_appearance_style_table_equals_vbench_prompt_list():
    full_info = _vbench_full_info()
    expected = {e["prompt_en"]: e["auxiliary_info"]["appearance_style"]["appearance_style"]
                for e in full_info if "appearance_style" in e["dimension"]}
    assert len(expected) == 90
    styles, source = appearance_styles()  # read from the installed package's suite, never copied here
    assert source.endswith("VBench_full_info.json") and styles == expected
    assert all(appearance_style_text(p, styles) == (s, True) for p, s in expected.items())
    assert appearance_style_text("a cat, oil painting", styles) == ("a cat, oil painting", False)
