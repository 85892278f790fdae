"""Conditional generation at tiny size: widening is exact, masks and batches have the layout Lumiere describes,
the keyframe cascade and the applications run end to end, and their inputs are validated."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from lumiere_eval.models.base import create_generator
from lumiere_eval.models.lumiere.applications import (TaskInputError, TaskInputs, create_task_generator,
                                                      load_image, load_mask, task_condition)
from lumiere_eval.models.lumiere.checkpoint import load_model
from lumiere_eval.models.lumiere.conditioning import (MASK_KINDS, ConditioningError, cinemagraph_target,
                                                      condition_input, keyframe_indices, training_mask, widen_input)
from lumiere_eval.models.lumiere.diffusion import Diffusion, DiffusionConfigError
from lumiere_eval.models.lumiere.stunet import STUNet
from lumiere_eval.training.lumiere_stages import BatchMaker, StageConfig, TrainConfigError, build_model, train_stage
from lumiere_eval.models.lumiere.unet import UNet
from test_lumiere_training import TINY_MODEL, TRAIN, write_configs

VOCAB = ["a", "red", "square", "moving", "left", "blue", "circle"]


def tiny_stunet(resampling: bool = True) -> STUNet:
    torch.manual_seed(0)
    model = STUNet.inflate(UNet(VOCAB, **TINY_MODEL), heads=2, temporal_resampling=resampling)
    with torch.no_grad():   # non-zero temporal outputs, so the check below sees the temporal path too
        for p in model.temporal.parameters():
            p.add_(0.1 * torch.randn(p.shape))
    return model.eval()


@pytest.mark.parametrize("resampling", [True, False])
def test_widened_model_computes_exactly_what_its_parent_does(resampling):
    model = tiny_stunet(resampling)
    wide = widen_input(model, 4, train_input=True).eval()
    gen = torch.Generator().manual_seed(1)
    x, cond = torch.randn(2, 3, 4, 8, 8, generator=gen), torch.randn(2, 4, 4, 8, 8, generator=gen)
    t, tokens = torch.tensor([0.3, 0.8]), model.t2i.text.tokenizer.encode(["a red square", "a blue circle"])
    with torch.no_grad():
        torch.testing.assert_close(wide(x, t, tokens, cond), model(x, t, tokens), rtol=0, atol=1e-6)
    assert wide.t2i.cond_channels == 4 and wide.config["train_input"]
    trainable = {n for n, p in wide.named_parameters() if p.requires_grad}
    assert "t2i.blocks.0.layers.0.weight" in trainable
    assert all(n.startswith("temporal.") or n.startswith("t2i.blocks.0.") for n in trainable)
    unet = UNet(VOCAB, **TINY_MODEL).eval()
    frame = torch.randn(2, 3, 8, 8, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(widen_input(unet, 3)(frame, t, tokens, torch.randn(2, 3, 8, 8)),
                                   unet(frame, t, tokens), rtol=0, atol=1e-6)
    with pytest.raises(ConditioningError, match="at least one"):
        widen_input(unet, 0)


def test_train_spatial_frees_every_weight_and_survives_a_checkpoint(tmp_path):
    from lumiere_eval.models.lumiere.checkpoint import save_model

    wide = widen_input(tiny_stunet(), 4, train_input=True, train_spatial=True)
    assert all(p.requires_grad for p in wide.parameters())
    assert len(wide.trainable_parameters()) == len(list(wide.parameters()))
    loaded = load_model(save_model(wide, tmp_path / "wide.pt"))
    assert loaded.config["train_spatial"] and all(p.requires_grad for p in loaded.parameters())
    frozen = widen_input(tiny_stunet(), 4, train_input=True)
    assert not any(p.requires_grad for p in frozen.t2i.blocks[-1].parameters())


def test_training_masks_have_the_layout_of_each_task():
    rng = np.random.default_rng(0)
    assert keyframe_indices(16, 5) == [0, 5, 10, 15] and keyframe_indices(80, 5)[-1] == 75
    first = training_mask("first-frame", 6, 8, 8, rng)
    assert first[0].all() and not first[1:].any()
    keys = training_mask("keyframes", 16, 4, 4, rng, stride=5)
    assert [i for i in range(16) if keys[i].all()] == [0, 5, 10, 15] and keys.sum() == 4 * 16
    assert not training_mask("none", 3, 4, 4, rng).any()
    for kind in ("box", "cinemagraph", "border"):
        for _ in range(20):
            mask = training_mask(kind, 4, 16, 16, rng)
            assert (mask == mask[:1]).all() and 0 < mask.mean() < 1        # the same region on every frame
            if kind == "border":   # known inside, unknown on every edge
                assert not mask[0, 0].any() and not mask[0, -1].any() and mask[0, 8, 8] == 1
    with pytest.raises(ConditioningError, match="unknown mask kind"):
        training_mask("boxes", 4, 8, 8, rng)
    video = rng.integers(0, 255, (5, 8, 8, 3)).astype(np.float32)
    mask = training_mask("cinemagraph", 5, 8, 8, rng)
    still = cinemagraph_target(video, mask)
    keep = mask[..., None].astype(bool)
    assert np.array_equal(np.where(keep, still, 0), np.where(keep, video[:1].repeat(5, 0), 0))
    assert np.array_equal(np.where(keep, 0, still), np.where(keep, 0, video))


def test_condition_input_is_the_masked_video_and_the_mask():
    video, mask = torch.randn(2, 3, 4, 5, 5), (torch.rand(2, 1, 4, 5, 5) > 0.5).float()
    cond = condition_input(video, mask)
    assert cond.shape == (2, 4, 4, 5, 5)
    assert torch.equal(cond[:, 3:], mask) and torch.equal(cond[:, :3], video * mask)
    with pytest.raises(ConditioningError, match="does not fit"):
        condition_input(video, mask[:, :, :3])


def test_batches_with_masks_and_frame_stride():
    batches = BatchMaker({"height": 8, "width": 8, "num_frames": 16, "clip_frames": 16,
                          "masks": {"keyframes": 1.0}, "keyframe_stride": 5}, 0, 0.0, 0.0)
    video, captions, cond = batches(0, 3)
    assert video.shape == (3, 3, 16, 8, 8) and cond.shape == (3, 4, 16, 8, 8) and all(captions)
    assert torch.equal(cond[:, 3, [0, 5, 10, 15]], torch.ones(3, 4, 8, 8))
    torch.testing.assert_close(cond[:, :3], video * cond[:, 3:])
    video2, _, cond2 = batches(0, 3)
    assert torch.equal(video, video2) and torch.equal(cond, cond2)    # a batch depends on (seed, step) only
    sparse = BatchMaker({"height": 8, "width": 8, "num_frames": 16, "clip_frames": 4, "frame_stride": 5}, 0, 0, 0)
    dense = BatchMaker({"height": 8, "width": 8, "num_frames": 16, "clip_frames": 16}, 0, 0, 0)
    keyframes, _, none = sparse(3, 2)
    assert none is None and keyframes.shape == (2, 3, 4, 8, 8)
    assert torch.equal(keyframes, dense(3, 2)[0][:, :, [0, 5, 10, 15]])   # same clips, every 5th frame
    with pytest.raises(TrainConfigError, match="do not fit"):
        BatchMaker({"num_frames": 16, "clip_frames": 5, "frame_stride": 5}, 0, 0, 0)


def cascade_configs(folder):
    """Tiny keyframes, tsr and conditional stage configs beside the four base ones."""
    paths = write_configs(folder)
    data = {"height": 8, "width": 8, "num_frames": 8}
    stages = {
        "keyframes": {"parent": "t2i", "inflate": {"temporal_resampling": False, "heads": 2},
                      "data": {**data, "clip_frames": 2, "frame_stride": 4}},
        "tsr": {"parent": "t2i", "widen": 4, "inflate": {"temporal_resampling": False, "heads": 2, "train_input": True},
                "data": {**data, "clip_frames": 8, "masks": {"keyframes": 1.0}, "keyframe_stride": 4}},
        "conditional": {"parent": "stunet", "widen": 4, "finetune": {"train_input": True},
                        "data": {**data, "clip_frames": 8, "masks": {k: 1.0 for k in MASK_KINDS}}},
    }
    for name, body in stages.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps({"stage": name, "train": TRAIN, **body}))
    return paths


@pytest.fixture(scope="module")
def shipped_tiny(tmp_path_factory):
    """Every stage trained one step at tiny size, exported into one checkpoint folder."""
    folder = tmp_path_factory.mktemp("cascade")
    paths, runs, ship = cascade_configs(folder), folder / "runs", folder / "ship"
    ship.mkdir()
    for stage in ("t2i", "stunet", "ssr", "ssr-stunet", "keyframes", "tsr", "conditional"):
        train_stage(StageConfig.load(paths[stage]), runs, steps=1, progress=False)
        for ext in (".pt", ".json"):
            (ship / f"{stage}{ext}").write_bytes((runs / stage / f"model{ext}").read_bytes())
    return ship


def test_styles_are_looked_up_beside_the_checkpoints(shipped_tiny, tmp_path):
    from lumiere_eval.models.lumiere.style import UnknownStyleError

    for name in shipped_tiny.iterdir():
        (tmp_path / name.name).write_bytes(name.read_bytes())
    for ext in (".pt", ".json"):   # a "style" U-Net of the tiny model's own architecture
        (tmp_path / f"t2i-mine{ext}").write_bytes((shipped_tiny / f"t2i{ext}").read_bytes())
    styled = create_generator("lumiere", checkpoint_dir=str(tmp_path), style="mine", alpha=0.5)
    assert styled.paths["style"] == tmp_path / "t2i-mine.pt" and styled.describe()["style"]["file"] == "t2i-mine.pt"
    with pytest.raises(UnknownStyleError, match="'sketch'.*mine"):
        create_generator("lumiere", checkpoint_dir=str(tmp_path), style="sketch")


def test_cascade_stages_start_from_their_parents(shipped_tiny):
    t2i = load_model(shipped_tiny / "t2i.pt")
    tsr, conditional = load_model(shipped_tiny / "tsr.pt"), load_model(shipped_tiny / "conditional.pt")
    stunet = load_model(shipped_tiny / "stunet.pt")
    assert tsr.t2i.cond_channels == 4 and conditional.t2i.cond_channels == 4 and conditional.frame_multiple == 2
    assert torch.equal(tsr.t2i.blocks[1].layers[0].conv1.weight, t2i.blocks[1].layers[0].conv1.weight)   # frozen
    for name, p in stunet.t2i.state_dict().items():   # the conditional STUNet starts from the STUNet
        if not name.startswith("blocks.0."):
            assert torch.equal(p, conditional.t2i.state_dict()[name]), name
    bad = StageConfig(stage="x", data={}, train=dict(TRAIN), diffusion={}, inflate={}, parent="stunet")
    with pytest.raises(TrainConfigError, match="parent of an inflation must be a UNet, got STUNet"):
        build_model(bad, shipped_tiny.parent / "runs", VOCAB)


def test_keyframe_cascade_runs_and_depends_on_the_seed_only(shipped_tiny):
    options = dict(checkpoint_dir=str(shipped_tiny), steps=2, ssr_steps=1, tsr_steps=2, window=4, overlap=1)
    cascade = create_generator("keyframe-cascade", **options, batch_size=2)
    videos = cascade.generate(["a red square moving left", "a blue circle"], [0, 1], 7, 8, 16, 16)
    assert [v.frames.shape for v in videos] == [(7, 16, 16, 3)] * 2
    alone = create_generator("keyframe-cascade", **options, batch_size=1).generate(["a blue circle"], [1], 7, 8, 16, 16)
    assert np.abs(alone[0].frames.astype(int) - videos[1].frames).max() <= 1
    info = cascade.describe()
    assert {"base", "tsr", "ssr"} <= set(info) and info["tsr"]["file"] == "tsr.pt" and cascade.stride == 4


def test_sdedit_start_and_strength():
    diffusion = Diffusion("v")
    target = torch.rand(1, 3, 4, 4) * 2 - 1
    seen = []

    def oracle(x, t):   # exact v for the single data point `target`; records the times it is called at
        seen.append(float(t[0]))
        a, s = (v.reshape(-1, 1, 1, 1) for v in diffusion.alpha_sigma(t))
        return a * (x - a * target) / s - s * target
    out = diffusion.sample(oracle, (3, 4, 4), [torch.Generator().manual_seed(0)], steps=3, start=target,
                           strength=0.3)
    assert seen[0] == pytest.approx(0.3) and len(seen) == 3
    torch.testing.assert_close(out, target, rtol=0, atol=1e-4)
    with pytest.raises(DiffusionConfigError, match="strength"):
        diffusion.sample(oracle, (3, 4, 4), [torch.Generator()], start=target, strength=1.5)
    with pytest.raises(DiffusionConfigError, match="start of shape"):
        diffusion.sample(oracle, (3, 4, 4), [torch.Generator()], start=target[:, :2], strength=0.5)


@pytest.mark.parametrize("method", ["ddim", "ddpm"])
def test_known_pixel_replacement_ends_on_the_known_pixels(method):
    diffusion = Diffusion("v")
    gen = torch.Generator().manual_seed(3)
    values = torch.rand(2, 3, 4, 4, generator=gen) * 2 - 1
    keep = torch.zeros(2, 1, 4, 4)
    keep[:, :, :2] = 1

    def ignorant(x, t):   # knows nothing about the data; each pixel's prediction depends on all pixels
        return torch.sin(3 * x) + x.mean(dim=(2, 3), keepdim=True) + t.reshape(-1, 1, 1, 1)

    def sample(known):
        gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
        return diffusion.sample(ignorant, (3, 4, 4), gens, steps=5, method=method, known=known)
    free, replaced = sample(None), sample((values, keep))
    torch.testing.assert_close(replaced[:, :, :2], values[:, :, :2], rtol=0, atol=1e-6)
    assert (free[:, :, :2] - values[:, :, :2]).abs().mean() > 0.1
    assert not torch.equal(replaced[:, :, 2:], free[:, :, 2:])   # the generated part sees the known one
    torch.testing.assert_close(sample((values, torch.zeros_like(keep))), free, rtol=0, atol=1e-6)
    # one DDPM step: the posterior mean q(x_s | x_t, x_0) of the replaced x_0 estimate
    x_t, t, s = torch.randn(2, 3, 4, 4, generator=gen), 0.7, 0.4
    x0, _ = diffusion.to_x0_eps(x_t, torch.full((2,), t), ignorant(x_t, torch.full((2,), t)))
    x0 = keep * values + (1 - keep) * x0
    (a_t, s_t), (a_s, s_s) = (diffusion.alpha_sigma(torch.tensor([v])) for v in (t, s))
    var = s_t ** 2 - (a_t / a_s) ** 2 * s_s ** 2
    mean = (a_t / a_s) * s_s ** 2 / s_t ** 2 * x_t + a_s * var / s_t ** 2 * x0
    step = diffusion.step(x_t, t, s, ignorant(x_t, torch.full((2,), t)), "ddpm", None, (values, keep))
    torch.testing.assert_close(step, mean, rtol=0, atol=1e-5)
    with pytest.raises(DiffusionConfigError, match="do not fit"):
        diffusion.sample(ignorant, (3, 4, 4), [torch.Generator()], known=(values, keep))   # batch 2 for 1 sample


def test_task_conditions_follow_the_paper():
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    region = np.zeros((16, 16), bool)
    region[4:8, 4:12] = True
    known, keep = task_condition("i2v", TaskInputs(image=video[0]), 4, 16, 16)
    assert keep[0, 0].all() and not keep[0, 1:].any() and not known[:, 1:].any()
    torch.testing.assert_close(known[:, 0], torch.from_numpy(video[0]).float().permute(2, 0, 1) / 127.5 - 1)
    known, keep = task_condition("inpaint", TaskInputs(video=video, mask=region), 4, 16, 16)
    assert torch.equal(keep[0, 2].bool(), torch.from_numpy(~region)) and known.shape == (3, 4, 16, 16)
    _, keep = task_condition("outpaint", TaskInputs(video=video, border=3), 4, 16, 16)
    assert not keep[0, :, :3].any() and keep[0, :, 3:13, 3:13].all()
    known, keep = task_condition("cinemagraph", TaskInputs(image=video[0], mask=region), 4, 8, 8)   # resized
    assert (known == known[:, :1]).all() and keep.shape == (1, 4, 8, 8) and 0 < keep.mean() < 1


def test_task_inputs_are_validated_with_the_file_named(tmp_path):
    video = np.zeros((3, 16, 16, 3), np.uint8)
    with pytest.raises(TaskInputError, match="needs --image"):
        task_condition("i2v", TaskInputs(video=video), 3, 16, 16)
    with pytest.raises(TaskInputError, match="needs --mask or --border"):
        task_condition("outpaint", TaskInputs(video=video), 3, 16, 16)
    with pytest.raises(TaskInputError, match="clip.mp4: 3 frames, the output needs 4"):
        task_condition("inpaint", TaskInputs(video=video, mask=np.eye(16, dtype=bool),
                                             sources={"video": "clip.mp4"}), 4, 16, 16)
    with pytest.raises(TaskInputError, match="wide.png: the image is 32x16"):
        task_condition("i2v", TaskInputs(image=np.zeros((16, 32, 3), np.uint8), sources={"image": "wide.png"}),
                       3, 16, 16)
    with pytest.raises(TaskInputError, match="leaves nothing"):
        task_condition("outpaint", TaskInputs(video=video, border=8), 3, 16, 16)
    with pytest.raises(TaskInputError, match="unknown task"):
        create_task_generator("zoom", TaskInputs(), 3, 16, 16)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(TaskInputError, match="broken.png: not a readable image"):
        load_image(tmp_path / "broken.png")
    with pytest.raises(TaskInputError, match="missing.png: image file not found"):
        load_image(tmp_path / "missing.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "dark.png")
    with pytest.raises(TaskInputError, match="dark.png: mask is all dark"):
        load_mask(tmp_path / "dark.png")


def test_every_task_runs_from_files_through_generate(shipped_tiny, tmp_path, capsys):
    from lumiere_eval.cli import main
    from lumiere_eval.video import read_video, write_video

    from lumiere_eval.datasets.synthetic import SyntheticDomain

    frames = SyntheticDomain(16, 16, 8).sample(0, "test")[0]
    write_video(tmp_path / "in.mp4", frames, 8)
    Image.fromarray(frames[0]).save(tmp_path / "first.png")
    mask = np.zeros((16, 16), np.uint8)
    mask[4:10, 4:12] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    common = ["generate", "--prompt", "a red square moving left", "--seeds", "0", "--num-frames", "8",
              "--height", "16", "--width", "16", "--model-arg", f"checkpoint_dir={shipped_tiny}",
              "--model-arg", "steps=2", "--model-arg", "ssr_steps=1", "--model-arg", "window=4"]
    tasks = {"i2v": ["--image", "first.png"], "inpaint": ["--video", "in.mp4", "--mask", "mask.png"],
             "outpaint": ["--video", "in.mp4", "--border", "3"], "cinemagraph": ["--image", "first.png", "--mask",
                                                                              "mask.png", "--paste"],
             "edit": ["--video", "in.mp4", "--strength", "0.5"]}
    for task, inputs in tasks.items():
        out = tmp_path / task
        args = common + ["--task", task, "--out", str(out)] + [str(tmp_path / a) if a.endswith((".png", ".mp4"))
                                                             else a for a in inputs]
        assert main(args) == 0, task
        made, _ = read_video(next(out.glob("*.mp4")))
        assert made.shape == (8, 16, 16, 3), task
        config = json.loads((out / "generate_config.json").read_text())
        assert config["task"] == task and config["model"] == "lumiere"
        if task == "cinemagraph":   # --paste: outside the animated region every frame is the input image
            keep = mask == 0
            assert np.abs(made[:, keep].astype(int) - frames[0][keep]).mean() < 4   # H.264 round trip
    out = tmp_path / "i2v-replaced"   # known-pixel replacement: the first frame is the image
    assert main(common + ["--task", "i2v", "--image", str(tmp_path / "first.png"), "--replace-known",
                          "--out", str(out), "--format", "gif"]) == 0
    made, _ = read_video(next(out.glob("*.gif")))
    assert np.abs(made[0].astype(int) - frames[0]).mean() < 1   # the fixture's SSR is 16x16: no resizing
    assert json.loads((out / "generate_config.json").read_text())["inputs"]["replace_known"] is True
    assert main(common + ["--task", "i2v", "--out", str(tmp_path / "x")]) == 1
    assert "needs --image" in capsys.readouterr().err
    assert main(common + ["--task", "edit", "--video", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "y")]) == 1
    assert "nope.mp4: file not found" in capsys.readouterr().err
    assert main(common + ["--task", "i2v", "--model", "zeroscope", "--image", str(tmp_path / "first.png"),
                          "--out", str(tmp_path / "z")]) == 1
    assert "runs the tiny lumiere model" in capsys.readouterr().err


def test_style_flags_are_checked(tmp_path, capsys):
    from lumiere_eval.cli import main

    common = ["generate", "--prompt", "a red square moving left", "--num-frames", "16", "--height", "32",
              "--width", "32", "--out", str(tmp_path / "out")]
    assert main(common + ["--model", "dummy", "--style", "sketch"]) == 1
    assert "--style works with --model lumiere" in capsys.readouterr().err
    assert main(common + ["--model", "lumiere", "--style", "no-such-style"]) == 1
    assert "unknown style 'no-such-style'" in capsys.readouterr().err
    assert main(common + ["--task", "i2v", "--style", "sketch", "--image", str(tmp_path)]) == 1
    assert "--style goes with --task t2v" in capsys.readouterr().err
