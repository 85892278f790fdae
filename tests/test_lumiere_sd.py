"""Lumiere on a diffusers T2I U-Net, on tiny random models built from the real diffusers/transformers classes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers", reason="needs the 'diffusers' extra")

from lumiere_eval import LumiereEvalError  # noqa: E402
from lumiere_eval.models.lumiere.stunet import FrameCountError  # noqa: E402
from lumiere_eval.models.lumiere_sd.checkpoint import (TemporalCheckpointError, base_identity, load_base,  # noqa: E402
                                                       load_temporal, save_temporal, tensors_sha256, widen_conv_in)
from lumiere_eval.models.lumiere_sd.inflate import InflationError, find_plan, inflate  # noqa: E402
from lumiere_eval.models.lumiere_sd.tiny import save_tiny_base, tiny_components  # noqa: E402


@pytest.fixture(scope="module")
def parts():
    return tiny_components(seed=0)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    return save_tiny_base(tmp_path_factory.mktemp("sd") / "base")


def per_frame(unet, x, t, text):
    """The T2I U-Net applied to every frame of [b, c, t, h, w] on its own."""
    b, c, frames, h, w = x.shape
    y = unet(x.transpose(1, 2).reshape(b * frames, c, h, w), t.repeat_interleave(frames),
             text.repeat_interleave(frames, 0)).sample
    return y.reshape(b, frames, -1, h, w).transpose(1, 2)


def test_plan_follows_the_paper_rules_from_a_dry_run(parts):
    plan = find_plan(parts["unet"])
    kinds = {e["module"]: e["kind"] for e in plan}
    assert kinds["down_blocks.0.downsamplers.0"] == "down" and kinds["up_blocks.0.upsamplers.0"] == "up"
    # finer level: temporal convolutions; coarsest level (down_blocks.1, mid, up_blocks.0): temporal attention
    assert kinds["down_blocks.0.resnets.0"] == kinds["up_blocks.1.resnets.1"] == "conv"
    coarse = ("down_blocks.1.resnets.0", "mid_block.resnets.1", "up_blocks.0.resnets.0")
    assert {kinds[name] for name in coarse} == {"attention"}
    assert {e["kind"] for e in find_plan(parts["unet"], temporal_resampling=False)} == {"conv", "attention"}
    assert [e["channels"] for e in plan if e["kind"] == "conv"] == [32, 32, 32]


def test_without_resampling_the_inflated_unet_is_exactly_the_t2i_per_frame(parts):
    unet = parts["unet"]
    gen = torch.Generator().manual_seed(0)
    x, text = torch.randn(2, 4, 6, 8, 8, generator=gen), torch.randn(2, 5, 32, generator=gen)
    t = torch.tensor([10, 700])
    with torch.no_grad():
        reference = per_frame(unet, x, t, text)   # before inflation: the hooks would run inside `unet` too
        model = inflate(unet, temporal_resampling=False)
        assert torch.equal(model(x, t, text), reference)
    model.remove_hooks()


def test_with_resampling_a_still_video_equals_the_t2i_and_a_moving_one_does_not(parts):
    unet = parts["unet"]
    gen = torch.Generator().manual_seed(1)
    text, t = torch.randn(1, 5, 32, generator=gen), torch.tensor([300])
    still = torch.randn(1, 4, 1, 8, 8, generator=gen).expand(1, 4, 4, 8, 8).contiguous()
    moving = torch.randn(1, 4, 4, 8, 8, generator=gen)
    with torch.no_grad():
        references = [per_frame(unet, v, t, text) for v in (still, moving)]
        model = inflate(unet)
        torch.testing.assert_close(model(still, t, text), references[0], rtol=0, atol=1e-5)
        # frames 1 and 3 get the coarse features of frames 0 and 2 (down-sampling keeps the even frames)
        assert (model(moving, t, text) - references[1]).abs().max() > 1e-2
    model.remove_hooks()
    with torch.no_grad():   # hooks removed: the plain T2I again
        assert torch.equal(per_frame(unet, moving, t, text), references[1])


def test_a_frame_count_the_network_cannot_take_is_an_error_naming_the_need(parts):
    model = inflate(parts["unet"])
    assert model.frame_multiple == 2
    with pytest.raises(FrameCountError, match="multiple of 2"):
        model(torch.zeros(1, 4, 5, 8, 8), torch.tensor([1]), torch.zeros(1, 5, 32))
    model.remove_hooks()


def test_a_plan_by_module_names_and_a_bad_name(parts):
    unet = parts["unet"]
    plan = [{"module": "down_blocks.0.resnets.0", "kind": "conv", "channels": 32},
            {"module": "mid_block.resnets.0", "kind": "attention", "channels": 64}]
    model = inflate(unet, plan=plan)
    assert sorted(model.temporal) == ["down_blocks__0__resnets__0", "mid_block__resnets__0"]
    assert model.frame_multiple == 1
    model.remove_hooks()
    with pytest.raises(InflationError, match="no_such"):
        inflate(unet, plan=[{"module": "no_such.block", "kind": "conv", "channels": 8}])


def test_per_frame_inputs_follow_the_frames_through_down_sampling(parts):
    """Per-frame timesteps: at the coarse level frame j carries the time embedding of input frame 2j."""
    unet = parts["unet"]
    model = inflate(unet)
    seen = []
    handle = unet.mid_block.resnets[0].register_forward_pre_hook(lambda m, args: seen.append(args[1].clone()))
    with torch.no_grad():
        model(torch.zeros(1, 4, 4, 8, 8), torch.tensor([[100, 200, 300, 400]]), torch.zeros(1, 5, 32))
        expected = unet.time_embedding(unet.time_proj(torch.tensor([100, 300])).float())
    handle.remove()
    model.remove_hooks()
    assert seen[-1].shape[0] == 2
    torch.testing.assert_close(seen[-1], expected)


def test_training_step_changes_only_temporal_weights(parts):
    unet = parts["unet"]
    before = tensors_sha256(unet)
    model = inflate(unet)
    trainable = model.trainable_parameters()
    assert trainable and all(any(p is q for q in model.temporal.parameters()) for p in trainable)
    old = {k: v.clone() for k, v in model.temporal.state_dict().items()}
    optimizer = torch.optim.AdamW(trainable, lr=1e-2)
    for _ in range(2):   # the zero-initialised output layers move first, then the layers before them
        loss = model(torch.randn(1, 4, 4, 8, 8), torch.tensor([500]), torch.randn(1, 5, 32)).square().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.remove_hooks()
    assert tensors_sha256(unet) == before   # bit-identical T2I weights
    assert any(not torch.equal(old[k], v) for k, v in model.temporal.state_dict().items())


def test_gradient_checkpointing_gives_the_same_gradients(base_dir):
    grads = []
    for checkpointing in (False, True):
        unet = load_base(str(base_dir))["unet"]
        torch.manual_seed(0)
        model = inflate(unet)
        if checkpointing:
            unet.enable_gradient_checkpointing()
        model.train()
        gen = torch.Generator().manual_seed(3)
        x, text = torch.randn(1, 4, 4, 8, 8, generator=gen), torch.randn(1, 5, 32, generator=gen)
        out = model(x, torch.tensor([500]), text)
        out.square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.trainable_parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-7)


def test_temporal_weights_save_load_checksum_and_base_identity(base_dir, tmp_path):
    loaded = load_base(str(base_dir))
    torch.manual_seed(0)
    model = inflate(loaded["unet"])
    with torch.no_grad():
        for p in model.temporal.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = save_temporal(model, tmp_path / "temporal.pt", base_identity(loaded, str(base_dir)))
    saved = torch.load(path, weights_only=True)
    assert all(k.startswith("temporal.") for k in saved)   # only the new weights
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["plan"] == model.plan and set(meta["base"]["sha256"]) == {"unet", "vae", "text_encoder"}
    x, t, text = torch.randn(1, 4, 4, 8, 8), torch.tensor([400]), torch.randn(1, 5, 32)
    with torch.no_grad():
        expected = model(x, t, text)
    model.remove_hooks()
    again = load_temporal(path, load_base(str(base_dir)))
    with torch.no_grad():
        assert torch.equal(again(x, t, text), expected)
    again.remove_hooks()
    other = tiny_components(seed=1)
    with pytest.raises(TemporalCheckpointError, match="unet, vae, text_encoder weights differ"):
        load_temporal(path, other)
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TemporalCheckpointError, match="SHA-256"):
        load_temporal(path, load_base(str(base_dir)))


def test_widened_input_with_a_zero_condition_computes_what_the_plain_model_does(base_dir):
    loaded = load_base(str(base_dir))
    x, t, text = torch.randn(1, 4, 4, 8, 8), torch.tensor([400]), torch.randn(1, 5, 32)
    model = inflate(loaded["unet"])
    with torch.no_grad():
        plain = model(x, t, text)
    model.remove_hooks()
    identity = base_identity(loaded, str(base_dir))
    widen_conv_in(loaded["unet"], 5)   # masked latent video (4) + mask (1)
    wide = inflate(loaded["unet"], train_input=True, cond_channels=5)
    assert wide.unet.conv_in.weight.requires_grad and "unet.conv_in.weight" in wide.new_state_dict()
    cond = torch.randn(1, 5, 4, 8, 8)
    with torch.no_grad():   # the new input channels start at zero weight: any condition, the same output
        assert torch.equal(wide(torch.cat([x, cond], 1), t, text), plain)
        wide.unet.conv_in.weight[:, 4:] += 0.1   # as after fine-tuning
        expected = wide(torch.cat([x, cond], 1), t, text)
    wide.remove_hooks()
    path = save_temporal(wide, base_dir.parent / "wide" / "temporal.pt", identity)
    again = load_temporal(path, load_base(str(base_dir)))   # widened again from the saved options
    with torch.no_grad():
        assert torch.equal(again(torch.cat([x, cond], 1), t, text), expected)
    again.remove_hooks()


def test_an_unconditional_unet2dmodel_inflates_too():
    from diffusers import UNet2DModel
    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=8, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(16, 32),
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                       norm_num_groups=8, attention_head_dim=8).eval()
    x, t = torch.randn(1, 3, 4, 8, 8), torch.tensor([50])
    with torch.no_grad():
        reference = unet(x.transpose(1, 2).reshape(4, 3, 8, 8), t.repeat(4)).sample
        reference = reference.reshape(1, 4, 3, 8, 8).transpose(1, 2)
        model = inflate(unet, temporal_resampling=False)
        assert torch.equal(model(x, t), reference)
    model.remove_hooks()
    assert {e["kind"] for e in find_plan(unet)} == {"conv", "attention", "down", "up"}


def test_stylize_interpolates_the_unet_only_and_keeps_the_temporal_weights(parts):
    from lumiere_eval.models.lumiere.style import StyleAlphaError
    from lumiere_eval.models.lumiere_sd.style import stylize_unet
    import copy
    style = tiny_components(seed=1)["unet"]
    for alpha in (0.25, 1.0):
        model = inflate(copy.deepcopy(parts["unet"]))
        with torch.no_grad():
            for p in model.temporal.parameters():
                p.normal_()
        temporal = {k: v.clone() for k, v in model.temporal.state_dict().items()}
        stylize_unet(model, style, alpha)
        for name, weight in model.unet.state_dict().items():
            expected = alpha * style.state_dict()[name] + (1 - alpha) * parts["unet"].state_dict()[name]
            torch.testing.assert_close(weight, expected, rtol=0, atol=1e-6)
        assert all(torch.equal(v, temporal[k]) for k, v in model.temporal.state_dict().items())
    with pytest.raises(StyleAlphaError):
        stylize_unet(model, style, 1.5)


# --- scheduler adapter, generator, training: a tiny base saved with save_pretrained -----------------------

@pytest.fixture(scope="module")
def temporal_file(base_dir, tmp_path_factory):
    """Temporal weights (random, non-zero: as if trained) saved against the tiny base."""
    loaded = load_base(str(base_dir))
    torch.manual_seed(5)
    model = inflate(loaded["unet"])
    with torch.no_grad():
        for p in model.temporal.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = save_temporal(model, tmp_path_factory.mktemp("temporal") / "temporal.pt",
                         base_identity(loaded, str(base_dir)))
    model.remove_hooks()
    return path


def test_v_prediction_target_and_a_stochastic_scheduler_with_one_generator_per_sample(parts):
    from diffusers import DDPMScheduler
    from lumiere_eval.models.lumiere_sd.latent import sample_latents, training_target
    scheduler = DDPMScheduler(num_train_timesteps=100, prediction_type="v_prediction")
    x0, noise, t = torch.randn(2, 4, 2, 8, 8), torch.randn(2, 4, 2, 8, 8), torch.tensor([10, 90])
    alpha = scheduler.alphas_cumprod[t].sqrt().reshape(-1, 1, 1, 1, 1)
    torch.testing.assert_close(training_target(scheduler, x0, noise, t), alpha * noise - (1 - alpha ** 2).sqrt() * x0)
    denoise = lambda x, t, text: 0.1 * x + text.mean() * 0   # noqa: E731 a fixed affine "network"
    text = torch.zeros(3, 2, 4)
    gens = lambda seeds: [torch.Generator().manual_seed(s) for s in seeds]   # noqa: E731
    both = sample_latents(denoise, scheduler, text[:2], text[:2], (4, 2, 8, 8), gens([7, 8]), 5, 1.0)
    alone = sample_latents(denoise, scheduler, text[:1], text[:1], (4, 2, 8, 8), gens([8]), 5, 1.0)
    torch.testing.assert_close(both[1:], alone, rtol=0, atol=1e-6)   # DDPM's added noise too: per sample
    assert not torch.allclose(both[0], both[1])


def test_generator_depends_on_the_seed_only_and_windows_cover_the_clip(base_dir, temporal_file):
    from lumiere_eval.models.base import create_generator
    gen = create_generator("lumiere-sd", base=str(base_dir), temporal=str(temporal_file), steps=3, guidance=3.0,
                           batch_size=2)
    prompts = ["a red square moving left", "a blue circle bouncing"]
    pair = gen.generate(prompts, [0, 1], 6, 8.0, 16, 16)
    alone = gen.generate(prompts[1:], [1], 6, 8.0, 16, 16)
    assert pair[0].frames.shape == (6, 16, 16, 3) and pair[0].meta["native_size"] == [16, 16]
    assert np.abs(pair[1].frames.astype(int) - alone[0].frames.astype(int)).max() <= 1
    assert np.abs(pair[0].frames.astype(int) - pair[1].frames.astype(int)).mean() > 1
    whole = create_generator("lumiere-sd", base=str(base_dir), temporal=str(temporal_file), steps=3,
                             window=6).generate(prompts[:1], [0], 6, 8.0, 16, 16)
    plain = create_generator("lumiere-sd", base=str(base_dir), temporal=str(temporal_file),
                             steps=3).generate(prompts[:1], [0], 6, 8.0, 16, 16)
    assert np.array_equal(whole[0].frames, plain[0].frames)   # one window = the plain sampler
    windows = create_generator("lumiere-sd", base=str(base_dir), temporal=str(temporal_file), steps=3, window=4,
                               overlap=2).generate(prompts[:1], [0], 8, 8.0, 16, 16)
    assert windows[0].frames.shape == (8, 16, 16, 3)
    info = gen.describe()
    assert info["temporal_sha256"] == json.loads(temporal_file.with_suffix(".json").read_text())["sha256"]
    with pytest.raises(LumiereEvalError, match="multiple of 2"):
        create_generator("lumiere-sd", base=str(base_dir), temporal=str(temporal_file), window=3)


def _model_args(base_dir, temporal_file) -> list[str]:
    return ["--model-arg", f"base={base_dir}", "--model-arg", f"temporal={temporal_file}", "--model-arg", "steps=2"]


def test_generate_command_takes_lumiere_sd(base_dir, temporal_file, tmp_path):
    from lumiere_eval.cli import main
    from lumiere_eval.models.manifest import read_manifest
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red square moving left\na green triangle moving up\n")
    out = tmp_path / "gen"
    assert main(["generate", "--model", "lumiere-sd", *_model_args(base_dir, temporal_file), "--prompts",
                 str(prompts), "--seeds", "0", "--num-frames", "6", "--fps", "8", "--height", "16", "--width", "16",
                 "--out", str(out)]) == 0
    entries = read_manifest(out / "manifest.jsonl")
    assert len(entries) == 2
    config = json.loads((out / "generate_config.json").read_text())
    meta = json.loads(temporal_file.with_suffix(".json").read_text())
    assert config["generator"]["temporal_sha256"] == meta["sha256"]


@pytest.mark.slow   # the embedded synthetic default: real clips, evaluators, metrics (about a minute here)
def test_runner_takes_lumiere_sd(base_dir, temporal_file, tmp_path, monkeypatch):
    from lumiere_eval.cli import main
    model_args = _model_args(base_dir, temporal_file)
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path / "home"))
    run = tmp_path / "run"
    assert main(["ucf101", "--synthetic-size", "tiny", "--out", str(run), "--cache-dir", str(tmp_path / "cache"),
                 "--no-progress", "--model", "lumiere-sd", *model_args, "--num-samples", "4"]) == 0
    records = [json.loads(x) for x in (run / "lumiere-sd" / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 4
    results = json.loads((run / "lumiere-sd" / "results.json").read_text())
    meta = json.loads(temporal_file.with_suffix(".json").read_text())
    assert results["model"]["temporal_sha256"] == meta["sha256"]
    assert results["model"]["base_identity"]["sha256"] == meta["base"]["sha256"]


def test_cpu_training_lowers_the_loss_resumes_and_leaves_the_base_alone(tmp_path):
    from lumiere_eval.training.lumiere_sd import SDTrainConfig, train
    from lumiere_eval.training.lumiere_sd_cli import make_example
    config_path = make_example(tmp_path / "example", clips=6, steps=16)
    config = SDTrainConfig.load(config_path)
    before = base_identity(load_base(config.base), config.base)
    out = tmp_path / "example" / "run"
    path = train(config, out, steps=12, log=lambda _: None)
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert log[0]["step"] == 0 and log[-1]["step"] == 12
    assert log[-1]["validation_loss"] < log[0]["validation_loss"]
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["steps"] == 12 and meta["base"]["sha256"] == before["sha256"]
    assert base_identity(load_base(config.base), config.base)["sha256"] == before["sha256"]   # files untouched
    train(config, out, steps=16, log=lambda _: None)   # resumes at 12
    steps_logged = [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()]
    assert steps_logged[-1] == 16 and steps_logged.count(12) == 1 and 0 not in steps_logged[1:]
    assert load_temporal(path, load_base(config.base)).frame_multiple == 2


def test_image_to_video_condition_fits_a_widened_unet(parts):
    import copy
    from lumiere_eval.models.lumiere_sd.latent import LatentError, condition_latents
    video = torch.rand(1, 3, 4, 16, 16) * 2 - 1
    mask = torch.zeros(1, 1, 4, 16, 16)
    mask[:, :, 0] = 1                                    # image-to-video: the first frame known
    cond = condition_latents(parts["vae"], video, mask)
    assert cond.shape == (1, 5, 4, 8, 8)
    assert torch.equal(cond[:, 4, 0], torch.ones(1, 8, 8)) and cond[:, :, 1:].abs().max() == 0
    unet = widen_conv_in(copy.deepcopy(parts["unet"]), cond.shape[1])
    model = inflate(unet, train_input=True)
    with torch.no_grad():
        out = model(torch.cat([torch.randn(1, 4, 4, 8, 8), cond], 1), torch.tensor([10]), torch.randn(1, 5, 32))
    assert out.shape == (1, 4, 4, 8, 8)
    with pytest.raises(LatentError, match="does not fit"):
        condition_latents(parts["vae"], video, mask[:, :, :2])


def test_bad_training_configs_and_data_name_the_field(tmp_path):
    from lumiere_eval.training.lumiere_sd import CaptionedVideos, SDTrainConfig, TrainConfigError
    path = tmp_path / "c.json"
    for body, message in [({"base": "b", "data": {"folder": "v"}, "train": {"stepz": 3}}, "unknown train keys"),
                          ({"base": "b", "data": {}}, "data.folder"),
                          ({"base": "b", "data": {"folder": "v", "num_frames": 0}}, "data.num_frames"),
                          ({"base": "b", "data": {"folder": "v"}, "train": {"mixed_precision": "fp8"}},
                           "mixed_precision")]:
        path.write_text(json.dumps(body))
        with pytest.raises(TrainConfigError, match=message):
            SDTrainConfig.load(path)
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"")
    with pytest.raises(TrainConfigError, match="no caption file for a.mp4"):
        CaptionedVideos(tmp_path / "v", 4, 1)


def test_generator_style_option_interpolates_towards_a_fine_tuned_base(base_dir, temporal_file, tmp_path):
    from lumiere_eval.models.base import create_generator
    style = save_tiny_base(tmp_path / "style", seed=1)   # stands in for a U-Net fine-tuned from the base
    options = dict(base=str(base_dir), temporal=str(temporal_file), steps=2)
    plain = create_generator("lumiere-sd", **options).generate(["a red square"], [0], 4, 8.0, 16, 16)[0].frames
    for alpha, same in ((0.0, True), (1.0, False)):
        gen = create_generator("lumiere-sd", style=str(style), alpha=alpha, **options)
        frames = gen.generate(["a red square"], [0], 4, 8.0, 16, 16)[0].frames
        assert np.array_equal(frames, plain) == same, alpha
        assert gen.describe()["style"] == str(style)


def test_conditional_training_widens_the_input_and_the_generator_takes_it(tmp_path):
    from lumiere_eval.models.base import create_generator
    from lumiere_eval.training.lumiere_sd import SDTrainConfig, train
    from lumiere_eval.training.lumiere_sd_cli import make_example
    config_path = make_example(tmp_path / "example", clips=4, steps=2)
    body = json.loads(config_path.read_text())
    body["model"]["condition"] = ["first-frame", "box"]
    body["train"]["checkpoint_every"] = 2
    config_path.write_text(json.dumps(body))
    config = SDTrainConfig.load(config_path)
    path = train(config, tmp_path / "cond", log=lambda _: None)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["options"]["cond_channels"] == 5 and meta["options"]["train_input"]
    weights = torch.load(path, weights_only=True)["unet.conv_in.weight"]
    assert weights.shape[1] == 9 and weights[:, 4:].abs().max() > 0   # the new channels trained
    # at step 0 the widened model computes what the plain one does (new input weights start at zero)
    body["model"]["condition"] = None
    config_path.write_text(json.dumps(body))
    train(SDTrainConfig.load(config_path), tmp_path / "plain", steps=1, log=lambda _: None)
    first = [json.loads((tmp_path / run / "log.jsonl").read_text().splitlines()[0])["validation_loss"]
             for run in ("cond", "plain")]
    assert first[0] == pytest.approx(first[1], rel=1e-6)   # a wider convolution sums in another order
    video = create_generator("lumiere-sd", base=config.base, temporal=str(path), steps=2).generate(
        ["a red square"], [0], 4, 8.0, 16, 16)[0]
    assert video.frames.shape == (4, 16, 16, 3)


def test_generator_dtype_option(base_dir, temporal_file):
    from lumiere_eval.models.base import create_generator
    options = dict(base=str(base_dir), temporal=str(temporal_file), steps=2)
    half = create_generator("lumiere-sd", dtype="bfloat16", **options)
    assert half.parts["unet"].dtype == torch.bfloat16 and half.describe()["dtype"] == "bfloat16"
    assert half.generate(["a red square"], [0], 4, 8.0, 16, 16)[0].frames.shape == (4, 16, 16, 3)
    with pytest.raises(LumiereEvalError, match="dtype must be one of"):
        create_generator("lumiere-sd", dtype="float64", **options)


def test_a_training_state_without_a_readable_state_json_is_a_clear_error(tmp_path):
    """A kill while state.json was written, or a lost state.json: the resume names the file, no raw error."""
    from lumiere_eval.training.lumiere_sd import TrainConfigError, _load_state

    (tmp_path / "state.pt").write_bytes(b"x")
    with pytest.raises(TrainConfigError, match="state.json: missing or not valid json"):
        _load_state(tmp_path, None, None, None)
    (tmp_path / "state.json").write_text('{"sha256": "ab')
    with pytest.raises(TrainConfigError, match="state.json: missing or not valid json"):
        _load_state(tmp_path, None, None, None)
