"""Lumiere on a diffusers text-to-image U-Net: inflation into a Space-Time U-Net, latent sampling with the
T2I's own scheduler, training of the temporal layers, and the `lumiere-sd` generator (docs/lumiere_sd.md)."""
