"""The motion tier: cost per video of each score, and how close the flow-based numbers come to a known motion.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_motion.py
Cost: one thread (cv2.setNumThreads(1)), best of 3, per 16-frame video at 8 fps, at the default run's size
(32x32) and at larger sizes. Calibration: the synthetic clips of tests/test_motion.py (a pan of a periodic
texture moved by an exact sub-pixel shift, a textured square on a static background, a frozen clip).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import best_time, record  # noqa: E402
from test_motion import moving_object, pan, px  # noqa: E402

from lumiere_eval.metrics import motion  # noqa: E402


def cost_rows() -> list[dict]:
    rows = []
    for size in (32, 64, 128, 256):
        clip = pan(size, 16, size / 32, size / 64)
        row = {"size": f"16x{size}x{size}"}
        row["flow_scores_s"] = best_time(lambda: motion.flow_scores(clip, 8.0))
        row["flickering_s"] = best_time(lambda: motion.temporal_flickering(clip))
        row["smoothness_s"] = best_time(lambda: motion.motion_smoothness(clip))
        row["warping_error_s"] = best_time(lambda: motion.warping_error(clip))
        row["all_pixel_scores_s"] = best_time(lambda: motion.pixel_scores(clip, 8.0))
        row["videos_per_s"] = 1.0 / row["all_pixel_scores_s"]
        rows.append(row)
    return rows


def calibration_rows() -> list[dict]:
    rows = []
    for size, step in ((32, 0.5), (32, 1.0), (32, 2.0), (32, 3.0), (64, 0.5), (64, 1.0), (64, 3.0), (128, 4.0)):
        s = motion.flow_scores(pan(size, 16, step), 8.0)
        magnitude = px(s["motion_magnitude_dis"], size)
        rows.append({"clip": f"pan {size}px", "true_px_per_frame": step, "measured_px": magnitude,
                     "error_pct": 100 * (magnitude - step) / step, "camera_px": px(s["camera_motion_dis"], size),
                     "object_px": px(s["object_motion_dis"], size), "dynamic": s["dynamic_dis"]})
    for size, step, box in ((64, 2, 16), (64, 2, 24), (32, 1, 10)):
        s = motion.flow_scores(moving_object(size, 14, step, box), 8.0)
        truth = step * box * box / size ** 2
        rows.append({"clip": f"object {box}px on {size}px", "true_px_per_frame": truth,
                     "measured_px": px(s["object_motion_dis"], size),
                     "error_pct": 100 * (px(s["object_motion_dis"], size) - truth) / truth,
                     "camera_px": px(s["camera_motion_dis"], size), "object_px": px(s["object_motion_dis"], size),
                     "dynamic": s["dynamic_dis"]})
    frozen = np.repeat(pan(32, 1, 0), 16, axis=0)
    s = motion.pixel_scores(frozen, 8.0)
    rows.append({"clip": "frozen 32px", "true_px_per_frame": 0.0, "measured_px": px(s["motion_magnitude_dis"], 32),
                 "error_pct": float("nan"), "camera_px": px(s["camera_motion_dis"], 32),
                 "object_px": px(s["object_motion_dis"], 32), "dynamic": s["dynamic_dis"]})
    return rows


def main() -> None:
    import cv2

    cv2.setNumThreads(1)
    record("motion_cost", cost_rows(), "Seconds per 16-frame video on one thread (best of 3); all_pixel_scores = "
           "every weight-free score (flow scores, flickering, smoothness, warping error).",
           machine_extra={"torch_threads": 1, "opencv_threads": 1, "load_average_1min": os.getloadavg()[0]})
    record("motion_calibration", calibration_rows(),
           "Flow magnitude against the truth. Pans: whole-frame motion (measured = mean flow magnitude). Objects: "
           "a textured square moving on a static textured background (truth = step x box area / frame area, "
           "measured = object_motion_dis, the flow left after the fitted global affine motion). Pixels per frame.")


if __name__ == "__main__":
    main()
