"""The weight files the harness knows: where they come from, how to check them, where they are cached.

Cache folder: `$LUMIERE_EVAL_HOME/weights` (default `~/.cache/lumiere-eval/weights`), never inside the
installed package. A SHA-256 is listed only where a public source states it (cited beside it); other files
get a format check instead (TorchScript archive, or a state dict with the exact expected keys and shapes).
Any local file may be used in place of a registered one; if its checksum is not the published one, or no
checksum is published, the result is marked as computed with unverified weights.
"""
from __future__ import annotations

import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lumiere_eval.extractors.download import DownloadError, download, sha256_file
from lumiere_eval.extractors.in_domain import shipped
from lumiere_eval.extractors.weight_files import ResolvedWeights, WeightsError
from lumiere_eval.files import lumiere_home

__all__ = ["ResolvedWeights", "UnverifiedWeightsWarning", "WEIGHTS", "WeightSpec", "WeightsError", "cache_dir",
           "cached_path", "check_format", "fetch", "get_spec", "missing_message", "resolve", "verify"]


class UnverifiedWeightsWarning(UserWarning):
    """Weights whose checksum could not be matched against a published one."""


@dataclass(frozen=True)
class WeightSpec:
    """One registered weight file."""

    name: str
    filename: str
    urls: tuple[str, ...]
    sha256: str | None  # only when a public source states it
    checksum_source: str  # where the SHA-256 comes from, or why there is none
    # "torchscript" | "i3d_state_dict" | "clip" | "state_dict" | "videomae_v2" | "vjepa_encoder" | "vjepa_probe"
    # | "dino_vitb16" | "aesthetic_head" | "viclip"
    file_format: str
    flag: str  # the `lumiere-eval metrics` option that takes a local copy
    licence: str
    description: str
    size: str = ""  # the file's size where known (a published byte count, else an estimate saying so)
    archive_member: str | None = None  # the URLs serve a zip holding the file at this member path


WEIGHTS: dict[str, WeightSpec] = {spec.name: spec for spec in (
    WeightSpec(
        name="i3d_torchscript", filename="i3d_torchscript.pt",
        urls=("https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1",),
        sha256=None,
        checksum_source="no published checksum found (universome/stylegan-v src/metrics/frechet_video_distance.py "
                        "gives only the URL); checked as a TorchScript archive",
        file_format="torchscript", flag="--i3d",
        licence="TorchScript port by the StyleGAN-V authors of DeepMind's Kinetics-400 I3D (kinetics-i3d, "
                "Apache-2.0); check the StyleGAN-V repository's terms before redistributing",
        description="I3D Kinetics-400, StyleGAN-V TorchScript (FVD: fvd2048_16f, ...)"),
    WeightSpec(
        name="i3d_pretrained_400", filename="i3d_pretrained_400.pt",
        # songweige/TATS tats/fvd/i3d_pretrained_400.pt (the URL songweige/content-debiased-fvd
        # cdfvd/third_party/i3d/utils.py downloads); wilson1yan/VideoGPT videogpt/download.py: _I3D_PRETRAINED_ID
        # (a Google Drive file id, fetched there with gdown; Drive may answer with a confirmation page instead).
        urls=("https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt",
              "https://drive.google.com/uc?export=download&id=1mQK8KD8G6UWRa5t87SRMm5PVXtlpneJT"),
        sha256=None,
        checksum_source="no published checksum found (VideoGPT/TATS give only a Google Drive id); checked as "
                        "a state dict with the 344 keys and shapes of piergiaj/pytorch-i3d InceptionI3d (or the 287 "
                        "without num_batches_tracked that the conversion scripts save)",
        file_format="i3d_state_dict", flag="--i3d",
        licence="piergiaj/pytorch-i3d conversion of DeepMind's Kinetics-400 I3D (Apache-2.0)",
        description="I3D Kinetics-400 state dict, VideoGPT/TATS layout (native backend)"),
    WeightSpec(
        name="c3d_ucf101", filename="c3d_ucf101.pt",
        urls=("https://www.dropbox.com/s/jxpu7avzdc9n97q/c3d_ucf101.pt?dl=1",),
        sha256=None,
        checksum_source="no published checksum found (StyleGAN-V video_inception_score.py gives only the URL); "
                        "checked as a TorchScript archive",
        file_format="torchscript", flag="--c3d",
        licence="TorchScript port by the StyleGAN-V authors of the TGANv2 (pfnet-research/tgan2) chainer C3D "
                "fine-tuned on UCF101; check the upstream terms before redistributing",
        description="C3D fine-tuned on UCF101 split 1, StyleGAN-V TorchScript (Inception Score)"),
    WeightSpec(
        name="clip_vit_b32", filename="ViT-B-32.pt",
        urls=("https://openaipublic.azureedge.net/clip/models/"
              "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",),
        # The SHA-256 is the URL's path component; clip-anytorch's clip/clip.py `_download` checks it the same way.
        sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        checksum_source="URL path, as checked by openai/CLIP and clip-anytorch clip/clip.py _download",
        file_format="clip", flag="--clip",
        licence="OpenAI CLIP weights, MIT licence (openai/CLIP)",
        description="CLIP ViT-B/32 (CLIPSIM)"),
    WeightSpec(
        name="pt_inception", filename="pt_inception-2015-12-05-6726825d.pth",
        urls=("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
              "pt_inception-2015-12-05-6726825d.pth",),
        # snap-research/discoscene models/inception_model.py, _MODEL_URL_SHA256['tf_inception_v3'] (genforce code
        # base) lists this SHA-256 for this URL; its first 8 digits are the file name's torch.hub hash prefix.
        sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
        checksum_source="snap-research/discoscene models/inception_model.py (_MODEL_URL_SHA256)",
        file_format="state_dict", flag="--inception",
        licence="pytorch-fid port of TF inception-2015-12-05 (pytorch-fid: Apache-2.0)",
        description="InceptionV3 of pytorch-fid / TF FID (per-frame FID)"),
    WeightSpec(
        name="videomae_v2_g_ssv2", filename="vit_g_hybrid_pt_1200e_ssv2_ft.pth",
        # the URL cd-fvd 0.1.1 cdfvd/third_party/VideoMAEv2/utils.py (load_videomae_model) downloads
        urls=("https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/videomaev2/"
              "vit_g_hybrid_pt_1200e_ssv2_ft.pth",),
        sha256=None,
        checksum_source="no published checksum found (cd-fvd gives only the URL; OpenGVLab/VideoMAEv2 "
                        "docs/MODEL_ZOO.md puts the link behind a request form); checked as a state dict with the "
                        "526 keys and shapes of VideoMAE-v2 ViT-g/14 (174 SSv2 classes)",
        file_format="videomae_v2", flag="--videomae",
        licence="VideoMAE-v2 (OpenGVLab, code MIT); the weights are given out through a request form: check "
                "its terms before redistributing",
        description="VideoMAE-v2 ViT-g/14 fine-tuned on SSv2 (cd-FVD features, 1408-d)"),
    WeightSpec(
        name="vjepa_vith16", filename="vith16.pth.tar",
        # facebookresearch/jepa README.md (pretrained models) and videojedi 1.1.0 V_JEPA.py download_vjepa
        urls=("https://dl.fbaipublicfiles.com/jepa/vith16/vith16.pth.tar",),
        sha256=None,
        checksum_source="no published checksum found (facebookresearch/jepa README and videojedi give only the "
                        "URL); checked as a checkpoint whose target_encoder has the 389 keys and shapes of "
                        "V-JEPA ViT-H/16",
        file_format="vjepa_encoder", flag="--vjepa",
        licence="V-JEPA (facebookresearch/jepa), CC BY-NC 4.0: non-commercial use only",
        description="V-JEPA ViT-H/16 encoder (JEDi features, with the SSv2 probe's pooler)"),
    WeightSpec(
        name="vjepa_vith16_ssv2_probe", filename="vith16-ssv2-probe.pth.tar",
        # facebookresearch/jepa README.md (SSv2 attentive probes) and videojedi 1.1.0 V_JEPA.py download_vjepa
        urls=("https://dl.fbaipublicfiles.com/jepa/vith16/ssv2-probe.pth.tar",),
        sha256=None,
        checksum_source="no published checksum found (facebookresearch/jepa README and videojedi give only the "
                        "URL); checked as a checkpoint whose classifier has the 17 keys and shapes of the "
                        "ViT-H/16 SSv2 attentive probe",
        file_format="vjepa_probe", flag="--vjepa-probe",
        licence="V-JEPA (facebookresearch/jepa), CC BY-NC 4.0: non-commercial use only",
        description="V-JEPA ViT-H/16 SSv2 attentive probe (its pooler makes the JEDi features)"),
    # VBench's networks (vbench 0.1.5 vbench/utils.py init_submodules gives each URL)
    WeightSpec(
        name="dino_vitb16", filename="dino_vitbase16_pretrain.pth",
        # facebookresearch/dino hubconf.py dino_vitb16 (what VBench's torch.hub.load builds) and VBench's local mode
        urls=("https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",),
        sha256=None,
        checksum_source="no published checksum found (facebookresearch/dino and vbench give only the URL); checked "
                        "as a state dict with the 150 keys and shapes of DINO ViT-B/16",
        file_format="dino_vitb16", flag="--dino",
        licence="DINO (facebookresearch/dino), Apache-2.0",
        description="DINO ViT-B/16 (VBench subject consistency)",
        size="about 343 MB (estimate: 85.8M float32 parameters; no published byte count)"),
    WeightSpec(
        name="clip_vit_l14", filename="ViT-L-14.pt",
        urls=("https://openaipublic.azureedge.net/clip/models/"
              "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",),
        sha256="b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
        checksum_source="URL path, as checked by openai/CLIP and clip-anytorch clip/clip.py _download",
        file_format="clip", flag="--clip-l14",
        licence="OpenAI CLIP weights, MIT licence (openai/CLIP)",
        description="CLIP ViT-L/14 (VBench aesthetic quality, under the LAION predictor)",
        size="about 0.9 GB (estimate: 428M parameters stored as float16; no published byte count)"),
    WeightSpec(
        name="laion_aesthetic_l14", filename="sa_0_4_vit_l_14_linear.pth",
        # vbench 0.1.5 vbench/aesthetic_quality.py get_aesthetic_model (LAION-AI/aesthetic-predictor)
        urls=("https://github.com/LAION-AI/aesthetic-predictor/blob/main/sa_0_4_vit_l_14_linear.pth?raw=true",),
        sha256=None,
        checksum_source="no published checksum found (LAION-AI/aesthetic-predictor and vbench give only the URL); "
                        "checked as the state dict of nn.Linear(768, 1) (keys weight [1, 768], bias [1])",
        file_format="aesthetic_head", flag="--aesthetic",
        licence="LAION-AI/aesthetic-predictor, MIT licence",
        description="LAION aesthetic predictor, linear head on CLIP ViT-L/14 (VBench aesthetic quality)",
        size="about 4 KB (769 float32 parameters)"),
    WeightSpec(
        name="musiq_spaq", filename="musiq_spaq_ckpt-358bb6af.pth",
        # vbench 0.1.5 vbench/utils.py init_submodules('imaging_quality') (pyiqa's release of MUSIQ on SPAQ)
        urls=("https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_spaq_ckpt-358bb6af.pth",),
        sha256=None,
        checksum_source="no full checksum published; the file name carries the torch.hub convention's first 8 hex "
                        "digits of its SHA-256 (358bb6af), checked by `check_format`",
        file_format="musiq", flag="--musiq",
        licence="pyiqa (chaofengc/IQA-PyTorch) release of MUSIQ trained on SPAQ; check pyiqa's licence terms "
                "before redistributing",
        description="MUSIQ trained on SPAQ, pyiqa layout (VBench imaging quality)",
        size="about 110 MB (estimate: 27M float32 parameters; no published byte count)"),
    WeightSpec(
        name="raft_things", filename="raft-things.pth",
        # vbench 0.1.5 vbench/utils.py init_submodules('dynamic_degree'): princeton-vl/RAFT's models.zip
        # (download_models.sh of princeton-vl/RAFT fetches the same archive)
        urls=("https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip",),
        sha256=None,
        checksum_source="no published checksum found (princeton-vl/RAFT and vbench give only the archive's URL); "
                        "checked as a RAFT-large state dict loading strictly into torchvision's raft_large",
        file_format="raft_large", flag="--raft",
        licence="princeton-vl/RAFT, BSD-3-Clause",
        description="RAFT-large trained on FlyingChairs + FlyingThings (VBench dynamic degree)",
        size="about 21 MB (estimate: 5.3M float32 parameters; no published byte count)",
        archive_member="models/raft-things.pth"),
    WeightSpec(
        name="amt_s", filename="amt-s.pth",
        # vbench 0.1.5 vbench/utils.py init_submodules('motion_smoothness'); MCG-NKU/AMT README.md (Pretrained Models)
        urls=("https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth",),
        sha256=None,
        checksum_source="no published checksum found (MCG-NKU/AMT and vbench give only the URL); checked as an "
                        "AMT checkpoint whose 'state_dict' has the 213 keys and shapes of AMT-S",
        file_format="amt_s", flag="--amt",
        licence="MCG-NKU/AMT, CC BY-NC 4.0 (its README): non-commercial use only",
        description="AMT-S frame interpolation trained on Vimeo90K (VBench motion smoothness)",
        size="about 12 MB (estimate: 2,990,543 float32 parameters; no published byte count)"),
    WeightSpec(
        name="viclip_internvid_10m_flt", filename="ViClip-InternVid-10M-FLT.pth",
        # vbench 0.1.5 vbench/utils.py init_submodules('overall_consistency' / 'temporal_style')
        urls=("https://huggingface.co/OpenGVLab/VBench_Used_Models/resolve/main/ViClip-InternVid-10M-FLT.pth",),
        sha256=None,
        checksum_source="no published checksum found (vbench and OpenGVLab/InternVideo give only the URL); "
                        "checked as a ViCLIP state dict (its 'model' entry: every key and shape of the ViCLIP its "
                        "shapes describe, ViT-L/14 for this file)",
        file_format="viclip", flag="--viclip",
        licence="OpenGVLab InternVid ViCLIP (InternVideo repository, Apache-2.0 code; check the model's terms "
                "before redistributing)",
        description="ViCLIP ViT-L/14 trained on InternVid-10M-FLT (VBench overall consistency, temporal style)",
        size="about 1.7 GB in float32 (estimate: 428M parameters; no published byte count)"),
)}


def cache_dir() -> Path:
    """Folder holding downloaded weights: `$LUMIERE_EVAL_HOME/weights`, default ~/.cache/lumiere-eval/weights."""
    return lumiere_home() / "weights"


def get_spec(name: str) -> WeightSpec:
    """The registered weight file called `name`."""
    try:
        return WEIGHTS[name]
    except KeyError:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(WEIGHTS)}") from None


def cached_path(name: str) -> Path:
    """Where the registered weights `name` live in the cache (whether or not they are there yet)."""
    return cache_dir() / get_spec(name).filename


def check_format(spec: WeightSpec, path: Path) -> None:
    """Raise WeightsError if `path` is not a file of the kind `spec` describes."""
    if not path.is_file():
        raise WeightsError(f"{path}: weight file does not exist")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: weight file is empty")
    if spec.file_format == "torchscript":
        if not zipfile.is_zipfile(path) or not any("/code/" in n for n in zipfile.ZipFile(path).namelist()):
            raise WeightsError(f"{path}: not a TorchScript archive (expected for {spec.name})")
    elif spec.file_format == "i3d_state_dict":
        from lumiere_eval.extractors.i3d import check_i3d_state_dict
        from lumiere_eval.extractors.weight_files import load_state_dict

        check_i3d_state_dict(load_state_dict(path), str(path))
    elif spec.file_format == "videomae_v2":
        from lumiere_eval.extractors.videomae import check_videomae_state_dict, videomae_state_dict
        from lumiere_eval.extractors.vit import load_checkpoint

        check_videomae_state_dict(videomae_state_dict(load_checkpoint(path)), str(path))
    elif spec.file_format in ("vjepa_encoder", "vjepa_probe"):
        from lumiere_eval.extractors.vit import load_checkpoint
        from lumiere_eval.extractors.vjepa import check_vjepa_state_dict, encoder_state_dict, probe_state_dict

        part, extract = (("encoder", encoder_state_dict) if spec.file_format == "vjepa_encoder"
                         else ("probe", probe_state_dict))
        check_vjepa_state_dict(extract(load_checkpoint(path), str(path)), part, str(path))
    elif spec.file_format == "dino_vitb16":
        from lumiere_eval.extractors.vbench.dino import check_dino_state_dict
        from lumiere_eval.extractors.weight_files import load_state_dict

        check_dino_state_dict(load_state_dict(path), str(path))
    elif spec.file_format == "aesthetic_head":
        from lumiere_eval.extractors.vbench.features import load_aesthetic_head

        load_aesthetic_head(path)
    elif spec.file_format == "raft_large":
        from lumiere_eval.extractors.vbench.raft import load_raft

        load_raft(path)
    elif spec.file_format == "amt_s":
        from lumiere_eval.extractors.vbench.amt import load_amt

        load_amt(path)
    elif spec.file_format == "viclip":
        from lumiere_eval.extractors.vbench.viclip import check_viclip_state_dict, viclip_state_dict
        from lumiere_eval.extractors.weight_files import load_state_dict

        check_viclip_state_dict(viclip_state_dict(load_state_dict(path), str(path)), str(path))
    elif spec.file_format == "musiq":
        from lumiere_eval.extractors.download import sha256_file

        prefix = spec.filename.rsplit("-", 1)[-1].split(".")[0]
        if not sha256_file(path).startswith(prefix):
            raise WeightsError(f"{path}: SHA-256 does not start with {prefix}, the prefix in {spec.filename}")


def _status(spec: WeightSpec, path: Path, digest: str) -> tuple[bool, str]:
    if spec.sha256 is not None:
        if digest == spec.sha256:
            return True, "sha256 matches published"
        return False, f"unverified: sha256 {digest[:12]}... differs from the published {spec.sha256[:12]}..."
    check_format(spec, path)
    return False, "format checked, no published checksum"


def resolve(name: str, local_path: str | os.PathLike | None = None, fetch_missing: bool = True,
            timeout: float = 10.0) -> ResolvedWeights:
    """Locate weights `name`: the user's `local_path`, else the cache, else a download (if `fetch_missing`).

    A local file whose checksum is not the published one (or has none published) is accepted with an
    UnverifiedWeightsWarning; a cached or downloaded file with the wrong checksum is an error.
    """
    spec = get_spec(name)
    if local_path is not None:
        path = Path(local_path).expanduser()
        if not path.is_file():
            raise WeightsError(f"{path}: weight file given for {spec.name} ({spec.flag}) does not exist")
        digest = sha256_file(path)
        verified, status = _status(spec, path, digest)
        if not verified:
            warnings.warn(f"{path}: {status}; results are marked as computed with unverified weights",
                          UnverifiedWeightsWarning, stacklevel=2)
        return ResolvedWeights(spec.name, path, digest, verified, status)
    path = cached_path(name)
    if not path.is_file():
        if not fetch_missing:
            raise WeightsError(missing_message(spec))
        fetch(name, timeout=timeout)
    digest = sha256_file(path)
    verified, status = _status(spec, path, digest)
    if spec.sha256 is not None and not verified:
        raise WeightsError(f"{path}: {status}; delete it and run `lumiere-eval weights fetch {name}` again")
    return ResolvedWeights(spec.name, path, digest, verified, status)


def missing_message(spec: WeightSpec) -> str:
    """What to do when weights are not on this machine."""
    source = spec.urls[0] + (f" (a zip: take {spec.archive_member} out of it)" if spec.archive_member else "")
    return (f"{spec.filename} is not in {cache_dir()}; run `lumiere-eval weights fetch {spec.name}`, or "
            f"download {source} yourself and put it at {cache_dir() / spec.filename}, or pass a local "
            f"copy with {spec.flag} PATH")


def fetch(name: str, url: str | None = None, timeout: float = 10.0, progress: bool = True) -> Path:
    """Download weights `name` into the cache (resuming a partial file), check them, return the path."""
    spec = get_spec(name)
    dest = cache_dir() / spec.filename
    errors = []
    for source in ([url] if url else list(spec.urls)):
        try:
            if spec.archive_member:
                _fetch_member(spec, source, dest, timeout, progress)
            else:
                download(source, dest, sha256=spec.sha256, timeout=timeout, progress=progress)
        except DownloadError as err:
            errors.append(str(err))
            continue
        try:
            check_format(spec, dest)
        except WeightsError as err:  # e.g. an HTML page instead of the file: try the next mirror
            dest.unlink()
            errors.append(str(err))
            continue
        return dest
    raise WeightsError(f"could not download {spec.name}: {'; '.join(errors)}. {missing_message(spec)}")


def _fetch_member(spec: WeightSpec, url: str, dest: Path, timeout: float, progress: bool) -> None:
    """Download the zip at `url` next to `dest` (resumable), take `spec.archive_member` out as `dest`, delete the
    zip; an archive without that member is a DownloadError."""
    archive = dest.with_name(dest.name + ".zip")
    download(url, archive, sha256=None, timeout=timeout, progress=progress)
    try:
        with zipfile.ZipFile(archive) as zf, zf.open(spec.archive_member) as src:
            part = dest.with_name(dest.name + ".extracting")
            part.write_bytes(src.read())
            part.replace(dest)
    except (zipfile.BadZipFile, KeyError) as err:
        raise DownloadError(f"{url}: not a zip holding {spec.archive_member} ({err})") from err
    finally:
        archive.unlink(missing_ok=True)


def verify(name: str) -> ResolvedWeights:
    """Check the cached copy of `name` (checksum where published, else format)."""
    return resolve(name, fetch_missing=False)


def _shipped_spec(name: str, filename: str, sha256: str, flag: str, description: str) -> WeightSpec:
    """The registry entry of a checkpoint shipped in the package (its file name is its absolute location)."""
    path = shipped.shipped_path(filename)
    return WeightSpec(name=name, filename=str(path), urls=(path.as_uri(),), sha256=sha256,
                      checksum_source=f"shipped with lumiere-eval; {shipped.CARD}", file_format="state_dict",
                      flag=flag, licence="lumiere-eval's own training on its synthetic domain (same licence as "
                                         "lumiere-eval)", description=description)


# The in-domain checkpoints shipped in the package join the registry (for `weights list` and `resolve`).
WEIGHTS.update({name: _shipped_spec(name, *entry) for name, entry in shipped.SHIPPED.items()})
