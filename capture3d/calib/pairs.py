"""Camera pairs of a calibrated rig: baseline, relative rotation and the rectified epipolar error.

For a stereo pair (the first rig most people build) these are the numbers to check: the baseline (m,
and in board squares), the angle between the two cameras, and, after rectification (both views turned
so that the baseline is their common x axis), how far apart in y (px) the two images of one board
corner land. A perfect rig and perfect corners give 0 px; the RMS over the used corners seen by both
cameras in the same frame is the rectified epipolar error, which needs no board model at all.
"""
from __future__ import annotations

import numpy as np

from capture3d.geometry.camera import Camera
from capture3d.geometry.rotations import rotation_angle_deg


def rectifying_rotation(cam_a: Camera, cam_b: Camera) -> np.ndarray:
    """(3, 3) world -> rectified frame of the pair: x along the baseline (a to b), z near the mean of the
    two optical axes, y = z cross x. Rays of both cameras expressed in it have horizontal epipolar lines."""
    x = cam_b.center_world - cam_a.center_world
    x = x / np.linalg.norm(x)
    z = cam_a.R[2] + cam_b.R[2]
    z = z - x * (z @ x)
    z = z / np.linalg.norm(z)
    return np.stack([x, np.cross(z, x), z])


def rectified_y_px(cam: Camera, xy_px: np.ndarray, rect: np.ndarray, focal_px: float) -> np.ndarray:
    """(M,) rectified y (px at ``focal_px``) of the image points xy_px (M, 2) of ``cam``: each pixel's ray
    (lens distortion removed) in the rectified frame ``rect`` (rectifying_rotation), projected."""
    xn = cam.undistort(xy_px)
    rays_world = np.concatenate([xn, np.ones((len(xn), 1))], axis=1) @ cam.R  # R^T @ ray, row-wise
    v = rays_world @ rect.T
    return focal_px * v[:, 1] / v[:, 2]


def pair_summary(cams: list[Camera], obs=None, used: np.ndarray | None = None,
                 square_m: float | None = None) -> list[dict]:
    """One entry per camera pair (i < j): {"cameras": [a, b], "baseline_m", "baseline_squares" (when
    square_m is given), "rotation_deg" (angle of b's orientation relative to a's), "translation_cam_a"
    (b's centre in a's camera frame, m: OpenCV stereoCalibrate's -R^T T sign aside), "epipolar_rms_px",
    "epipolar_max_px", "epipolar_points"}. The epipolar error is measured on ``obs`` (BoardObservations)
    where both cameras saw the same corner in the same frame (``used`` (M,) bool mask of observations);
    NaN without observations."""
    out = []
    for i in range(len(cams)):
        for j in range(i + 1, len(cams)):
            a, b = cams[i], cams[j]
            base = b.center_world - a.center_world
            entry = {"cameras": [a.name, b.name], "baseline_m": float(np.linalg.norm(base)),
                     "rotation_deg": float(rotation_angle_deg(b.R, a.R)),
                     "translation_cam_a_m": (a.R @ base).tolist()}
            if square_m:
                entry["baseline_squares"] = entry["baseline_m"] / square_m
            dy = _epipolar_dy_px(a, b, i, j, obs, used) if obs is not None else np.zeros(0)
            entry.update({"epipolar_rms_px": float(np.sqrt(np.mean(dy ** 2))) if dy.size else float("nan"),
                          "epipolar_max_px": float(np.abs(dy).max()) if dy.size else float("nan"),
                          "epipolar_points": int(dy.size)})
            out.append(entry)
    return out


def _epipolar_dy_px(a: Camera, b: Camera, i: int, j: int, obs, used: np.ndarray | None) -> np.ndarray:
    """Rectified y differences (K,) px of the corners seen by cameras i and j in the same frame."""
    m = np.ones(len(obs), bool) if used is None else used
    n_corner = int(obs.corner.max()) + 1 if len(obs) else 1
    key = obs.frame.astype(np.int64) * n_corner + obs.corner
    ka, ia = key[m & (obs.cam == i)], np.flatnonzero(m & (obs.cam == i))
    kb, ib = key[m & (obs.cam == j)], np.flatnonzero(m & (obs.cam == j))
    _, pa, pb = np.intersect1d(ka, kb, return_indices=True)
    if pa.size == 0:
        return np.zeros(0)
    rect = rectifying_rotation(a, b)
    f = 0.5 * (a.focal_px + b.focal_px)
    return rectified_y_px(a, obs.xy_px[ia[pa]], rect, f) - rectified_y_px(b, obs.xy_px[ib[pb]], rect, f)
