"""Shipped data (checkpoints, model cards, HTML layouts), looked up through the package."""
from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def asset(*parts: str) -> Traversable:
    """The shipped file or folder at `parts` under lumiere_eval/assets (works from a checkout or a wheel)."""
    node = files(__name__)
    for part in parts:
        node = node / part
    return node
