"""Progress of a feature phase that reads well at a terminal and in a log.

At a terminal the line is redrawn in place (at most twice a second); in a log (stream not a TTY) one full
line is written every `LUMIERE_EVAL_PROGRESS_SECONDS` seconds (default 30) and once at the end, so
`make demo > log` does not fill the log with bar redraws. Each line gives the videos done, clips/s, the
share of time spent waiting for decoded clips against running the network, and the phase's ETA.
"""
from __future__ import annotations

import os
import sys
import time

LOG_INTERVAL_S = 30.0
TTY_INTERVAL_S = 0.5


class PhaseProgress:
    """Counts videos, decode-wait and network seconds of one phase; `enabled=False` writes nothing."""

    def __init__(self, total: int, desc: str, enabled: bool = True, stream=None):
        self.total, self.desc = total, desc
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = TTY_INTERVAL_S if self.tty else float(os.environ.get("LUMIERE_EVAL_PROGRESS_SECONDS",
                                                                             LOG_INTERVAL_S))
        self.done = 0
        self.decode_s = self.network_s = 0.0
        self.start = self.last = time.perf_counter()

    def update(self, videos: int, decode_s: float, network_s: float) -> None:
        """`videos` more done, after `decode_s` seconds waiting for clips and `network_s` in the extractors."""
        self.done += videos
        self.decode_s += decode_s
        self.network_s += network_s
        now = time.perf_counter()
        if self.enabled and now - self.last >= self.interval:
            self.last = now
            self._write(self.line())

    def line(self) -> str:
        """The status line: done/total, clips/s, decode vs network share, ETA."""
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = self.done / elapsed
        busy = max(self.decode_s + self.network_s, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta_text = "?" if eta == float("inf") else _clock(eta)
        return (f"{self.desc}: {self.done}/{self.total} videos, {rate:.1f} clips/s, waiting for decode "
                f"{self.decode_s / busy:.0%} / network {self.network_s / busy:.0%}, "
                f"elapsed {_clock(elapsed)}, ETA {eta_text}")

    def close(self) -> None:
        """The final line of the phase."""
        if self.enabled:
            self._write(self.line())
            if self.tty:
                self.stream.write("\n")
                self.stream.flush()

    def _write(self, text: str) -> None:
        self.stream.write(f"\r{text}\033[K" if self.tty else text + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"
