"""The reference Lumiere's parts at tiny size: inflation, temporal resampling, diffusion, MultiDiffusion, checkpoints."""
from __future__ import annotations

import json

import pytest
import torch

from lumiere_eval.models.lumiere.checkpoint import CheckpointError, load_model, save_model
from lumiere_eval.models.lumiere.diffusion import Diffusion, DiffusionConfigError
from lumiere_eval.models.lumiere.generators import sample_videos
from lumiere_eval.models.lumiere.multidiffusion import WindowError, multidiffusion, temporal_windows
from lumiere_eval.models.lumiere.stunet import FrameCountError, STUNet, TemporalDown, TemporalUp
from lumiere_eval.models.lumiere.unet import UNet

VOCAB = ["a", "red", "blue", "square", "moving", "left", "right"]
TINY = dict(vocab=VOCAB, channels=[8, 16], attention_levels=[1], text_dim=16, text_depth=1, heads=2, max_tokens=6)


def tiny_t2i(seed: int = 0, **extra) -> UNet:
    """A tiny T2I U-Net whose zero-initialised output layer is randomised, so its output is not trivially 0."""
    torch.manual_seed(seed)
    model = UNet(**{**TINY, **extra})
    torch.nn.init.normal_(model.blocks[-1].layers[-1].weight, std=0.3)
    return model.eval()


def randomise_temporal(model: STUNet, seed: int = 1) -> STUNet:
    """Give every temporal parameter random values (as after training)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.trainable_parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen))
    return model


def per_frame(t2i: UNet, x: torch.Tensor, t: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    b, c, frames, h, w = x.shape
    y = t2i(x.transpose(1, 2).reshape(b * frames, c, h, w), t.repeat_interleave(frames),
            tokens.repeat_interleave(frames, 0))
    return y.reshape(b, frames, -1, h, w).transpose(1, 2)


def test_inflation_without_temporal_resampling_is_exactly_the_t2i_per_frame():
    t2i = tiny_t2i()
    model = STUNet.inflate(t2i, temporal_resampling=False, heads=2).eval()
    x, t = torch.randn(2, 3, 4, 8, 8), torch.tensor([0.3, 0.8])
    tokens = t2i.text.tokenizer.encode(["a red square moving left", "blue"])
    with torch.no_grad():
        assert torch.equal(model(x, t, tokens), per_frame(t2i, x, t, tokens))
        # once the temporal blocks are trained the two differ: the comparison above can fail
        assert not torch.allclose(randomise_temporal(model)(x, t, tokens), per_frame(t2i, x, t, tokens))


def test_t2i_weights_are_frozen_and_only_temporal_modules_train():
    model = STUNet.inflate(tiny_t2i(), heads=2)
    trainable = {id(p) for p in model.trainable_parameters()}
    assert trainable == {id(p) for p in model.temporal.parameters()}
    assert not any(p.requires_grad for p in model.t2i.parameters())
    kinds = [type(m).__name__ for mods in model.temporal for m in mods]
    # one spatial down and one spatial up -> one temporal down and one up; attention only at the coarsest level
    assert kinds.count("TemporalDown") == 1 and kinds.count("TemporalUp") == 1
    levels = {b.level for b, mods in zip(model.t2i.blocks, model.temporal)
              if any(type(m).__name__ == "TemporalAttention" for m in mods)}
    assert levels == {model.t2i.num_levels - 1}


def test_temporal_down_then_up_of_a_constant_video_is_exact_at_init():
    down, up = TemporalDown(6), TemporalUp(6)
    frame = torch.randn(2, 1, 6, 5, 5)
    video = frame.expand(2, 8, 6, 5, 5).reshape(16, 6, 5, 5)          # (b t) c h w, constant over t
    half, frames = down(video, 8)
    assert frames == 4 and torch.equal(half, frame.expand(2, 4, 6, 5, 5).reshape(8, 6, 5, 5))
    back, frames = up(half, 4)
    assert frames == 8 and torch.equal(back, video)
    varying = torch.randn(16, 6, 5, 5)
    assert not torch.equal(up(*down(varying, 8))[0], varying)           # not exact for a moving video


def test_stunet_with_resampling_on_a_constant_video_equals_t2i_but_not_on_a_moving_one():
    t2i = tiny_t2i()
    model = STUNet.inflate(t2i, heads=2).eval()
    t, tokens = torch.tensor([0.5]), t2i.text.tokenizer.encode(["a blue square"])
    still = torch.randn(1, 3, 1, 8, 8).expand(1, 3, 4, 8, 8).contiguous()
    moving = torch.randn(1, 3, 4, 8, 8)
    with torch.no_grad():
        # equal up to float rounding: coarse levels run their spatial layers on fewer frames (smaller batches)
        torch.testing.assert_close(model(still, t, tokens), per_frame(t2i, still, t, tokens), rtol=0, atol=1e-5)
        assert not torch.allclose(model(moving, t, tokens), per_frame(t2i, moving, t, tokens), atol=1e-3)
    with pytest.raises(FrameCountError, match="multiple of 2"):
        model(torch.randn(1, 3, 3, 8, 8), t, tokens)


def test_temporal_windows_tile_the_video_with_the_overlap():
    assert temporal_windows(16, 8, 2) == [slice(0, 8), slice(6, 14), slice(8, 16)]
    assert temporal_windows(14, 8, 2) == [slice(0, 8), slice(6, 14)]
    assert temporal_windows(5, 8, 2) == [slice(0, 5)]
    with pytest.raises(WindowError, match="overlap"):
        temporal_windows(16, 4, 4)


def test_multidiffusion_average_is_the_least_squares_combination():
    """Averaging per-window predictions solves argmin_J sum_i ||F_i(J) - Phi_i||^2 (F_i = crop to window i)."""
    frames, window, overlap = 11, 5, 2
    windows = temporal_windows(frames, window, overlap)
    gen = torch.Generator().manual_seed(0)
    phis = {w.start: torch.randn(1, 2, window, 3, 3, generator=gen, dtype=torch.float64) for w in windows}
    averaged = multidiffusion(lambda x, t, w: phis[w.start], window, overlap)(
        torch.zeros(1, 2, frames, 3, 3, dtype=torch.float64), torch.zeros(1))
    # independent solution: stack the selection matrices F_i and solve the normal equations by lstsq
    selection = torch.cat([torch.eye(frames, dtype=torch.float64)[w] for w in windows])   # [sum |w_i|, frames]
    targets = torch.cat([phis[w.start].permute(2, 0, 1, 3, 4).reshape(window, -1) for w in windows])
    solution = torch.linalg.lstsq(selection, targets).solution                          # [frames, pixels]
    expected = solution.reshape(frames, 1, 2, 3, 3).permute(1, 2, 0, 3, 4)
    torch.testing.assert_close(averaged, expected, rtol=0, atol=1e-10)


def test_multidiffusion_with_one_window_equals_the_plain_sampler():
    model = randomise_temporal(STUNet.inflate(tiny_t2i(), temporal_resampling=False, heads=2)).eval()
    gens = lambda: [torch.Generator().manual_seed(7)]   # noqa: E731
    plain = sample_videos(model, ["a red square"], gens(), (3, 6, 8, 8), steps=3, guidance=2.0, sampler="ddim")
    one = sample_videos(model, ["a red square"], gens(), (3, 6, 8, 8), steps=3, guidance=2.0, sampler="ddim",
                        window=6, overlap=2)
    assert torch.equal(plain, one)
    several = sample_videos(model, ["a red square"], gens(), (3, 6, 8, 8), steps=3, guidance=2.0,
                            sampler="ddim", window=4, overlap=2)
    assert not torch.allclose(plain, several)


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_sampling_depends_on_the_seed_only_not_on_the_batch(sampler):
    model = randomise_temporal(STUNet.inflate(tiny_t2i(), heads=2)).eval()
    prompts, seeds = ["a red square moving left", "a blue square", "right"], [3, 11, 5]
    batch = sample_videos(model, prompts, [torch.Generator().manual_seed(s) for s in seeds], (3, 4, 8, 8),
                          steps=3, guidance=3.0, sampler=sampler)
    alone = sample_videos(model, prompts[1:2], [torch.Generator().manual_seed(11)], (3, 4, 8, 8),
                          steps=3, guidance=3.0, sampler=sampler)
    # Equal up to float32 round-off of differently blocked batched kernels: measured 4.1e-5 with 1 thread
    # (same-length prompts too, so not padding) and exactly 0 with 2; a seed or batch mix-up moves values by O(1).
    torch.testing.assert_close(batch[1:2], alone, rtol=0, atol=2e-4)
    other_seed = sample_videos(model, prompts[1:2], [torch.Generator().manual_seed(12)], (3, 4, 8, 8),
                               steps=3, guidance=3.0, sampler=sampler)
    assert (other_seed - alone).abs().max() > 0.1


def test_v_prediction_identities_and_oracle_ddim_recovers_the_data():
    diffusion = Diffusion("v")
    gen = torch.Generator().manual_seed(0)
    x0, noise, t = torch.rand(4, 3, 5, 5, generator=gen) * 2 - 1, torch.randn(4, 3, 5, 5, generator=gen), \
        torch.tensor([0.1, 0.4, 0.7, 0.95])
    alpha, sigma = diffusion.alpha_sigma(t)
    torch.testing.assert_close(alpha ** 2 + sigma ** 2, torch.ones(4))
    x_t = diffusion.add_noise(x0, t, noise)
    rec_x0, rec_eps = diffusion.to_x0_eps(x_t, t, diffusion.target(x0, t, noise))
    torch.testing.assert_close(rec_x0, x0, rtol=0, atol=1e-4)
    torch.testing.assert_close(rec_eps, noise, rtol=0, atol=1e-3)
    target = x0[:1]

    def oracle(x, tt):   # the exact v for the single data point `target`
        a, s = (v.reshape(-1, 1, 1, 1) for v in diffusion.alpha_sigma(tt))
        eps = (x - a * target) / s
        return a * eps - s * target
    out = diffusion.sample(oracle, (3, 5, 5), [torch.Generator().manual_seed(1)], steps=10)
    torch.testing.assert_close(out, target, rtol=0, atol=1e-4)
    with pytest.raises(DiffusionConfigError, match="sampler"):
        diffusion.sample(oracle, (3, 5, 5), [torch.Generator()], method="euler")


def test_checkpoint_round_trip_and_corruption(tmp_path):
    model = randomise_temporal(STUNet.inflate(tiny_t2i(), heads=2)).eval()
    path = save_model(model, tmp_path / "m.pt")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["class"] == "STUNet" and meta["config"]["t2i"]["channels"] == [8, 16]
    loaded = load_model(path)
    x, t, tokens = torch.randn(1, 3, 4, 8, 8), torch.tensor([0.5]), model.t2i.text.tokenizer.encode(["red"])
    with torch.no_grad():
        assert torch.equal(loaded(x, t, tokens), model(x, t, tokens))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="m.pt.*SHA-256"):
        load_model(path)
    with pytest.raises(CheckpointError, match="json"):
        load_model(tmp_path / "missing.pt")


def test_checkpoint_saved_against_its_parent_holds_only_what_differs(tmp_path):
    t2i = tiny_t2i()
    (tmp_path / "t2i").mkdir()
    parent = save_model(t2i, tmp_path / "t2i" / "model.pt", extra={"stage": "t2i"})
    model = randomise_temporal(STUNet.inflate(t2i, heads=2)).eval()
    path = save_model(model, tmp_path / "stunet" / "model.pt", parent=parent)
    full = save_model(model, tmp_path / "full.pt")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["parent"]["stage"] == "t2i" and meta["parent"]["tensors"] == len(t2i.state_dict())
    stored = torch.load(path, weights_only=True)
    assert stored and all(k.startswith("temporal.") for k in stored) and path.stat().st_size < full.stat().st_size
    x, t, tokens = torch.randn(1, 3, 4, 8, 8), torch.tensor([0.5]), model.t2i.text.tokenizer.encode(["red"])
    with torch.no_grad():
        assert torch.equal(load_model(path)(x, t, tokens), model(x, t, tokens))   # run layout: ../t2i/model.pt
    shipped = tmp_path / "ship"
    shipped.mkdir()
    for name, source in (("t2i", parent), ("stunet", path)):
        for ext in (".pt", ".json"):
            (shipped / f"{name}{ext}").write_bytes(source.with_suffix(ext).read_bytes())
    with torch.no_grad():
        assert torch.equal(load_model(shipped / "stunet.pt")(x, t, tokens), model(x, t, tokens))   # beside it
    save_model(tiny_t2i(seed=5), shipped / "t2i.pt", extra={"stage": "t2i"})   # another parent in its place
    (tmp_path / "t2i" / "model.pt").unlink()
    with pytest.raises(CheckpointError, match="stunet.pt: its parent checkpoint .*'t2i'.*another checksum"):
        load_model(shipped / "stunet.pt")
