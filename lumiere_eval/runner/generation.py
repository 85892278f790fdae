"""Stage 1: generate the protocol's videos into `RUN/samples/`, one MP4 and one JSON record per sample.

A sample is done when its video and record are both on disk and the record's SHA-256 matches the video;
done samples are never regenerated. A killed run therefore resumes where it stopped. A generator error is
retried once for that sample alone; a second failure is recorded in `RUN/errors/` and the run goes on.
A write that fails (disk full, read-only folder) is not a generator failure: it stops the run with
OutputWriteError naming the file, keeping every finished sample; temporaries it left are removed next start.
"""
from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lumiere_eval.files import ERRORS_DIR, SAMPLES_DIR, atomic_write_json, sha256_file
from lumiere_eval.models.base import VideoGenerator
from lumiere_eval.output_files import OutputWriteError, clean_stale_temporaries
from lumiere_eval.datasets.ucf101 import SampleSpec
from lumiere_eval.runner.distributed import Shard
from lumiere_eval.video import write_video


@dataclass(frozen=True)
class VideoSpec:
    """Frames, rate and size every generated video must have."""

    num_frames: int
    fps: float
    height: int
    width: int


def sample_paths(run_dir: Path, index: int) -> tuple[Path, Path]:
    """The video and record paths of sample `index`."""
    stem = run_dir / SAMPLES_DIR / f"{index:06d}"
    return stem.with_suffix(".mp4"), stem.with_suffix(".json")


def load_record(run_dir: Path, spec: SampleSpec, check_hash: bool = True) -> dict | None:
    """The record of a finished sample that matches `spec` (prompt, seed), or None."""
    video, record_path = sample_paths(run_dir, spec.index)
    if not (video.is_file() and record_path.is_file()):
        return None
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError:
        return None
    if record.get("prompt") != spec.prompt or record.get("seed") != spec.seed:
        return None
    if check_hash and record.get("sha256") != sha256_file(video):
        return None
    return record


def _save_sample(run_dir: Path, spec: SampleSpec, frames: np.ndarray, fps: float, video_spec: VideoSpec) -> dict:
    expected = (video_spec.num_frames, video_spec.height, video_spec.width, 3)
    if frames.shape != expected or frames.dtype != np.uint8:
        raise ValueError(f"generator returned {frames.dtype} {list(frames.shape)}, expected uint8 {list(expected)}")
    video, record_path = sample_paths(run_dir, spec.index)
    write_video(video, frames, fps)
    stat = video.stat()  # size and time let later readers check the file without hashing it (record.changed_samples)
    record = {"index": spec.index, "class": spec.class_name, "prompt": spec.prompt, "seed": spec.seed,
              "path": str(video.relative_to(run_dir)), "sha256": sha256_file(video), "size": stat.st_size,
              "mtime_ns": stat.st_mtime_ns}
    try:
        atomic_write_json(record_path, record, indent=None)
    except OSError as err:  # disk full, read-only folder: the run stops, it is no generator failure
        raise OutputWriteError(record_path, err) from err
    return record


def generate_samples(run_dir: Path, plan: list[SampleSpec], generator: VideoGenerator, video_spec: VideoSpec,
                     shard: Shard, batch_size: int = 4, progress: bool = True) -> dict[str, int]:
    """Generate this shard's missing samples; returns counts of done, generated and failed samples."""
    from tqdm import tqdm

    (run_dir / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(run_dir / SAMPLES_DIR)  # left by a killed run or a full disk
    mine = [s for s in plan if shard.mine(s.index)]
    todo = [s for s in mine if load_record(run_dir, s) is None]
    counts = {"already_done": len(mine) - len(todo), "generated": 0, "failed": 0}
    bar = tqdm(total=len(todo), desc=f"generate [{generator.name}]", unit="video", disable=not progress)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        try:
            videos = generator.generate([s.prompt for s in batch], [s.seed for s in batch], video_spec.num_frames,
                                        video_spec.fps, video_spec.height, video_spec.width)
            for spec, video in zip(batch, videos, strict=True):
                _save_sample(run_dir, spec, video.frames, video.fps, video_spec)
            counts["generated"] += len(batch)
        except OutputWriteError:
            raise
        except Exception:  # noqa: BLE001 - retried one by one, then recorded
            for spec in batch:
                counts["generated" if _retry_one(run_dir, spec, generator, video_spec) else "failed"] += 1
        bar.update(len(batch))
    bar.close()
    return counts


def _retry_one(run_dir: Path, spec: SampleSpec, generator: VideoGenerator, video_spec: VideoSpec) -> bool:
    if load_record(run_dir, spec) is not None:
        return True  # written before the batch failed
    error_path = run_dir / ERRORS_DIR / f"{spec.index:06d}.json"
    last_error = ""
    for attempt in (1, 2):
        try:
            video = generator.generate([spec.prompt], [spec.seed], video_spec.num_frames, video_spec.fps,
                                       video_spec.height, video_spec.width)[0]
            _save_sample(run_dir, spec, video.frames, video.fps, video_spec)
            error_path.unlink(missing_ok=True)
            return True
        except OutputWriteError:
            raise
        except Exception as err:  # noqa: BLE001
            last_error = f"attempt {attempt}: {type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
    error_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(error_path, {"index": spec.index, "prompt": spec.prompt, "seed": spec.seed,
                                    "error": last_error})
    return False


def collect_records(run_dir: Path, plan: list[SampleSpec]) -> tuple[list[dict], list[int]]:
    """Records of finished samples in index order, and the indices still missing."""
    records, missing = [], []
    for spec in plan:
        record = load_record(run_dir, spec, check_hash=False)
        (records.append(record) if record is not None else missing.append(spec.index))
    return records, missing
