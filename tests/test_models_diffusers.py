"""Diffusers adapters on tiny pipelines built here from the real diffusers/transformers classes (random weights).

Each pipeline is saved with save_pretrained to a temporary folder and loaded back by the adapter from there;
network connections are refused during the tests, so any download attempt fails them.
"""
from __future__ import annotations

import socket
import string

import numpy as np
import pytest

pytest.importorskip("diffusers", reason="needs the 'diffusers' extra")
import torch  # noqa: E402

from lumiere_eval.models.base import UnknownModelError, create_generator  # noqa: E402
from lumiere_eval.models.diffusers_adapter import DiffusersError  # noqa: E402

SIZE, FRAMES, STEPS = 16, 4, 2


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run ~10x faster on one thread than on threads fighting over 2 shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("a test tried to open a network connection")
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _clip_tokenizer():
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        vocab.update({c + suffix: len(vocab) for c in string.ascii_lowercase})
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=8)


def _clip_text_encoder():
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=8,
                                        intermediate_size=16, num_attention_heads=2, num_hidden_layers=1,
                                        vocab_size=64, max_position_embeddings=8, projection_dim=8))


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=(8,), in_channels=3, out_channels=3, latent_channels=4,
                         down_block_types=["DownEncoderBlock2D"], up_block_types=["UpDecoderBlock2D"],
                         sample_size=SIZE, norm_num_groups=2, layers_per_block=1)


def _ddim():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Folders of tiny saved pipelines: t2v, sd + motion adapter, cogvideox, svd."""
    from diffusers import (AutoencoderKLCogVideoX, AutoencoderKLTemporalDecoder, CogVideoXDDIMScheduler,
                           CogVideoXPipeline, CogVideoXTransformer3DModel, EulerDiscreteScheduler, MotionAdapter,
                           StableDiffusionPipeline,
                           StableVideoDiffusionPipeline, TextToVideoSDPipeline, UNet2DConditionModel,
                           UNet3DConditionModel, UNetSpatioTemporalConditionModel)
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection, T5Config,
                              T5EncoderModel, T5Tokenizer)

    root = tmp_path_factory.mktemp("tiny_pipelines")
    torch.manual_seed(0)
    unet3d = UNet3DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=SIZE, in_channels=4,
                                  out_channels=4, down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                  up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"), cross_attention_dim=8,
                                  attention_head_dim=4, norm_num_groups=2)
    TextToVideoSDPipeline(vae=_vae(), text_encoder=_clip_text_encoder(), tokenizer=_clip_tokenizer(), unet=unet3d,
                          scheduler=_ddim()).save_pretrained(root / "t2v")

    unet2d = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=SIZE, in_channels=4,
                                  out_channels=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                  up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=8,
                                  attention_head_dim=4, norm_num_groups=2)
    StableDiffusionPipeline(vae=_vae(), text_encoder=_clip_text_encoder(), tokenizer=_clip_tokenizer(), unet=unet2d,
                            scheduler=_ddim(), safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(root / "sd")
    MotionAdapter(block_out_channels=(8, 16), motion_layers_per_block=1, motion_norm_num_groups=2,
                  motion_num_attention_heads=2, motion_max_seq_length=32).save_pretrained(root / "motion")

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [(c, -3.0) for c in string.ascii_lowercase] + [("\u2581" + c, -2.5) for c in string.ascii_lowercase]
    CogVideoXPipeline(
        tokenizer=T5Tokenizer(vocab=vocab, extra_ids=0),
        text_encoder=T5EncoderModel(T5Config(vocab_size=64, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2,
                                             relative_attention_num_buckets=8)),
        vae=AutoencoderKLCogVideoX(in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 2,
                                   up_block_types=("CogVideoXUpBlock3D",) * 2, block_out_channels=(8, 8),
                                   latent_channels=4, layers_per_block=1, norm_num_groups=2,
                                   temporal_compression_ratio=4),
        transformer=CogVideoXTransformer3DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4,
                                                out_channels=4, time_embed_dim=2, text_embed_dim=16, num_layers=1,
                                                sample_width=8, sample_height=8, sample_frames=5, patch_size=2,
                                                temporal_compression_ratio=4, max_text_seq_length=8),
        scheduler=CogVideoXDDIMScheduler()).save_pretrained(root / "cogvideox")

    # SVD's blocks use 32 norm groups and its pipeline resizes to 224 for CLIP, hence these sizes
    StableVideoDiffusionPipeline(
        vae=AutoencoderKLTemporalDecoder(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                                         down_block_types=["DownEncoderBlock2D"] * 2, latent_channels=4,
                                         layers_per_block=1),
        image_encoder=CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=8, projection_dim=8, num_hidden_layers=1, num_attention_heads=2, image_size=224,
            intermediate_size=16, patch_size=32)),
        unet=UNetSpatioTemporalConditionModel(
            block_out_channels=(32, 64), layers_per_block=1, sample_size=SIZE, in_channels=8, out_channels=4,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"), cross_attention_dim=8,
            num_attention_heads=2, projection_class_embeddings_input_dim=24, addition_time_embed_dim=8),
        scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                         interpolation_type="linear", prediction_type="v_prediction",
                                         sigma_max=700.0, sigma_min=0.002, steps_offset=1,
                                         timestep_spacing="leading", timestep_type="continuous",
                                         use_karras_sigmas=True),
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224)).save_pretrained(root / "svd")
    return root


def _check(videos, prompts, seeds):
    assert len(videos) == len(prompts)
    for video, prompt, seed in zip(videos, prompts, seeds):
        assert video.frames.dtype == np.uint8 and video.frames.shape == (FRAMES, SIZE, SIZE, 3)
        assert video.meta["prompt"] == prompt and video.meta["seed"] == seed and video.fps == 8.0
        assert video.frames.std() > 0  # a decoded random-weight video, not a constant fill


def test_zeroscope_matches_the_pipeline_and_depends_on_the_seed_only(tiny):
    from diffusers import TextToVideoSDPipeline

    prompts, seeds = ["a dog", "a cat"], [3, 7]
    gen = create_generator("zeroscope", path=str(tiny / "t2v"), num_inference_steps=STEPS, batch_size=2)
    videos = gen.generate(prompts, seeds, FRAMES, 8.0, SIZE, SIZE)
    _check(videos, prompts, seeds)
    # the same video alone (batch size 1) as in a batch of two: one generator per video
    alone = create_generator("modelscope", path=str(tiny / "t2v"), num_inference_steps=STEPS)
    single = alone.generate(prompts[1:], seeds[1:], FRAMES, 8.0, SIZE, SIZE)[0]
    assert np.abs(single.frames.astype(int) - videos[1].frames.astype(int)).max() <= 1  # float batching noise
    assert np.abs(alone.generate(["a cat"], [8], FRAMES, 8.0, SIZE, SIZE)[0].frames.astype(int)
                  - single.frames.astype(int)).mean() > 1  # another seed, another video
    # independent path: the diffusers pipeline called directly with a seeded CPU generator
    pipe = TextToVideoSDPipeline.from_pretrained(tiny / "t2v", local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    ref = pipe(prompt=["a cat"], num_frames=FRAMES, height=SIZE, width=SIZE, num_inference_steps=STEPS,
               generator=torch.Generator().manual_seed(7), output_type="np").frames[0]
    np.testing.assert_array_equal(single.frames, np.round(np.clip(ref, 0, 1) * 255).astype(np.uint8))
    described = gen.describe()
    assert described["pipeline"] == "TextToVideoSDPipeline" and described["source"].endswith("t2v")
    assert any(k.startswith("unet/") for k in described["weights_sha256"]["model"])


def test_animatediff_from_a_stable_diffusion_folder_and_a_motion_adapter(tiny):
    gen = create_generator("animatediff", path=str(tiny / "sd"), motion_adapter=str(tiny / "motion"),
                           num_inference_steps=STEPS, guidance_scale=5.0, negative_prompt="blurry")
    videos = gen.generate(["a dog"], [0], FRAMES, 8.0, SIZE, SIZE)
    _check(videos, ["a dog"], [0])
    assert type(gen.load().unet).__name__ == "UNetMotionModel"
    again = gen.generate(["a dog"], [0], FRAMES, 8.0, SIZE, SIZE)[0]
    np.testing.assert_array_equal(again.frames, videos[0].frames)
    assert "motion_adapter" in gen.describe()["weights_sha256"]


def test_cogvideox_generates_4k_plus_1_frames_and_keeps_the_first(tiny):
    gen = create_generator("cogvideox", path=str(tiny / "cogvideox"), num_inference_steps=STEPS,
                           call_kwargs='{"max_sequence_length": 8}')
    assert [gen.frames_to_generate(n) for n in (1, 4, 5, 16, 49)] == [1, 5, 5, 17, 49]
    videos = gen.generate(["a dog"], [1], FRAMES, 8.0, SIZE, SIZE)
    _check(videos, ["a dog"], [1])
    assert videos[0].meta["generated_frames"] >= FRAMES


def test_svd_takes_one_conditioning_image_per_prompt(tiny, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(tmp_path / "a_red_car.png")
    gen = create_generator("svd", path=str(tiny / "svd"), images=str(tmp_path), num_inference_steps=STEPS,
                           call_kwargs='{"decode_chunk_size": 4}')
    _check(gen.generate(["A red car"], [2], FRAMES, 8.0, SIZE, SIZE), ["A red car"], [2])
    with pytest.raises(DiffusersError, match="no conditioning image a_blue_car-0.png"):
        gen.generate(["a blue car"], [0], FRAMES, 8.0, SIZE, SIZE)


def test_clear_errors(tiny, tmp_path):
    with pytest.raises(DiffusersError, match="does not exist"):
        create_generator("zeroscope", path=str(tmp_path / "missing"))
    with pytest.raises(DiffusersError, match="no model_index.json"):
        create_generator("zeroscope", path=str(tmp_path))
    with pytest.raises(DiffusersError, match="exactly one of path"):
        create_generator("zeroscope")
    with pytest.raises(UnknownModelError, match="steps"):
        create_generator("zeroscope", path=str(tiny / "t2v"), steps=3)
    with pytest.raises(UnknownModelError, match="Did you mean: zeroscope"):
        create_generator("zeroscop")
    with pytest.raises(DiffusersError, match="offload=model"):
        create_generator("zeroscope", path=str(tiny / "t2v"), offload="model")
    with pytest.raises(DiffusersError, match="needs pipeline="):
        create_generator("diffusers", path=str(tiny / "t2v"))
    with pytest.raises(DiffusersError, match="no pipeline class 'NoSuchPipeline'"):
        create_generator("diffusers", path=str(tiny / "t2v"), pipeline="NoSuchPipeline").load()
    with pytest.raises(DiffusersError, match="images="):
        create_generator("svd", path=str(tiny / "svd"))
    with pytest.raises(DiffusersError, match="motion adapter folder"):
        create_generator("animatediff", path=str(tiny / "sd"), motion_adapter=str(tmp_path / "nope"))
    with pytest.raises(DiffusersError, match="TextToVideoSDPipeline refused the request"):
        create_generator("zeroscope", path=str(tiny / "t2v"), num_inference_steps=1).generate(
            ["x"], [0], FRAMES, 8.0, 15, SIZE)  # height not divisible by 8
    hub = create_generator("zeroscope", hub_id="cerspense/zeroscope_v2_576w")  # constructing never downloads
    assert hub.describe()["source"] == "hub:cerspense/zeroscope_v2_576w" and hub.describe()["weights_sha256"] == {}
    generic = create_generator("diffusers", path=str(tiny / "t2v"), pipeline="TextToVideoSDPipeline",
                               num_inference_steps=1)
    _check(generic.generate(["x"], [0], FRAMES, 8.0, SIZE, SIZE), ["x"], [0])


def test_generate_cli_with_a_tiny_zeroscope_round_trips_through_the_folder_generator(tiny, tmp_path):
    from lumiere_eval.cli import main

    (tmp_path / "prompts.txt").write_text("a dog\na cat\n")
    out = tmp_path / "out"
    assert main(["generate", "--model", "zeroscope", "--model-arg", f"path={tiny / 't2v'}", "--model-arg",
                 f"num_inference_steps={STEPS}", "--prompts", str(tmp_path / "prompts.txt"), "--seeds", "0-1",
                 "--num-frames", str(FRAMES), "--fps", "8", "--height", str(SIZE), "--width", str(SIZE),
                 "--out", str(out)]) == 0
    folder = create_generator("folder", path=str(out), temporal="first", spatial="none")
    prompts, seeds = ["a dog", "a dog", "a cat", "a cat"], [0, 1, 0, 1]
    videos = folder.generate(prompts, seeds, FRAMES, 8.0, SIZE, SIZE)
    direct = create_generator("zeroscope", path=str(tiny / "t2v"), num_inference_steps=STEPS).generate(
        prompts, seeds, FRAMES, 8.0, SIZE, SIZE)
    # H.264 is lossy on random-weight noise; each file is still nearest to its own direct generation (the tiny
    # text encoder changes the video far less than the seed, so the same seed's other prompt may tie)
    for i, video in enumerate(videos):
        errors = [np.abs(video.frames.astype(float) - d.frames.astype(float)).mean() for d in direct]
        assert errors[i] <= min(errors) + 0.5 and errors[i] < min(errors[j] for j in (i ^ 1,)), errors


def test_dtype_option_reaches_the_weights(tiny):
    gen = create_generator("zeroscope", path=str(tiny / "t2v"), dtype="bfloat16", num_inference_steps=1)
    assert gen.load().unet.dtype == torch.bfloat16 and gen.describe()["dtype"] == "bfloat16"
    _check(gen.generate(["a dog"], [0], FRAMES, 8.0, SIZE, SIZE), ["a dog"], [0])
