"""A deterministic generator for tests and dry runs: a coloured square drifting over a noise background.

Its colour and direction come from the prompt, its noise and start position from the seed, so two prompts
give different distributions and a (prompt, seed) pair always gives the same video.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from lumiere_eval.models.base import GeneratedVideo, VideoGenerator


class DummyGenerator(VideoGenerator):
    """Moving-square videos; `noise` is the background noise amplitude (0..255), `fail_on` a prompt that raises."""

    name = "dummy"

    def __init__(self, noise: float = 20.0, fail_on: str | None = None):
        self.noise = float(noise)
        self.fail_on = fail_on

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float,
                 height: int, width: int) -> list[GeneratedVideo]:
        """One video per (prompt, seed); each depends on its own pair only."""
        return [self._one(p, s, num_frames, fps, height, width) for p, s in zip(prompts, seeds, strict=True)]

    def _one(self, prompt: str, seed: int, t: int, fps: float, h: int, w: int) -> GeneratedVideo:
        if self.fail_on is not None and prompt == self.fail_on:
            raise RuntimeError(f"dummy generator asked to fail on {prompt!r}")
        digest = hashlib.sha256(prompt.encode()).digest()
        colour = np.frombuffer(digest[:3], dtype=np.uint8).astype(np.float32)
        angle = digest[3] / 255.0 * 2 * np.pi
        rng = np.random.default_rng(seed)
        frames = rng.normal(96.0, self.noise, size=(t, h, w, 3)).astype(np.float32)
        side = max(2, min(h, w) // 4)
        y0, x0 = rng.uniform(0, h - side), rng.uniform(0, w - side)
        speed = max(h, w) / max(t, 1) / 2
        for i in range(t):
            y = int(round(y0 + np.sin(angle) * speed * i)) % max(1, h - side)
            x = int(round(x0 + np.cos(angle) * speed * i)) % max(1, w - side)
            frames[i, y:y + side, x:x + side] = colour
        frames = np.clip(frames, 0, 255).astype(np.uint8)
        return GeneratedVideo(frames=frames, fps=fps, meta={"prompt": prompt, "seed": int(seed)})

    def describe(self) -> dict:
        """Name and options."""
        return {"name": self.name, "noise": self.noise}
