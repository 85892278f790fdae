"""A tiny random latent text-to-image model in the Stable Diffusion layout, built from the real diffusers and
transformers classes (no download): for tests, the CPU example and the benchmark.

    folder/unet, vae, text_encoder, tokenizer, scheduler   (each `save_pretrained`, as a diffusers pipeline)

Its weights are random: a model inflated from it learns motion statistics of the training clips only
through the temporal layers; it shows that the machinery runs end to end, not what Stable Diffusion does.
"""
from __future__ import annotations

import os
import string
from pathlib import Path

import torch


def tiny_tokenizer():
    """A CLIP BPE tokenizer over single lower-case letters, digits and punctuation (no merges), 16 tokens."""
    from transformers import CLIPTokenizer

    specials = ["<|startoftext|>", "<|endoftext|>"]
    chars = list(string.ascii_lowercase + string.digits + ".,!?'-")
    vocab = {token: i for i, token in enumerate(specials + chars + [c + "</w>" for c in chars])}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)


def tiny_components(seed: int = 0, prediction_type: str = "epsilon", cross_attention_dim: int = 32) -> dict:
    """{"unet", "vae", "text_encoder", "tokenizer", "scheduler"}: random, seeded, a few hundred kB in all.

    UNet: two levels (32, 64 channels, 8x8 latents), cross-attention at both; VAE: one down-sampling (x2).
    """
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim, attention_head_dim=8, norm_num_groups=8)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32),
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        layers_per_block=1, norm_num_groups=8, sample_size=16)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=cross_attention_dim, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=tokenizer.model_max_length,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                              beta_end=0.012, clip_sample=False, set_alpha_to_one=False,
                              prediction_type=prediction_type)
    return {"unet": unet.eval(), "vae": vae.eval(), "text_encoder": text_encoder.eval(), "tokenizer": tokenizer,
            "scheduler": scheduler}


def save_tiny_base(folder: str | os.PathLike, seed: int = 0, prediction_type: str = "epsilon") -> Path:
    """Write a tiny random base model in the Stable Diffusion folder layout; returns the folder."""
    folder = Path(folder)
    for name, component in tiny_components(seed, prediction_type).items():
        component.save_pretrained(folder / name)
    return folder
