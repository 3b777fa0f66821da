"""Camera pairs of a calibrated rig: baseline, relative rotation and the epipolar error.

For a stereo pair (the first rig most people build) these are the numbers to check: the baseline (m,
and in board squares), the angle between the two cameras, and the epipolar error: how far (px, lens
distortion removed) each image of a board corner lies from the epipolar line of its image in the other
camera, averaged over both directions. For a stereo pair it is the vertical disparity after
rectification (the rectified epipolar error); unlike that, it holds for cameras facing each other too. A
perfect rig and perfect corners give 0 px; it needs no board model, only the corners seen by both
cameras in the same frame.
"""
from __future__ import annotations

import numpy as np

from capture3d.geometry.camera import Camera
from capture3d.geometry.rotations import rotation_angle_deg, skew


def pair_summary(cams: list[Camera], obs=None, used: np.ndarray | None = None,
                 square_m: float | None = None) -> list[dict]:
    """One entry per camera pair (i < j): {"cameras": [a, b], "baseline_m", "baseline_squares" (when
    square_m is given), "rotation_deg" (angle of b's orientation relative to a's), "translation_cam_a_m"
    (b's centre in a's camera frame, m), "epipolar_rms_px",
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
            d = _pair_epipolar_px(a, b, i, j, obs, used) if obs is not None else np.zeros(0)
            entry.update({"epipolar_rms_px": float(np.sqrt(np.mean(d ** 2))) if d.size else float("nan"),
                          "epipolar_max_px": float(d.max()) if d.size else float("nan"),
                          "epipolar_points": int(d.size)})
            out.append(entry)
    return out


def epipolar_distance_px(cam_a: Camera, cam_b: Camera, xy_a_px: np.ndarray, xy_b_px: np.ndarray) -> np.ndarray:
    """(K,) symmetric epipolar distance (px) of the corresponding points xy_a_px, xy_b_px (K, 2): the mean of
    each point's distance to the epipolar line of the other, in undistorted pixels (normalized distance
    times that camera's focal length)."""
    R = cam_b.R @ cam_a.R.T
    E = skew(cam_b.tvec - R @ cam_a.tvec) @ R  # x_b^T E x_a = 0 for normalized homogeneous points
    xa = np.concatenate([cam_a.undistort(xy_a_px), np.ones((len(xy_a_px), 1))], axis=1)
    xb = np.concatenate([cam_b.undistort(xy_b_px), np.ones((len(xy_b_px), 1))], axis=1)
    la, lb = xb @ E, xa @ E.T  # line in a of each b point, line in b of each a point
    r = np.sum(xb * lb, axis=1)
    d_b = np.abs(r) / np.hypot(lb[:, 0], lb[:, 1]) * cam_b.focal_px
    d_a = np.abs(r) / np.hypot(la[:, 0], la[:, 1]) * cam_a.focal_px
    return 0.5 * (d_a + d_b)


def _pair_epipolar_px(a: Camera, b: Camera, i: int, j: int, obs, used: np.ndarray | None) -> np.ndarray:
    """Epipolar distances (K,) px of the corners seen by cameras i and j in the same frame."""
    m = np.ones(len(obs), bool) if used is None else used
    n_corner = int(obs.corner.max()) + 1 if len(obs) else 1
    key = obs.frame.astype(np.int64) * n_corner + obs.corner
    ka, ia = key[m & (obs.cam == i)], np.flatnonzero(m & (obs.cam == i))
    kb, ib = key[m & (obs.cam == j)], np.flatnonzero(m & (obs.cam == j))
    _, pa, pb = np.intersect1d(ka, kb, return_indices=True)
    if pa.size == 0:
        return np.zeros(0)
    return epipolar_distance_px(a, b, obs.xy_px[ia[pa]], obs.xy_px[ib[pb]])
