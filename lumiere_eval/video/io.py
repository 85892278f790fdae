"""Decoding and encoding videos: decord first, PyAV where decord cannot, one error type for bad files."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from lumiere_eval import LumiereEvalError

# Containers decord does not read (or reads wrongly); PyAV decodes these directly.
_PYAV_ONLY_SUFFIXES = {".gif", ".webm", ".mkv", ".webp"}


class VideoReadError(LumiereEvalError):
    """A video that cannot be used: missing, empty, corrupt, truncated, or too short for a clip."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """What a container says about its video stream (frame count as decoded by `read_video`)."""

    num_frames: int
    fps: float
    height: int
    width: int


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoReadError(path, "file does not exist")
    if path.is_dir():
        raise VideoReadError(path, "is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "file is empty (0 bytes)")


def _decord_reader(path: Path):
    import decord  # imported here: decord loads native libraries

    return decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)


def _pyav_decode(path: Path, indices: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError(path, "no video stream in the container")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    except VideoReadError:
        raise
    except Exception as err:  # PyAV raises many error types (InvalidDataError, EOFError, ...)
        raise VideoReadError(path, f"cannot decode ({type(err).__name__}: {err})") from err
    if not frames:
        raise VideoReadError(path, "no frames could be decoded (corrupt or truncated file)")
    video = np.stack(frames)
    if indices is not None:
        _check_indices(path, indices, len(video))
        video = video[indices]
    return video, fps


def _check_indices(path: Path, indices: np.ndarray, length: int) -> None:
    if len(indices) and (indices.min() < 0 or indices.max() >= length):
        raise VideoReadError(path, f"frame index {int(indices.max())} out of range for a video of {length} frames")


def _decode(path: Path, indices: np.ndarray | None) -> tuple[np.ndarray, float]:
    _check_file(path)
    if path.suffix.lower() in _PYAV_ONLY_SUFFIXES:
        return _pyav_decode(path, indices)
    try:
        reader = _decord_reader(path)
        length, fps = len(reader), float(reader.get_avg_fps())
        if length == 0:
            raise RuntimeError("decord found no frames")
        wanted = np.arange(length) if indices is None else np.asarray(indices, dtype=np.int64)
        _check_indices(path, wanted, length)
        frames = reader.get_batch(wanted.tolist()).asnumpy()
        return np.ascontiguousarray(frames), fps
    except VideoReadError:
        raise
    except Exception:  # decord cannot: fall back to PyAV, whose error (if any) names the reason
        return _pyav_decode(path, indices)


def read_video(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """Decode a whole video: frames uint8 `[T, H, W, 3]` RGB and frames per second."""
    return _decode(Path(path), None)


def read_frames(path: str | os.PathLike, indices: np.ndarray) -> np.ndarray:
    """Decode only the frames at `indices` (frame-accurate), uint8 `[len(indices), H, W, 3]`."""
    return _decode(Path(path), np.asarray(indices, dtype=np.int64))[0]


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame count, fps and size of a video, reading the index rather than every frame where possible."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() not in _PYAV_ONLY_SUFFIXES:
        try:
            reader = _decord_reader(path)
            height, width = reader[0].shape[:2]
            return VideoInfo(len(reader), float(reader.get_avg_fps()), int(height), int(width))
        except Exception:
            pass
    frames, fps = _pyav_decode(path)
    return VideoInfo(len(frames), fps, frames.shape[1], frames.shape[2])


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float, crf: int = 17) -> Path:
    """Encode uint8 `[T, H, W, 3]` RGB frames to .mp4 (H.264, yuv420p), .gif or .avi (MPEG-4 Part 2).

    The file appears atomically (written beside it under a temporary name, then renamed), so a killed
    process never leaves a half-written video under the final name. `crf` sets H.264 quality (0 = lossless).
    """
    import av

    path = Path(path)
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise LumiereEvalError(f"{path}: frames must be uint8 [T, H, W, 3] with T >= 1, got "
                               f"{frames.dtype} {list(frames.shape)}")
    suffix = path.suffix.lower()
    codecs = {".mp4": ("libx264", "yuv420p"), ".gif": ("gif", "pal8"), ".avi": ("mpeg4", "yuv420p")}
    if suffix not in codecs:
        raise LumiereEvalError(f"{path}: cannot write {suffix!r} videos; use one of {', '.join(codecs)}")
    codec, pix_fmt = codecs[suffix]
    height, width = frames.shape[1:3]
    if pix_fmt == "yuv420p" and (height % 2 or width % 2):
        raise LumiereEvalError(f"{path}: {codec} with yuv420p needs an even width and height, got {width}x{height}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".gif":
            _write_gif(tmp_name, frames, fps)
            os.replace(tmp_name, path)
            return path
        with av.open(tmp_name, mode="w", format={".mp4": "mp4", ".avi": "avi"}[suffix]) as out:
            stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            if codec == "libx264":
                stream.options = {"crf": str(crf), "preset": "medium"}
            elif codec == "mpeg4":
                stream.options = {"qscale": "2"}
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _write_gif(path: str, frames: np.ndarray, fps: float) -> None:
    """GIF with an adaptive 256-colour palette per frame (PIL); delays are whole centiseconds in the format."""
    from PIL import Image

    images = [Image.fromarray(frame).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
              for frame in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], loop=0,
                   duration=max(20, round(1000 / fps)), optimize=False, disposal=1)
