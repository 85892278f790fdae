"""A reference Lumiere at toy scale: a pixel-space text-to-image U-Net inflated into a Space-Time U-Net.

Parts, one file each: `text` (tokenizer + small text encoder), `unet` (the T2I U-Net as a list of blocks),
`stunet` (inflation with temporal blocks), `diffusion` (noise schedule, loss, DDPM/DDIM, guidance),
`multidiffusion` (overlapping temporal windows for the SSR stage), `checkpoint` (config json + weights),
`frames` (tensor <-> uint8 frames, the SSR resize), `generators` (the registry adapters). Training lives in
`lumiere_eval.training` (`lumiere_stages`, `lumiere_recipe`), so loading a generator never imports it.
"""
