"""Decoding and encoding videos: decord first, PyAV where decord cannot, one error type for bad files.

Memory is bounded per video: only the frames a caller asks for are kept, frames above `MAX_DECODE_PIXELS`
(4K UHD, 3840x2160: every size a video generator produces stays untouched, so the protocols' own resizes see
the source frames and the numbers equal the reference tools') are downscaled with an area filter as each one
is decoded, to a shorter side of `DECODE_SHORT_SIDE` (384 px; every extractor works at 299 px or less), and a
request whose kept frames would exceed `max_bytes` is refused with the numbers. Where the container
declares a frame count, fewer decodable frames mean a truncated file: an error under `strict`, a
`VideoWarning` with the numbers otherwise.
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.limits import DEFAULT_MAX_VIDEO_MB
from lumiere_eval.output_files import atomic_output
from lumiere_eval.path_checks import why_missing

# Containers decord does not read (or reads wrongly); PyAV decodes these directly.
_PYAV_ONLY_SUFFIXES = {".gif", ".webm", ".mkv", ".webp"}
MAX_DECODE_PIXELS = 3840 * 2160  # larger frames are area-downscaled as they are decoded ...
DECODE_SHORT_SIDE = 384  # ... to this shorter side (and never above MAX_DECODE_PIXELS)


class VideoReadError(LumiereEvalError):
    """A video that cannot be used: missing, empty, corrupt, truncated, too large, or too short for a clip."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class VideoWarning(UserWarning):
    """A video that is used but is suspect: truncated, decode-downscaled, heavily repeated frames."""


@dataclass(frozen=True)
class VideoInfo:
    """What a container says about its video stream.

    `num_frames` counts the frames that can be decoded; `declared_frames` is the count the container header
    states (None where it states none); `height`, `width` are the source size before any decode-downscale;
    `fps_note` says why `fps` is not a rate the container declares (None when it is one).
    """

    num_frames: int
    fps: float
    height: int
    width: int
    declared_frames: int | None = None
    fps_note: str | None = None

    @property
    def truncated(self) -> bool:
        """Fewer decodable frames than declared (by more than one frame and 1%)."""
        if not self.declared_frames:
            return False
        return self.declared_frames - self.num_frames > max(1, self.declared_frames // 100)

    @property
    def decode_size(self) -> tuple[int, int]:
        """(height, width) of decoded frames: the source size, or area-downscaled above MAX_DECODE_PIXELS."""
        return decode_size(self.height, self.width)


def decode_size(height: int, width: int) -> tuple[int, int]:
    """The size frames of `height` x `width` are decoded at: unchanged up to MAX_DECODE_PIXELS, else shorter side
    DECODE_SHORT_SIDE and at most MAX_DECODE_PIXELS (aspect ratio kept)."""
    if height * width <= MAX_DECODE_PIXELS:
        return height, width
    scale = min(DECODE_SHORT_SIDE / min(height, width), math.sqrt(MAX_DECODE_PIXELS / (height * width)))
    return max(1, int(height * scale)), max(1, int(width * scale))


def _check_file(path: Path) -> None:
    problem = why_missing(path)
    if problem == "does not exist":
        raise VideoReadError(path, "file does not exist")
    if problem:
        raise VideoReadError(path, problem)
    if path.is_dir():
        raise VideoReadError(path, "is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "file is empty (0 bytes)")


def unusable_reason(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be a video file before any decoding (missing, a dangling link, a link loop, a directory,
    empty), in the words VideoReadError uses; None when it may be one."""
    try:
        _check_file(Path(path))
    except VideoReadError as err:
        return err.reason
    return None


def undeclared_rate(path: str | os.PathLike) -> bool:
    """Whether an AVI file's header declares a frame rate of 0 (stream rate or scale 0 and no frame period): FFmpeg
    then reads it at 25 fps without a word. False for other containers (their rate comes from timestamps)."""
    if Path(path).suffix.lower() != ".avi":
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False
    avih, strh = head.find(b"avih"), head.find(b"strh")
    while strh >= 0 and head[strh + 8:strh + 12] != b"vids":  # the video stream's header (chunk id, size, type)
        strh = head.find(b"strh", strh + 4)
    if avih < 0 or strh < 0 or len(head) < max(avih + 12, strh + 36):
        return False
    period = int.from_bytes(head[avih + 8:avih + 12], "little")  # dwMicroSecPerFrame
    scale = int.from_bytes(head[strh + 28:strh + 32], "little")  # the stream's dwScale and dwRate
    rate = int.from_bytes(head[strh + 32:strh + 36], "little")
    return (scale == 0 or rate == 0) and period == 0


def fps_note(path: str | os.PathLike, fps: float) -> str | None:
    """Why `fps` (as read) is not a rate the file declares, in words; None when it is one."""
    if undeclared_rate(path):
        return f"the container declares 0 fps; read as {fps:g} fps (FFmpeg's default)"
    if not (fps > 0 and math.isfinite(fps)):
        return "the container declares no frame rate"
    return None


def _decord_reader(path: Path):
    import decord  # imported here: decord loads native libraries

    return decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)


def _open_stream(path: Path):
    import av

    try:
        container = av.open(str(path))
    except Exception as err:  # PyAV raises many error types (InvalidDataError, EOFError, ...)
        raise VideoReadError(path, f"cannot decode ({type(err).__name__}: {err})") from err
    if not container.streams.video:
        container.close()
        raise VideoReadError(path, "no video stream in the container")
    return container, container.streams.video[0]


def _stream_fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def _pyav_decode(path: Path, indices: np.ndarray | None = None, max_bytes: int | None = None,
                 count_only: bool = False) -> tuple[np.ndarray | int, float]:
    """Decode frame by frame, keeping only `indices` (all when None), each area-downscaled to `decode_size`."""
    wanted = None if indices is None else set(int(i) for i in indices)
    last = None if indices is None else (int(np.max(indices)) if len(indices) else -1)
    kept: dict[int, np.ndarray] = {}
    count = 0
    container, stream = _open_stream(path)
    try:
        with container:
            fps = _stream_fps(stream)
            for frame in _frames_until_damage(container, stream):
                if last is not None and count > last:
                    break
                if not count_only and (wanted is None or count in wanted):
                    height, width = decode_size(frame.height, frame.width)
                    if max_bytes is not None and (len(kept) + 1) * height * width * 3 > max_bytes:
                        raise VideoReadError(path, _too_large(len(kept) + 1, height, width, max_bytes))
                    if (frame.height, frame.width) == (height, width):
                        kept[count] = frame.to_ndarray(format="rgb24")
                    else:
                        kept[count] = frame.to_ndarray(format="rgb24", width=width, height=height,
                                                       interpolation="AREA")
                count += 1
    except VideoReadError:
        raise
    except Exception as err:  # PyAV raises many error types (InvalidDataError, EOFError, ...)
        raise VideoReadError(path, f"cannot decode ({type(err).__name__}: {err})") from err
    if count == 0:
        raise VideoReadError(path, "no frames could be decoded (corrupt or truncated file)")
    if count_only:
        return count, fps
    if indices is None:
        return np.stack([kept[i] for i in range(count)]), fps
    _check_indices(path, np.asarray(indices), count)
    return np.stack([kept[int(i)] for i in indices]), fps


def _frames_until_damage(container, stream):
    """Decoded frames, packet by packet; at the first undecodable packet (once some frames came out) the
    decoder is flushed and decoding stops: the decodable start of a truncated or damaged file (the caller
    compares the count with what the container declares)."""
    count = 0
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                count += 1
                yield frame
    except Exception:  # noqa: BLE001 - PyAV raises many error types (InvalidDataError, EOFError, ...)
        try:
            for frame in stream.codec_context.decode(None):  # the frames the decoder still holds
                count += 1
                yield frame
        except Exception:  # noqa: BLE001
            pass
        if count == 0:
            raise


def _count_packets(path: Path) -> int:
    """Video packets in the container, read without decoding (one frame each for the codecs seen here)."""
    container, stream = _open_stream(path)
    try:
        with container:
            count = sum(1 for packet in container.demux(stream) if packet.size)
    except Exception as err:  # noqa: BLE001 - PyAV raises many error types
        raise VideoReadError(path, f"cannot decode ({type(err).__name__}: {err})") from err
    if count == 0:
        raise VideoReadError(path, "no frames could be decoded (corrupt or truncated file)")
    return count


def _too_large(num_frames: int, height: int, width: int, max_bytes: int) -> str:
    need = num_frames * height * width * 3
    return (f"{num_frames} decoded frames of {width}x{height} need {need / 1e6:.0f} MB, more than the "
            f"{max_bytes / 1e6:.0f} MB allowed per video (raise --max-video-mb, or use a shorter clip)")


def _check_indices(path: Path, indices: np.ndarray, length: int) -> None:
    if len(indices) and (indices.min() < 0 or indices.max() >= length):
        raise VideoReadError(path, f"frame index {int(indices.max())} out of range for a video of {length} frames")


def _check_truncation(path: Path, info: VideoInfo, strict: bool) -> None:
    if not info.truncated:
        return
    message = (f"truncated or damaged file: the container declares {info.declared_frames} frames, only "
               f"{info.num_frames} can be decoded")
    if strict:
        raise VideoReadError(path, message)
    warnings.warn(f"{path}: {message}", VideoWarning, stacklevel=3)


def _decode(path: Path, indices: np.ndarray | None, strict: bool, max_bytes: int | None) -> tuple[np.ndarray, float]:
    info = probe_video(path)
    _check_truncation(path, info, strict)
    height, width = info.decode_size
    wanted = np.arange(info.num_frames) if indices is None else np.asarray(indices, dtype=np.int64)
    _check_indices(path, wanted, info.num_frames)
    if max_bytes is not None and len(wanted) * height * width * 3 > max_bytes:
        raise VideoReadError(path, _too_large(len(wanted), height, width, max_bytes))
    if (height, width) != (info.height, info.width):
        warnings.warn(f"{path}: {info.width}x{info.height} frames decoded at {width}x{height} (area filter; "
                      f"frames above {MAX_DECODE_PIXELS} pixels are downscaled at decode)", VideoWarning, stacklevel=3)
    if path.suffix.lower() not in _PYAV_ONLY_SUFFIXES and (height, width) == (info.height, info.width):
        try:
            frames = _decord_reader(path).get_batch(wanted.tolist()).asnumpy()
            return np.ascontiguousarray(frames), info.fps
        except Exception:  # noqa: BLE001 - decord cannot: PyAV's error (if any) names the reason
            pass
    frames, fps = _pyav_decode(path, indices, max_bytes)
    return frames, fps


def read_video(path: str | os.PathLike, strict: bool = False,
               max_bytes: int | None = DEFAULT_MAX_VIDEO_MB * 10**6) -> tuple[np.ndarray, float]:
    """Decode a whole video: frames uint8 `[T, H, W, 3]` RGB and frames per second.

    A truncated file (fewer frames than the container declares) is an error under `strict`, otherwise a
    VideoWarning with the numbers. More than `max_bytes` of decoded frames is refused (None: no bound).
    """
    return _decode(Path(path), None, strict, max_bytes)


def read_frames(path: str | os.PathLike, indices: np.ndarray, strict: bool = False,
                max_bytes: int | None = DEFAULT_MAX_VIDEO_MB * 10**6) -> np.ndarray:
    """Decode only the frames at `indices` (frame-accurate), uint8 `[len(indices), H, W, 3]`."""
    return _decode(Path(path), np.asarray(indices, dtype=np.int64), strict, max_bytes)[0]


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Decodable frame count, declared frame count, fps and size, from the header and index (no pixels kept)."""
    path = Path(path)
    _check_file(path)
    container, stream = _open_stream(path)
    with container:
        fps = _stream_fps(stream)
        height, width = stream.codec_context.height, stream.codec_context.width
        declared = int(stream.frames) or None
    if height * width > MAX_DECODE_PIXELS:  # decord's reader holds full-size frames: count packets instead
        return VideoInfo(_count_packets(path), fps, height, width, declared, fps_note(path, fps))
    if path.suffix.lower() not in _PYAV_ONLY_SUFFIXES:
        try:
            length = len(_decord_reader(path))
            if length > 0:
                return VideoInfo(length, fps or 0.0, height, width, declared, fps_note(path, fps or 0.0))
        except Exception:  # noqa: BLE001 - decord cannot: count by decoding with PyAV
            pass
    count, fps = _pyav_decode(path, count_only=True)
    return VideoInfo(int(count), fps, height, width, declared, fps_note(path, fps))


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float, crf: int = 17) -> Path:
    """Encode uint8 `[T, H, W, 3]` RGB frames to .mp4 (H.264, yuv420p), .gif or .avi (MPEG-4 Part 2).

    The file appears atomically (written beside it under a `.lumiere-tmp-` name, then renamed) with the
    usual permissions, so a killed process never leaves a half-written video under the final name; a full
    disk or read-only folder raises OutputWriteError naming the path. `crf` sets H.264 quality (0 = lossless).
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
    with atomic_output(path) as tmp:
        if suffix == ".gif":
            _write_gif(str(tmp), frames, fps)
            return path
        with av.open(str(tmp), mode="w", format={".mp4": "mp4", ".avi": "avi"}[suffix]) as out:
            stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            # Deterministic H.264: the same frames must give the same pixels in any process, on any machine.
            # x264's automatic thread count follows the CPU count and changes the bytes (one file at 1-5
            # threads, another at 6, another at 7-16), and the codec-level thread option does not reach x264
            # here, so threads=1 goes in x264-params. Even so, its macroblock-tree rate control gave other
            # pixels (up to 25 levels) in about 1 encode in 20 of the same frames, in one process or several;
            # without mbtree, 400 encodes under load gave one file (tests/test_video_io.py).
            stream.thread_count = 1
            if codec == "libx264":
                stream.options = {"crf": str(crf), "preset": "medium", "x264-params": "threads=1:no-mbtree=1"}
            elif codec == "mpeg4":
                stream.options = {"qscale": "2"}
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    return path


def _write_gif(path: str, frames: np.ndarray, fps: float) -> None:
    """GIF with an adaptive 256-colour palette per frame (PIL); delays are whole centiseconds in the format."""
    from PIL import Image

    images = [Image.fromarray(frame).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
              for frame in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], loop=0,
                   duration=max(20, round(1000 / fps)), optimize=False, disposal=1)
