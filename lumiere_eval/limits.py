"""Default bounds shared by the command line and the code it runs (no heavy imports: `--help` stays fast)."""

DEFAULT_MAX_VIDEO_MB = 2048  # decoded frames kept for one video, in MB (10^6 bytes); more is refused
# (2048: a 128-frame 1080p clip, 796 MB, fits; a 128-frame 4K clip, 3.2 GB, is refused by name)
DEFAULT_MAX_SKIPPED_FRACTION = 0.01  # a run skipping more of its videos says so loudly in its results
