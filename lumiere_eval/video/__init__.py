"""Video I/O, clip sampling and resize protocols (the resize protocols, which need torch, load on first use)."""
from lumiere_eval.video.io import (VideoInfo, VideoReadError, VideoWarning, probe_video, read_frames, read_video,
                                  write_video)
from lumiere_eval.video.sampling import ClipSampling, parse_clip_sampling, read_clip

_LAZY = {"RESIZE_PROTOCOLS", "ResizeProtocol", "get_resize_protocol"}


def __getattr__(name: str):
    if name in _LAZY:  # torch is heavy: `video-info` and decoding do not need it
        from lumiere_eval.video import resize

        return getattr(resize, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ClipSampling", "RESIZE_PROTOCOLS", "ResizeProtocol", "VideoInfo", "VideoReadError", "VideoWarning",
    "get_resize_protocol", "parse_clip_sampling", "probe_video", "read_clip", "read_frames", "read_video",
    "write_video",
]
