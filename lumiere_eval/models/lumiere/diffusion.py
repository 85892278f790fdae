"""Gaussian diffusion in continuous time: cosine schedule, v- or epsilon-prediction, loss, DDPM and DDIM.

Notation (Kingma et al. / Salimans & Ho): x_t = alpha_t x_0 + sigma_t eps with alpha_t^2 + sigma_t^2 = 1,
t in [0, 1]; v = alpha_t eps - sigma_t x_0. The network is called as `denoise(x_t, t) -> prediction`; the
samplers take one `torch.Generator` per sample, so a sample depends on its own seed only, not on the batch.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from lumiere_eval import LumiereEvalError

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class DiffusionConfigError(LumiereEvalError):
    """An unknown prediction type, sampler or step count."""


class Diffusion:
    """Cosine noise schedule (clipped away from t = 0 and 1) with `prediction` "v" or "eps"."""

    def __init__(self, prediction: str = "v", t_min: float = 1e-4, t_max: float = 0.999, shift: float = 0.008):
        if prediction not in ("v", "eps"):
            raise DiffusionConfigError(f"prediction must be 'v' or 'eps', got {prediction!r}")
        self.prediction, self.t_min, self.t_max, self.shift = prediction, t_min, t_max, shift

    def alpha_sigma(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """alpha_t = cos(pi/2 (t + s) / (1 + s)), sigma_t = sqrt(1 - alpha_t^2), for t clipped to [t_min, t_max]."""
        t = t.clamp(self.t_min, self.t_max).double()
        alpha = torch.cos(0.5 * math.pi * (t + self.shift) / (1 + self.shift))
        alpha = alpha / math.cos(0.5 * math.pi * self.shift / (1 + self.shift))
        alpha = alpha.clamp(0.0, 1.0)
        return alpha.float(), (1 - alpha * alpha).clamp_min(0).sqrt().float()

    @staticmethod
    def _expand(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return v.reshape(-1, *([1] * (like.dim() - 1)))

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = alpha_t x_0 + sigma_t eps."""
        alpha, sigma = (self._expand(a, x0) for a in self.alpha_sigma(t))
        return alpha * x0 + sigma * noise

    def target(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """What the network is trained to predict: v or eps."""
        if self.prediction == "eps":
            return noise
        alpha, sigma = (self._expand(a, x0) for a in self.alpha_sigma(t))
        return alpha * noise - sigma * x0

    def loss(self, denoise: Denoiser, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Mean squared error of the prediction at a uniformly drawn t, noise from `generator`."""
        t = torch.rand(x0.shape[0], generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        prediction = denoise(self.add_noise(x0, t, noise), t)
        return torch.mean((prediction - self.target(x0, t, noise)) ** 2)

    def to_x0_eps(self, x_t: torch.Tensor, t: torch.Tensor, prediction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The (x_0, eps) estimates implied by a prediction; x_0 clipped to [-1, 1], eps made consistent."""
        alpha, sigma = (self._expand(a, x_t) for a in self.alpha_sigma(t))
        if self.prediction == "v":
            x0 = alpha * x_t - sigma * prediction
        else:
            x0 = (x_t - sigma * prediction) / alpha.clamp_min(1e-4)
        x0 = x0.clamp(-1, 1)
        eps = (x_t - alpha * x0) / sigma.clamp_min(1e-4)
        return x0, eps

    def step(self, x_t: torch.Tensor, t: float, s: float, prediction: torch.Tensor, method: str,
             noise: torch.Tensor | None, known: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """One step from time t to s < t. DDIM is deterministic; DDPM samples the posterior q(x_s | x_t, x_0).

        `known` = (values, keep): where keep is 1 the x_0 estimate is replaced by the known values before the
        step (DDIM re-derives eps from it), so the sample ends exactly on them there.
        """
        batch = x_t.shape[0]
        t_vec, s_vec = torch.full((batch,), t), torch.full((batch,), s)
        alpha_t, sigma_t = (self._expand(a, x_t) for a in self.alpha_sigma(t_vec))
        x0, eps = self.to_x0_eps(x_t, t_vec, prediction)
        if known is not None:
            values, keep = known
            x0 = keep * values + (1 - keep) * x0
        if s <= 0:   # the last step returns the clean estimate
            return x0
        alpha_s, sigma_s = (self._expand(a, x_t) for a in self.alpha_sigma(s_vec))
        if method == "ddim":
            if known is not None:
                eps = (x_t - alpha_t * x0) / sigma_t.clamp_min(1e-4)
            return alpha_s * x0 + sigma_s * eps
        alpha_ts = alpha_t / alpha_s
        var_ts = (sigma_t ** 2 - alpha_ts ** 2 * sigma_s ** 2).clamp_min(0)
        mean = alpha_ts * sigma_s ** 2 / sigma_t ** 2 * x_t + alpha_s * var_ts / sigma_t ** 2 * x0
        std = (var_ts * sigma_s ** 2 / sigma_t ** 2).sqrt()
        return mean if noise is None else mean + std * noise

    def sample(self, denoise: Denoiser, shape: Sequence[int], generators: Sequence[torch.Generator],
               steps: int = 20, method: str = "ddim", progress: bool = False, start: torch.Tensor | None = None,
               strength: float = 1.0, known: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Draw one sample of `shape` per generator: x_1 ~ N(0, I), then `steps` steps from t = 1 to t = 0.

        SDEdit: with `start` [b, *shape] (clean videos) and `strength` in (0, 1], sampling begins from `start`
        noised to t = strength and takes `steps` steps from there to 0.
        Known-pixel replacement: with `known` = (values [b, *shape], keep broadcastable to it), see `step`.
        """
        if method not in ("ddim", "ddpm"):
            raise DiffusionConfigError(f"sampler must be 'ddim' or 'ddpm', got {method!r}")
        if steps < 1:
            raise DiffusionConfigError(f"steps must be >= 1, got {steps}")
        if not 0 < strength <= 1:
            raise DiffusionConfigError(f"strength must be in (0, 1], got {strength}")
        x = torch.stack([torch.randn(tuple(shape), generator=g) for g in generators])
        if start is not None:
            if start.shape != x.shape:
                raise DiffusionConfigError(f"start of shape {tuple(start.shape)}, expected {tuple(x.shape)}")
            x = self.add_noise(start, torch.full((x.shape[0],), strength), x)
        if known is not None:
            _check_known(known, x.shape)
        times = torch.linspace(strength, 0.0, steps + 1).tolist()
        pairs = list(zip(times[:-1], times[1:]))
        if progress:
            from tqdm import tqdm
            pairs = tqdm(pairs, desc=f"{method} sampling", unit="step", leave=False)
        for t, s in pairs:
            prediction = denoise(x, torch.full((x.shape[0],), t))
            # DDPM noise comes from each sample's own generator, drawn in the same order whatever the batch
            noise = (torch.stack([torch.randn(tuple(shape), generator=g) for g in generators])
                     if method == "ddpm" and s > 0 else None)
            x = self.step(x, t, s, prediction, method, noise, known)
        return x


def _check_known(known: tuple[torch.Tensor, torch.Tensor], shape: torch.Size) -> None:
    """DiffusionConfigError unless the known values have the samples' shape and the keep mask broadcasts to it."""
    values, keep = known
    try:
        fits = values.shape == shape and torch.broadcast_shapes(keep.shape, shape) == shape
    except RuntimeError:
        fits = False
    if not fits:
        raise DiffusionConfigError(f"known values {tuple(values.shape)} and keep mask {tuple(keep.shape)} do not "
                                   f"fit the samples {tuple(shape)}")


def guided(denoise_cond: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
           tokens: torch.Tensor, null_tokens: torch.Tensor, scale: float) -> Denoiser:
    """Classifier-free guidance: uncond + scale * (cond - uncond), both in one batched call (scale 1 = off)."""
    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if scale == 1.0:
            return denoise_cond(x, t, tokens)
        both = denoise_cond(torch.cat([x, x]), torch.cat([t, t]), torch.cat([tokens, null_tokens]))
        cond, uncond = both.chunk(2)
        return uncond + scale * (cond - uncond)
    return denoise
