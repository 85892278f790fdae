"""Shared test fixtures: the session's own LUMIERE_EVAL_HOME, and paths to the real UCF101 material in ../shared
(tests skip where it is absent)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

SHARED_UCF101 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ucf101"


@pytest.fixture(autouse=True, scope="session")
def isolated_home(tmp_path_factory) -> Iterator[Path]:
    """The test session's own `$LUMIERE_EVAL_HOME` (feature cache, metric results, file hashes, weights), set
    before any module fixture runs: no test reads or writes the developer's ~/.cache/lumiere-eval (a test may
    still set the variable itself)."""
    home = tmp_path_factory.mktemp("lumiere_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LUMIERE_EVAL_HOME", str(home))
        yield home


@pytest.fixture
def ucf101_shared() -> Path:
    """The shared UCF101 folder with two real clips and the split files, or a skip."""
    if not (SHARED_UCF101 / "ucfTrainTestlist" / "classInd.txt").exists():
        pytest.skip(f"real UCF101 material not found at {SHARED_UCF101}")
    return SHARED_UCF101


def moving_pattern(t: int = 16, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth test video (gradient plus a moving bright square), uint8 [T, H, W, 3]; compresses well."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, np.full((h, w), 128.0)], -1)
    frames = np.repeat(base[None], t, 0)
    y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
    for i in range(t):
        y, x = (y0 + i) % (h - 8), (x0 + 2 * i) % (w - 8)
        frames[i, y:y + 8, x:x + 8] = 255
    return frames.astype(np.uint8)
