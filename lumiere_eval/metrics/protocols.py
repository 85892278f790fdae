"""The protocol registry: named FVD and IS protocols, one place for both `metrics` and `ucf101`.

A protocol fixes everything that changes the number: the extractor and its weights, the clip sampling
(frames, stride, offset), the resize and value range, the covariance convention, the network's numeric
conventions (BatchNorm eps), the sample counts, and for IS the splits and shuffle seed. `FVDProtocol.id` and
`ISProtocol.id` spell all of it out; results and feature-cache keys carry that id. A protocol changed by a
command-line option keeps its base name with `+custom`, and its id shows what changed.

Facts (with their sources): docs/protocols.md, sections FVD, Inception Score and Numeric conventions.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.video import ClipSampling

# The defaults of both `lumiere-eval metrics` and `lumiere-eval ucf101`: one convention, so both print the same
# numbers on the same videos.
# IS: the zero-shot UCF101 text-to-video papers (Make-A-Video, Video LDM, PYoCo, Lumiere) report IS on about
# 10k generated videos with the C3D of TGAN/TGANv2 and cite TGAN's protocol: one split over all samples.
DEFAULT_FVD_PROTOCOL = "fvd2048_16f"
DEFAULT_IS_PROTOCOL = "is10k_tgan_ucf"

# The input conventions of the registered extractors: resize, value range and BatchNorm eps.
EXTRACTOR_CONVENTIONS: dict[str, dict] = {
    "i3d-torchscript": {"preprocessing": "uint8-in_detector-resize224_rescale-pm1", "bn_eps": "torchscript"},
    "i3d-native": {"preprocessing": "tf-fvd-v1_stretch224-tf1bilinear_pm1", "bn_eps": 1e-3},
    "i3d-videogpt": {"preprocessing": "videogpt-v1_short224-centercrop_pm1", "bn_eps": 1e-5},
    "i3d-cdfvd": {"preprocessing": "cdfvd-v1_stretch224-bilinear_pm1", "bn_eps": 1e-5},
    "c3d-ucf101": {"preprocessing": "uint8-in_detector", "bn_eps": None},
    **{f"videomae-v2-g-ssv2{suffix}": {"preprocessing": f"cdfvd-v1_stretch224-bilinear_unit_{dtype}", "bn_eps": None}
       for suffix, dtype in (("", "fp32"), ("-fp16", "fp16"), ("-bf16", "bf16"))},
    **{f"vjepa-h16-ssv2{suffix}": {"preprocessing": f"stretch224-bilinear_unit_imagenet-norm_{dtype}", "bn_eps": None}
       for suffix, dtype in (("", "fp32"), ("-fp16", "fp16"), ("-bf16", "bf16"))},
}


def _conventions(extractor: str) -> dict:
    """Resize/value range and BatchNorm eps of an extractor; unregistered ones record their own (`describe()`)."""
    return EXTRACTOR_CONVENTIONS.get(extractor, {"preprocessing": "extractor-recorded", "bn_eps": "extractor-recorded"})


@dataclass(frozen=True)
class FVDProtocol:
    """How FVD clips are chosen and embedded, and how the covariance is estimated."""

    name: str
    num_samples: int  # clips per side
    real_sampling: ClipSampling
    fake_sampling: ClipSampling
    extractor: str  # extractor registry name
    unbiased_covariance: bool
    source: str

    @property
    def covariance(self) -> str:
        """'unbiased' (1/(N-1)) or 'biased' (1/N)."""
        return "unbiased" if self.unbiased_covariance else "biased"

    @property
    def id(self) -> str:
        """Everything that changes the number, e.g.
        `fvd2048_16f:i3d-torchscript:uint8-in_detector-resize224_rescale-pm1:bn-torchscript:real-random16s1seed0:
        fake-first16s1:cov-biased:n2048`."""
        conv = _conventions(self.extractor)
        return (f"{self.name}:{self.extractor}:{conv['preprocessing']}:bn-{conv['bn_eps']}:real-{self.real_sampling.id}"
                f":fake-{self.fake_sampling.id}:cov-{self.covariance}:n{self.num_samples}")

    def derive(self, **changes) -> FVDProtocol:
        """This protocol with some fields changed (by command-line options): the registered protocol it then
        equals (the 10k-sample UCF101 run is `fvd10k_16f`, not a custom one), else renamed `<name>+custom`."""
        changed = {k: v for k, v in changes.items() if v is not None and getattr(self, k) != v}
        if not changed:
            return self
        derived = dataclasses.replace(self, **changed)
        for registered in FVD_PROTOCOLS.values():
            if dataclasses.replace(registered, name=derived.name, source=derived.source) == derived:
                return registered
        return dataclasses.replace(derived, name=f"{self.name.split('+')[0]}+custom")

    def describe(self) -> dict:
        """JSON-ready fields of the protocol, with its id."""
        return {"id": self.id, "name": self.name, "num_samples": self.num_samples,
                "real_sampling": self.real_sampling.id, "fake_sampling": self.fake_sampling.id,
                "extractor": self.extractor, "covariance": self.covariance, **_conventions(self.extractor),
                "source": self.source}


@dataclass(frozen=True)
class ISProtocol:
    """How the video Inception Score is computed from C3D class probabilities."""

    name: str
    num_samples: int
    splits: int
    shuffle_seed: int | None  # np.random.RandomState(seed).shuffle before splitting, as StyleGAN-V
    sampling: ClipSampling
    frame_size: int | None  # frames resized to a square (bicubic) before the detector, or None
    source: str
    extractor: str = "c3d-ucf101"
    log_eps: float = 0.0  # added inside both logarithms of the KL term (TGAN: 1e-7)

    @property
    def id(self) -> str:
        """Everything that changes the number, e.g. `isv2048_ucf:c3d-ucf101:uint8-in_detector:first16s1:n2048:
        splits10:shuffle42`."""
        conv = _conventions(self.extractor)
        resize = f"bicubic{self.frame_size}" if self.frame_size else "noresize"
        return (f"{self.name}:{self.extractor}:{conv['preprocessing']}:{resize}:{self.sampling.id}:n{self.num_samples}"
                f":splits{self.splits}:shuffle{self.shuffle_seed}" + (f":logeps{self.log_eps:g}" if self.log_eps else ""))

    def derive(self, **changes) -> ISProtocol:
        """This protocol with some fields changed; renamed `<name>+custom` if any differ."""
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changed:
            return self
        base = self.name.split("+")[0]
        return dataclasses.replace(self, name=f"{base}+custom", **changed)

    def describe(self) -> dict:
        """JSON-ready fields of the protocol, with its id."""
        return {"id": self.id, "name": self.name, "num_samples": self.num_samples, "splits": self.splits,
                "shuffle_seed": self.shuffle_seed, "log_eps": self.log_eps, "sampling": self.sampling.id,
                "frame_size": self.frame_size,
                "extractor": self.extractor, "source": self.source}


FVD_PROTOCOLS: dict[str, FVDProtocol] = {p.name: p for p in (
    FVDProtocol("fvd2048_16f", 2048, ClipSampling("random", 16), ClipSampling("first", 16), "i3d-torchscript",
                False, "StyleGAN-V: real = 16 consecutive frames at a random offset, fake = first 16, biased cov"),
    FVDProtocol("fvd10k_16f", 10000, ClipSampling("random", 16), ClipSampling("first", 16), "i3d-torchscript",
                False, "the zero-shot UCF101 protocol (Make-A-Video, Video LDM, Lumiere Table 1): about 10,000 "
                       "generated videos against 10,000 training clips; clips, I3D and covariance as fvd2048_16f"),
    FVDProtocol("fvd2048_128f", 2048, ClipSampling("random", 128), ClipSampling("first", 128), "i3d-torchscript",
                False, "StyleGAN-V: as fvd2048_16f with 128 frames"),
    FVDProtocol("fvd2048_16f_videogpt", 2048, ClipSampling("random", 16), ClipSampling("first", 16), "i3d-videogpt",
                True, "VideoGPT videogpt/fvd/fvd.py: i3d_pretrained_400.pt with BatchNorm eps 1e-5 (its "
                      "pytorch_i3d.py), shorter side to 224 + centre crop, [-1, 1], unbiased cov"),
    FVDProtocol("fvd2048_16f_tats", 2048, ClipSampling("random", 16), ClipSampling("first", 16), "i3d-cdfvd",
                True, "TATS tats/fvd/fvd.py: i3d_pretrained_400.pt with BatchNorm eps 1e-5, every frame stretched "
                      "to 224x224 (bilinear, align_corners=False, no crop; cd-fvd copied this preprocessing), "
                      "[-1, 1], unbiased cov"),
    FVDProtocol("fvd2048_16f_cdfvd", 2048, ClipSampling("random", 16), ClipSampling("first", 16), "i3d-cdfvd",
                False, "cd-fvd 0.1.1 cdfvd('i3d'): i3d_pretrained_400.pt with BatchNorm eps 1e-5, every frame "
                       "stretched to 224x224 (bilinear, align_corners=False, no crop), [-1, 1], float64 biased "
                       "cov; clips as StyleGAN-V's fvd2048_16f (cd-fvd's compute_fvd takes the clips it is given)"),
    FVDProtocol("fvd2048_16f_tf", 2048, ClipSampling("random", 16), ClipSampling("first", 16), "i3d-native",
                True, "google-research frechet_video_distance conventions on i3d_pretrained_400.pt: TF1 bilinear "
                      "stretch to 224x224, [-1, 1], BatchNorm eps 1e-3, unbiased cov (TF-GAN)"),
    *(FVDProtocol(f"cdfvd2048_16f{suffix}", 2048, ClipSampling("random", 16), ClipSampling("first", 16),
                  f"videomae-v2-g-ssv2{suffix.replace('_', '-')}", False,
                  f"cd-FVD (Ge et al. CVPR 2024; cd-fvd 0.1.1 cdfvd('videomae'{half})): VideoMAE-v2 ViT-g/14 SSv2 "
                  "fc_norm features (1408-d), frames stretched to 224x224 (bilinear, align_corners=False) in "
                  f"[0, 1], network in {dtype}, float64 biased cov; clips as fvd2048_16f")
      for suffix, dtype, half in (("", "float32", ""), ("_fp16", "float16", ", half_precision=True"),
                                  ("_bf16", "bfloat16", "; bfloat16 is ours"))),
)}

IS_PROTOCOLS: dict[str, ISProtocol] = {p.name: p for p in (
    ISProtocol("isv2048_ucf", 2048, 10, 42, ClipSampling("first", 16), None,
               "StyleGAN-V video_inception_score.py: first 16 frames, RandomState(42) shuffle, 10 splits"),
    ISProtocol("is10k_10splits_ucf", 10000, 10, 42, ClipSampling("first", 16), None,
               "10 splits of 1,000 over 10k samples after a RandomState(42) shuffle (the ucf101 runner's former "
               "unnamed convention; matches no published reference, kept to compare with older results); "
               "equals isv2048_ucf below 2,048 samples"),
    ISProtocol("is10k_tgan_ucf", 10000, 1, None, ClipSampling("first", 16), 128,
               "TGAN calc_inception.py (the zero-shot UCF101 default): all ~10k videos in one split, 1e-7 inside "
               "both logs, frames resized to 128x128 (cubic); the crop to 112 and mean subtraction are left to "
               "the C3D TorchScript (NOT CONFIRMED that it does exactly TGAN's)", log_eps=1e-7),
)}


@dataclass(frozen=True)
class JEDiProtocol:
    """How JEDi clips are chosen and embedded (V-JEPA + the SSv2 probe's pooler), and the kernel MMD taken:
    100 x biased MMD^2, polynomial kernel degree 2, gamma 1/dim, coef0 0 (videojedi's JEDiMetric)."""

    name: str
    num_samples: int  # clips per side
    real_sampling: ClipSampling
    fake_sampling: ClipSampling
    extractor: str
    source: str

    @property
    def id(self) -> str:
        """Everything that changes the number, e.g. `jedi5000_16f:vjepa-h16-ssv2:stretch224-bilinear_unit_
        imagenet-norm_fp32:real-random16s1seed0:fake-first16s1:mmd2-poly2-gamma1/d-coef0-biased-x100:n5000`."""
        return (f"{self.name}:{self.extractor}:{_conventions(self.extractor)['preprocessing']}:"
                f"real-{self.real_sampling.id}:fake-{self.fake_sampling.id}:mmd2-poly2-gamma1/d-coef0-biased-x100:"
                f"n{self.num_samples}")

    def describe(self) -> dict:
        """JSON-ready fields of the protocol, with its id."""
        return {"id": self.id, "name": self.name, "num_samples": self.num_samples,
                "real_sampling": self.real_sampling.id, "fake_sampling": self.fake_sampling.id,
                "extractor": self.extractor, **_conventions(self.extractor), "source": self.source}


JEDI_PROTOCOLS: dict[str, JEDiProtocol] = {p.name: p for p in (
    JEDiProtocol(f"jedi5000_16f{suffix}", 5000, ClipSampling("random", 16), ClipSampling("first", 16),
                 f"vjepa-h16-ssv2{suffix.replace('_', '-')}",
                 "JEDi (Luo et al. ICLR 2025; videojedi 1.1.0): V-JEPA ViT-H/16 tokens pooled by the SSv2 probe's "
                 "attentive pooler (1280-d), frames in [0, 1] with ImageNet mean/std; 5000 samples per side as "
                 "videojedi's load_features default. Ours, not videojedi's (which leaves both to the data loader): "
                 f"16 frames (V-JEPA's clip length) as fvd2048_16f, stretched to 224x224 bilinear; network in {dtype}")
    for suffix, dtype in (("", "float32"), ("_fp16", "float16"), ("_bf16", "bfloat16"))
)}


def _lookup(table: dict, kind: str, name: str):
    try:
        return table[name]
    except KeyError:
        raise LumiereEvalError(f"unknown {kind} protocol {name!r}; known: {', '.join(table)}") from None


def get_jedi_protocol(name: str) -> JEDiProtocol:
    """The JEDi protocol called `name`."""
    return _lookup(JEDI_PROTOCOLS, "JEDi", name)


def get_fvd_protocol(name: str) -> FVDProtocol:
    """The FVD protocol called `name`."""
    return _lookup(FVD_PROTOCOLS, "FVD", name)


def get_is_protocol(name: str) -> ISProtocol:
    """The IS protocol called `name`."""
    return _lookup(IS_PROTOCOLS, "IS", name)


def protocol_inception_score(protocol: ISProtocol, probs: np.ndarray) -> tuple[float, float]:
    """Mean and std of the IS over the protocol's splits of its first `num_samples` rows (StyleGAN-V's shuffle:
    RandomState(seed))."""
    from lumiere_eval.metrics import inception_score

    probs = np.asarray(probs, dtype=np.float64)[:protocol.num_samples]
    return inception_score(probs, splits=min(protocol.splits, len(probs)), shuffle_seed=protocol.shuffle_seed,
                           log_eps=protocol.log_eps)
