"""Video I/O, clip sampling and resize protocols."""
from lumiere_eval.video.io import (VideoInfo, VideoReadError, VideoWarning, probe_video, read_frames, read_video,
                                  write_video)
from lumiere_eval.video.resize import RESIZE_PROTOCOLS, ResizeProtocol, get_resize_protocol
from lumiere_eval.video.sampling import ClipSampling, parse_clip_sampling, read_clip

__all__ = [
    "ClipSampling", "RESIZE_PROTOCOLS", "ResizeProtocol", "VideoInfo", "VideoReadError", "VideoWarning",
    "get_resize_protocol",
    "parse_clip_sampling", "probe_video", "read_clip", "read_frames", "read_video", "write_video",
]
