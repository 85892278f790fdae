"""The generator interface every model goes through, and the lazy registry of generators by name.

A generator turns (prompt, seed) pairs into uint8 videos. A video must depend only on its prompt, seed and
the generator's options, never on the batch it was generated in or the number of processes: paired human
studies and distributed runs rely on it.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from lumiere_eval import LumiereEvalError


class UnknownModelError(LumiereEvalError):
    """An unknown generator name, or an option the generator does not take."""


@dataclass
class GeneratedVideo:
    """One generated video: frames `uint8 [T, H, W, 3]` RGB, its frame rate, and free-form metadata."""

    frames: np.ndarray
    fps: float
    meta: dict[str, Any] = field(default_factory=dict)


class VideoGenerator(ABC):
    """Base class: subclasses take their options as keyword arguments of `__init__` and implement `generate`."""

    name: str = "generator"

    @abstractmethod
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float,
                 height: int, width: int) -> list[GeneratedVideo]:
        """Generate one video per (prompt, seed) pair, each `num_frames` x `height` x `width`, at `fps`."""

    def describe(self) -> dict[str, Any]:
        """What identifies this generator's outputs (name, options, weight checksums), recorded with results."""
        return {"name": self.name}


class BatchedGenerator(VideoGenerator):
    """A generator that checks the request, then runs `_batch` on consecutive slices of `options["batch_size"]`
    (bad requests raise `option_error`)."""

    option_error: type[LumiereEvalError] = LumiereEvalError
    options: dict[str, Any]

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], num_frames: int, fps: float,
                 height: int, width: int) -> list[GeneratedVideo]:
        """One video per (prompt, seed): `num_frames` x `height` x `width` uint8 RGB."""
        if len(prompts) != len(seeds):
            raise self.option_error(f"{len(prompts)} prompts but {len(seeds)} seeds")
        if num_frames < 1 or height < 1 or width < 1:
            raise self.option_error(f"bad video size {num_frames}x{height}x{width}")
        out: list[GeneratedVideo] = []
        size = self.options["batch_size"]
        for start in range(0, len(prompts), size):
            out += self._batch(list(prompts[start:start + size]), list(seeds[start:start + size]), num_frames,
                               fps, height, width)
        return out

    @abstractmethod
    def _batch(self, prompts: list[str], seeds: list[int], num_frames: int, fps: float, height: int,
               width: int) -> list[GeneratedVideo]:
        """The videos of one slice of prompts and seeds."""


# name -> "module:Class". Modules are imported only when their generator is asked for.
REGISTRY: dict[str, str] = {
    "dummy": "lumiere_eval.models.dummy:DummyGenerator",
    "lumiere": "lumiere_eval.models.lumiere.generators:LumiereGenerator",
    "per-frame-t2i": "lumiere_eval.models.lumiere.generators:PerFrameT2IGenerator",
    "keyframe-cascade": "lumiere_eval.models.lumiere.generators:KeyframeCascadeGenerator",
    "lumiere-sd": "lumiere_eval.models.lumiere_sd.generator:LumiereSDGenerator",
    "folder": "lumiere_eval.models.folder:FolderGenerator",
    "diffusers": "lumiere_eval.models.diffusers_adapter:DiffusersGenerator",
    "zeroscope": "lumiere_eval.models.diffusers_adapter:TextToVideoSDGenerator",
    "modelscope": "lumiere_eval.models.diffusers_adapter:TextToVideoSDGenerator",
    "animatediff": "lumiere_eval.models.diffusers_adapter:AnimateDiffGenerator",
    "cogvideox": "lumiere_eval.models.diffusers_adapter:CogVideoXGenerator",
    "svd": "lumiere_eval.models.diffusers_adapter:StableVideoDiffusionGenerator",
}


def register(name: str, target: str) -> None:
    """Register a generator class under `name` as "module:Class" (for plug-ins and tests)."""
    REGISTRY[name] = target


def generator_class(name: str) -> type[VideoGenerator]:
    """The class registered under `name`; an unknown name gets an error with the closest known names."""
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, REGISTRY, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}.{hint} Known models: {', '.join(sorted(REGISTRY))}.")
    module_name, class_name = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_generator(name: str, **options: Any) -> VideoGenerator:
    """Build the generator `name` with `options`; an option it does not take is named in the error."""
    cls = generator_class(name)
    allowed: list[str] = []
    for klass in cls.__mro__:   # a subclass passing **options on to its parent takes the parent's options too
        params = inspect.signature(klass.__init__).parameters
        allowed += [p for p in params if p != "self" and params[p].kind not in (inspect.Parameter.VAR_KEYWORD,
                                                                                inspect.Parameter.VAR_POSITIONAL)]
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        if not takes_any or klass.__init__ is object.__init__:
            break
    allowed = list(dict.fromkeys(allowed))
    unknown = [k for k in options if k not in allowed]
    if unknown and not takes_any:
        raise UnknownModelError(f"model {name!r} does not take option(s) {', '.join(unknown)}; "
                                f"it takes: {', '.join(allowed) or 'no options'}.")
    return cls(**options)


def parse_model_args(pairs: Sequence[str]) -> dict[str, Any]:
    """Parse `k=v` strings from the command line; values become int, float, bool or None where they read so."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UnknownModelError(f"--model-arg {pair!r} is not of the form key=value.")
        options[key.strip()] = _parse_value(raw.strip())
    return options


def _parse_value(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw
