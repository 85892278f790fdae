"""The parallel feature stage: the same rows bit for bit for any number of decode workers and after a kill
mid-run, a decoder process that dies is a skipped file (not a hung run), and the prefetch bound holds."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import moving_pattern
from test_extractors import save_tiny_detector

from lumiere_eval.extractors import create_extractor
from lumiere_eval.runner.cache import FeatureCache
from lumiere_eval.runner.decode_pool import DecodePool, decode_video, default_workers
from lumiere_eval.runner.features import FeatureJob, VideoItem, compute_features, prefetch_depth
from lumiere_eval.video import ClipSampling, write_video

SAMPLING = ClipSampling("random", 16)


def crash_on_marked_files(path, samplings, key, max_bytes):
    """Decode as the pipeline does, but a file whose name holds "crash" kills the decoder process outright."""
    if "crash" in Path(path).name:
        os._exit(3)
    return decode_video(path, samplings, key, max_bytes)


def _videos(folder: Path, n: int) -> list[VideoItem]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_video(folder / f"v{i:02d}.mp4", moving_pattern(t=24, h=40, w=48, seed=i), fps=8)
             for i in range(n)]
    return [VideoItem(p, f"{i:064d}", p.name) for i, p in enumerate(paths)]


def _job(detector: Path) -> FeatureJob:
    return FeatureJob("fvd", create_extractor("i3d-torchscript", detector, device="cpu", batch_size=3), SAMPLING)


@pytest.fixture()
def detector(tmp_path):
    path = tmp_path / "i3d.pt"
    save_tiny_detector(path, 400)
    return path


def test_rows_are_identical_for_0_1_and_3_decode_workers(tmp_path, detector):
    items = _videos(tmp_path / "videos", 10)
    rows = {}
    for workers in (0, 1, 3):
        out = compute_features(items, [_job(detector)], FeatureCache(tmp_path / f"cache{workers}"), block_size=3,
                               progress=False, decode_workers=workers)["fvd"]
        rows[workers] = np.stack(out)
    np.testing.assert_array_equal(rows[1], rows[0])
    np.testing.assert_array_equal(rows[3], rows[0])


def test_a_run_killed_mid_run_resumes_to_the_same_rows(tmp_path, detector):
    items = _videos(tmp_path / "videos", 12)
    killed_cache = tmp_path / "killed"
    script = textwrap.dedent(f"""
        from pathlib import Path
        from lumiere_eval.extractors import create_extractor
        from lumiere_eval.runner.cache import FeatureCache
        from lumiere_eval.runner.features import FeatureJob, VideoItem, compute_features
        from lumiere_eval.video import ClipSampling
        items = [VideoItem(Path(p), s, k) for p, s, k in {[(str(i.path), i.sha256, i.key) for i in items]!r}]
        job = FeatureJob("fvd", create_extractor("i3d-torchscript", {str(detector)!r}, device="cpu", batch_size=3),
                         ClipSampling("random", 16))
        compute_features(items, [job], FeatureCache({str(killed_cache)!r}), 3, progress=False, decode_workers=2)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and len(list(killed_cache.rglob("*.npy"))) < 4:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(killed_cache.rglob("*.npy")))
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    assert 4 <= done < len(items), done  # killed part-way: some rows cached, not all
    resumed = compute_features(items, [_job(detector)], FeatureCache(killed_cache), 3, progress=False,
                               decode_workers=3)["fvd"]
    clean = compute_features(items, [_job(detector)], FeatureCache(tmp_path / "clean"), 3, progress=False,
                             decode_workers=0)["fvd"]
    np.testing.assert_array_equal(np.stack(resumed), np.stack(clean))


def test_a_decoder_process_that_dies_is_a_skipped_file_and_is_replaced(tmp_path, detector):
    items = _videos(tmp_path / "videos", 7)
    crash = items[2].path.rename(items[2].path.with_name("crash.mp4"))
    items[2] = VideoItem(crash, items[2].sha256, crash.name)
    skipped = {}
    rows = compute_features(items, [_job(detector)], FeatureCache(tmp_path / "cache"), block_size=3,
                            progress=False, decode_workers=2, decode=crash_on_marked_files,
                            on_skip=lambda item, reason: skipped.update({item.path.name: reason}))["fvd"]
    assert list(skipped) == ["crash.mp4"]
    assert "decoder process died on this file (exit code 3)" in skipped["crash.mp4"]
    assert rows[2] is None and all(rows[i] is not None for i in range(7) if i != 2)
    # the other rows equal a run without the crashing file in the same blocks (the worker was replaced)
    serial = compute_features(items, [_job(detector)], FeatureCache(tmp_path / "serial"), block_size=3,
                              progress=False, decode_workers=0, decode=_skip_marked)["fvd"]
    for i in (0, 1, 3, 4, 5, 6):
        np.testing.assert_array_equal(rows[i], serial[i])


def _skip_marked(path, samplings, key, max_bytes):
    from lumiere_eval.video import VideoReadError

    if "crash" in Path(path).name:
        raise VideoReadError(path, "marked")
    return decode_video(path, samplings, key, max_bytes)


def test_the_prefetch_bound_holds_with_a_slow_consumer(tmp_path):
    items = _videos(tmp_path / "videos", 9)
    tasks = [(i, str(item.path), item.key) for i, item in enumerate(items)]
    with DecodePool(3, {"fvd": SAMPLING}, 10**9, depth=2) as pool:
        order = []
        for i, (clips, err) in pool.results(tasks):
            assert err is None and clips["fvd"].shape == (16, 40, 48, 3)
            order.append(i)
            time.sleep(0.05)  # the network is slower than the decoders: they must wait, not run ahead
    assert order == list(range(9))
    assert pool.peak_pending == 2  # reached, and never more
    assert prefetch_depth(4, 2) == 10


def test_default_workers_are_the_cores_the_extractor_leaves_capped():
    assert default_workers("cuda:0", cores=16) == 8
    assert default_workers("cuda:0", cores=4) == 3
    assert default_workers("cpu", cores=16, extractor_threads=12) == 4
    assert default_workers("cpu", cores=2, extractor_threads=2) == 0  # no core free: decoding in-process was faster
    assert default_workers("cuda:0", cores=16, ranks_per_node=8) == 1  # torchrun: 8 ranks share the node's cores
    assert default_workers("cuda:0", cores=64, ranks_per_node=8) == 7


def test_the_block_is_the_forward_batch_whatever_the_extractor_was_built_with(tmp_path, detector):
    items = _videos(tmp_path / "videos", 6)
    rows = {}
    for batch in (1, 3):  # the extractor's own batch no longer changes a row: the feature block decides
        job = FeatureJob("fvd", create_extractor("i3d-torchscript", detector, device="cpu", batch_size=batch),
                         SAMPLING)
        rows[batch] = np.stack(compute_features(items, [job], FeatureCache(tmp_path / f"c{batch}"), block_size=3,
                                                progress=False, decode_workers=0)["fvd"])
    np.testing.assert_array_equal(rows[1], rows[3])
