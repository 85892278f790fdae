"""Typed ranges for command-line numbers: a bad value is refused by argparse (exit 2) before anything runs.

    parser.add_argument("--fps", type=float_range(0, low_open=True), ...)     # > 0
    parser.add_argument("--bootstrap", type=int_range(0), ...)                 # >= 0
    parser.add_argument("--vigilance", type=float_range(0, 1), ...)            # in [0, 1]
"""
from __future__ import annotations

import argparse
import math
from typing import Callable


def _describe(low, high, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts) or "a number"


def _ranged(kind: type, name: str, low, high, low_open: bool, high_open: bool) -> Callable[[str], int | float]:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {name}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if (low is not None and (value < low or (low_open and value == low))) or \
                (high is not None and (value > high or (high_open and value == high))):
            raise argparse.ArgumentTypeError(f"must be {_describe(low, high, low_open, high_open)}, got {text}")
        return value

    parse.__name__ = name  # argparse names the type in its messages
    return parse


def int_range(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high] (either end may be None: unbounded)."""
    return _ranged(int, "an integer", low, high, False, False)


def float_range(low: float | None = None, high: float | None = None, low_open: bool = False,
                high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in [low, high]; `low_open`/`high_open` exclude the end itself."""
    return _ranged(float, "a number", low, high, low_open, high_open)
