"""Lumiere on a diffusers T2I U-Net, on tiny random models built from the real diffusers/transformers classes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers", reason="needs the 'diffusers' extra")

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
    assert kinds["down_blocks.1.resnets.0"] == kinds["mid_block.resnets.1"] == kinds["up_blocks.0.resnets.0"] == "attention"
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
        out = model(torch.randn(1, 4, 4, 8, 8, generator=gen), torch.tensor([500]), torch.randn(1, 5, 32, generator=gen))
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
    widen_conv_in(loaded["unet"], 5)   # masked latent video (4) + mask (1)
    wide = inflate(loaded["unet"], train_input=True)
    assert wide.unet.conv_in.weight.requires_grad and "unet.conv_in.weight" in wide.new_state_dict()
    with torch.no_grad():   # the new input channels start at zero weight: any condition, the same output
        assert torch.equal(wide(torch.cat([x, torch.randn(1, 5, 4, 8, 8)], 1), t, text), plain)
    wide.remove_hooks()
