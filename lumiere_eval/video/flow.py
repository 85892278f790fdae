"""Dense optical flow and warping with OpenCV: the weight-free stand-in for RAFT in the motion tier.

Flow is DIS (Kroeger et al. 2016; OpenCV `DISOpticalFlow`, MEDIUM preset) on grey frames with fixed
parameters, so a number depends only on the pixels. `flow[y, x] = (dx, dy)`: the pixel at (x, y) in
frame a is found at (x + dx, y + dy) in frame b. Frames are `[H, W, 3]` uint8 RGB (or `[H, W]` grey).
"""
from __future__ import annotations

import numpy as np


def _cv2():
    import cv2

    return cv2


def grey(frame: np.ndarray) -> np.ndarray:
    """A uint8 grey image from an RGB or grey frame."""
    frame = np.ascontiguousarray(frame)
    if frame.ndim == 2:
        return frame.astype(np.uint8, copy=False)
    return _cv2().cvtColor(frame.astype(np.uint8, copy=False), _cv2().COLOR_RGB2GRAY)


def dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow `[H, W, 2]` (float32, pixels) from frame a to frame b: OpenCV's DIS, MEDIUM preset.

    Chosen over Farneback on the calibration clips (docs/motion.md): at 32x32, Farneback's 15-pixel window
    smears a moving object's flow over most of the frame, which the camera/object split cannot undo.
    """
    cv2 = _cv2()
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(grey(a), grey(b), None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`image` sampled at (x + dx, y + dy) with bilinear interpolation (borders replicated), as float32.

    With `flow` = flow from a to b, `warp(b, flow)` is b brought back onto a's pixel grid.
    """
    cv2 = _cv2()
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(np.ascontiguousarray(image, dtype=np.float32), xs + flow[..., 0], ys + flow[..., 1],
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def global_motion(flow: np.ndarray, step: int = 2, seed: int = 0) -> np.ndarray:
    """The flow of the best-fitting global affine motion (the camera's), `[H, W, 2]`.

    Fitted by RANSAC (`cv2.estimateAffine2D`, seeded) to correspondences (x, y) -> (x + dx, y + dy) on a
    grid of every `step`-th pixel, so a moving object covering less than half of the frame is an outlier
    and the fit follows the background. Zero flow when no fit is found.
    """
    cv2 = _cv2()
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    src = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    dst = src + flow[ys.ravel(), xs.ravel()].astype(np.float32)
    cv2.setRNGSeed(seed)
    matrix, _ = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=0.5,
                                     maxIters=2000, confidence=0.995)
    if matrix is None:
        return np.zeros_like(flow, dtype=np.float32)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    points = np.stack([gx, gy, np.ones_like(gx)], axis=-1)
    return (points @ matrix.T - np.stack([gx, gy], axis=-1)).astype(np.float32)


def interpolate_middle(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The frame halfway between two frames, re-synthesised from them by flow (float32, same layout).

    Each neighbour is warped half-way along the flow towards the other (the flow at the middle frame's
    pixel is approximated by the flow at the same pixel of the neighbour, as simple flow-based
    interpolators do), and the two warps are averaged.
    """
    forward = dis_flow(before, after)
    backward = dis_flow(after, before)
    from_before = warp(before, -0.5 * forward)
    from_after = warp(after, -0.5 * backward)
    return 0.5 * (from_before + from_after)


def occlusion_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Pixels of frame a whose forward flow is not undone by the backward flow (True = occluded).

    The forward-backward test of Sundaram et al. used for warping error (Lai et al. 2018, EvalCrafter):
    |f + b(x + f)|^2 > 0.01 (|f|^2 + |b(x + f)|^2) + 0.5.
    """
    back_at_target = warp(backward, forward)
    total = forward + back_at_target
    bound = 0.01 * ((forward ** 2).sum(-1) + (back_at_target ** 2).sum(-1)) + 0.5
    return (total ** 2).sum(-1) > bound
