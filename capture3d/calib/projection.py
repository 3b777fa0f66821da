"""Vectorized lens models in numpy (OpenCV conventions).

Lens models (``model`` names used throughout calib/):

- "standard": 5 coefficients k1, k2, p1, p2, k3 (OpenCV's default; 4 values are accepted, k3 = 0).
- "rational": 8 coefficients k1, k2, p1, p2, k3, k4, k5, k6 (CALIB_RATIONAL_MODEL).
- "fisheye": 4 coefficients k1..k4 of OpenCV's equidistant fisheye model.

``distort(xy_norm, dist, fisheye)`` maps undistorted normalized coordinates (x/z, y/z) to distorted
normalized coordinates; pixels are then ``u = fx xd + cx``, ``v = fy yd + cy`` (zero skew).
"""
from __future__ import annotations

import numpy as np

from capture3d.errors import CalibrationError
from capture3d.geometry.lens import distort as lens_distort
from capture3d.geometry.lens import lens_coefficients

MODELS = {"standard": 5, "rational": 8, "fisheye": 4}


def model_of(dist: np.ndarray, fisheye: bool) -> str:
    """Lens model name of a distortion vector (4 or 5 -> standard, 8 -> rational)."""
    if fisheye:
        return "fisheye"
    n = np.asarray(dist).size
    if n in (4, 5):
        return "standard"
    if n == 8:
        return "rational"
    raise CalibrationError(f"distortion with {n} coefficients (thin-prism / tilted models) is not supported by the "
                           f"calibration solvers; expected 4, 5 (standard), 8 (rational) or 4 fisheye")


def pad_dist(dist: np.ndarray, model: str) -> np.ndarray:
    """Distortion vector with exactly MODELS[model] values (4 -> 5 with k3 = 0)."""
    d = np.asarray(dist, float).ravel()
    n = MODELS[model]
    out = np.zeros(n)
    out[:min(n, d.size)] = d[:n]
    return out


def distort(xy_norm: np.ndarray, dist: np.ndarray, fisheye: bool = False) -> np.ndarray:
    """Apply lens distortion.

    xy_norm: (M, 2) undistorted normalized coordinates. dist: (n,) coefficients (the pinhole models are
    capture3d.geometry.lens's, shared with the cameras). Returns (M, 2) distorted normalized coordinates.
    """
    x = xy_norm[:, 0]
    y = xy_norm[:, 1]
    d = np.asarray(dist, float)
    if fisheye:
        r = np.sqrt(x * x + y * y)
        th = np.arctan(r)
        t2 = th * th
        thd = th * (1 + t2 * (d[0] + t2 * (d[1] + t2 * (d[2] + t2 * d[3]))))
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(r > 1e-12, thd / np.where(r > 1e-12, r, 1.0), 1.0)
        return np.stack([x * s, y * s], axis=1)
    k = lens_coefficients(d)
    if k is None:
        model_of(d, fisheye)  # raises: thin-prism / tilted models are not supported here
    xd, yd = lens_distort(x, y, k)
    return np.stack([xd, yd], axis=1)


def project_cam(xyz_cam: np.ndarray, K: np.ndarray, dist: np.ndarray, fisheye: bool = False) -> np.ndarray:
    """(M, 3) camera-frame points -> (M, 2) px with one camera's K (3, 3) and distortion."""
    xy = xyz_cam[:, :2] / xyz_cam[:, 2:3]
    xyd = distort(xy, dist, fisheye)
    return np.stack([K[0, 0] * xyd[:, 0] + K[0, 1] * xyd[:, 1] + K[0, 2], K[1, 1] * xyd[:, 1] + K[1, 2]], axis=1)
