"""Feature extractors (I3D, C3D, CLIP, InceptionV3, in-domain ones) and the registry of their weights.

Registries are lazy ("module:Class" strings), so importing this package loads no network.
"""
from __future__ import annotations

import importlib
import os

from lumiere_eval import LumiereEvalError

# The reference extractors: name -> "module:Class".
EXTRACTORS: dict[str, str] = {
    "i3d-torchscript": "lumiere_eval.extractors.torchscript:I3DTorchScriptExtractor",
    "i3d-native": "lumiere_eval.extractors.i3d:NativeI3DExtractor",
    "i3d-videogpt": "lumiere_eval.extractors.i3d:VideoGPTI3DExtractor",
    "i3d-cdfvd": "lumiere_eval.extractors.i3d:CdFvdI3DExtractor",
    "c3d-ucf101": "lumiere_eval.extractors.torchscript:C3DTorchScriptExtractor",
    "clip": "lumiere_eval.extractors.clipsim:ClipExtractor",
    "inception-fid": "lumiere_eval.extractors.inception:InceptionFrameExtractor",
    "videomae-v2-g-ssv2": "lumiere_eval.extractors.videomae:VideoMAEv2Extractor",
    "videomae-v2-g-ssv2-fp16": "lumiere_eval.extractors.videomae:VideoMAEv2FP16Extractor",
    "videomae-v2-g-ssv2-bf16": "lumiere_eval.extractors.videomae:VideoMAEv2BF16Extractor",
    "vjepa-h16-ssv2": "lumiere_eval.extractors.vjepa:VJEPAExtractor",
    "vjepa-h16-ssv2-fp16": "lumiere_eval.extractors.vjepa:VJEPAFP16Extractor",
    "vjepa-h16-ssv2-bf16": "lumiere_eval.extractors.vjepa:VJEPABF16Extractor",
}

# In-domain extractors (trained on the evaluation domain): name -> "module:Class". Add one line per extractor.
IN_DOMAIN_EXTRACTORS: dict[str, str] = {
    "synthetic-i3d": "lumiere_eval.extractors.in_domain.extractors:SyntheticI3DExtractor",
    "synthetic-c3d": "lumiere_eval.extractors.in_domain.extractors:SyntheticC3DExtractor",
    "synthetic-clip": "lumiere_eval.extractors.in_domain.extractors:SyntheticClipExtractor",
}


class UnknownExtractorError(LumiereEvalError):
    """An extractor name that is in neither registry."""


def extractor_class(name: str) -> type:
    """Import and return the extractor class registered as `name`."""
    target = EXTRACTORS.get(name) or IN_DOMAIN_EXTRACTORS.get(name)
    if target is None:
        known = ", ".join([*EXTRACTORS, *IN_DOMAIN_EXTRACTORS])
        raise UnknownExtractorError(f"unknown extractor {name!r}; known: {known}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def create_extractor(name: str, weights_path: str | os.PathLike | None = None, fetch_missing: bool = True,
                     timeout: float = 10.0, **options):
    """Build extractor `name` on its registered weights (or the local file `weights_path`).

    A class's `companion_weights` ({option: weights name}, e.g. V-JEPA's probe) are resolved the same way, from
    the local file passed as that option or from the registry.
    """
    from lumiere_eval.extractors.weight_files import ResolvedWeights
    from lumiere_eval.extractors.weights import resolve

    cls = extractor_class(name)
    for option, weights_name in getattr(cls, "companion_weights", {}).items():
        if not isinstance(options.get(option), ResolvedWeights):
            options[option] = resolve(weights_name, options.get(option), fetch_missing=fetch_missing, timeout=timeout)
    return cls(resolve(cls.weights_name, weights_path, fetch_missing=fetch_missing, timeout=timeout), **options)
