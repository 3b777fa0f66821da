"""Synthetic camera rigs: N cameras around a capture volume, looking at its centre."""
from __future__ import annotations

import cv2
import numpy as np

from capture3d.geometry.camera import Camera, Rig


def look_at(center_world: np.ndarray, target_world: np.ndarray, roll_rad: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """World->camera (rvec, tvec) of an OpenCV camera at ``center_world`` looking at ``target_world``.

    World Z is up; the camera's x axis is horizontal (right), y points down, z forward.
    """
    c = np.asarray(center_world, float)
    z = np.asarray(target_world, float) - c
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    if roll_rad:
        cr, sr = np.cos(roll_rad), np.sin(roll_rad)
        R = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]]) @ R
    rvec, _ = cv2.Rodrigues(R)
    return rvec.ravel(), -R @ c


def make_rig(n_cameras: int = 4, size_wh: tuple[int, int] = (1920, 1080), radius_m: float = 4.5,
             target_world: tuple[float, float, float] = (0.0, 0.0, 1.0), hfov_deg: float = 62.0,
             distortion: bool = True, seed: int = 0) -> Rig:
    """N cameras (2-16) spread around the origin on a circle, at alternating heights, looking at target.

    Intrinsics vary per camera like a real rig: focal length from ``hfov_deg`` +- 5%, principal point
    within +-15 px of the centre, radial distortion k1 in [-0.25, -0.05], small k2 and tangential terms.
    Camera names are cam1..camN.
    """
    if not 2 <= n_cameras <= 16:
        raise ValueError(f"n_cameras must be 2..16, got {n_cameras}")
    rng = np.random.default_rng(seed)
    w, h = size_wh
    cams = []
    for i in range(n_cameras):
        az = 2 * np.pi * i / n_cameras + rng.uniform(-0.15, 0.15) + 0.3
        height = (1.2, 2.6, 1.8, 3.0)[i % 4] + rng.uniform(-0.1, 0.1)
        r = radius_m * rng.uniform(0.9, 1.1)
        center = np.array([r * np.cos(az), r * np.sin(az), height])
        tgt = np.asarray(target_world, float) + rng.uniform(-0.2, 0.2, 3) * [1, 1, 0.5]
        rvec, tvec = look_at(center, tgt, roll_rad=rng.uniform(-0.03, 0.03))
        f = 0.5 * w / np.tan(np.radians(hfov_deg) / 2) * rng.uniform(0.95, 1.05)
        K = np.array([[f * rng.uniform(0.998, 1.002), 0, (w - 1) / 2 + rng.uniform(-15, 15)],
                      [0, f, (h - 1) / 2 + rng.uniform(-15, 15)], [0, 0, 1]])
        if distortion:
            dist = np.array([rng.uniform(-0.25, -0.05), rng.uniform(-0.02, 0.08), rng.uniform(-1e-3, 1e-3),
                             rng.uniform(-1e-3, 1e-3), 0.0])
        else:
            dist = np.zeros(5)
        cams.append(Camera(f"cam{i + 1}", (w, h), K, dist, rvec, tvec))
    return Rig(tuple(cams), {"source": "synthetic", "seed": seed})
