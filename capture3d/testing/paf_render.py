"""Ground-truth OpenPose maps rendered from known 2D skeletons, for tests and benchmarks of
``capture3d.detect.paf`` (part confidence maps as OpenPose is trained on, and part affinity fields).

Coordinates are map pixels, pixel centres at integers, x = column (right), y = row (down); maps are
indexed [channel, row, col]. A PAF limb (a, b) stores the unit vector from joint a to joint b, its x
component in channel ``channels[k][0]`` and its y component in ``channels[k][1]``.
"""
from __future__ import annotations

import numpy as np


def render_heatmaps(people_xy: np.ndarray, size_hw: tuple[int, int], sigma_px: float = 2.0) -> np.ndarray:
    """Ground-truth part confidence maps as used to train OpenPose.

    people_xy: (P, J, 2) map px (NaN = absent). Returns (J + 1, H, W) float32: per joint the max over people
    of exp(-d^2 / (2 sigma^2)), then the background channel 1 - max over joints.
    """
    H, W = size_hw
    P, J, _ = people_xy.shape
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    maps = np.zeros((J + 1, H, W), np.float32)
    for p in range(P):
        for j in range(J):
            x, y = people_xy[p, j]
            if np.isfinite(x) and np.isfinite(y):
                g = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma_px ** 2))
                np.maximum(maps[j], g, out=maps[j])
    maps[J] = 1.0 - maps[:J].max(axis=0)
    return maps


def render_pafs(people_xy: np.ndarray, pairs, channels, size_hw: tuple[int, int], width_px: float = 1.5) -> np.ndarray:
    """Ground-truth part affinity fields: the limb's unit vector on pixels within width_px of the segment,
    averaged where limbs of several people overlap. Returns (2L, H, W) float32."""
    H, W = size_hw
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    n_ch = 2 * len(pairs)
    pafs = np.zeros((n_ch, H, W), np.float32)
    for (a, b), (cx, cy) in zip(pairs, channels):
        acc = np.zeros((2, H, W), np.float32)
        cnt = np.zeros((H, W), np.float32)
        for person in people_xy:
            pa, pb = person[a], person[b]
            if not (np.isfinite(pa).all() and np.isfinite(pb).all()):
                continue
            d = pb - pa
            length = float(np.linalg.norm(d))
            if length < 1e-6:
                continue
            u = d / length
            rx, ry = xs - pa[0], ys - pa[1]
            along = rx * u[0] + ry * u[1]
            across = np.abs(rx * u[1] - ry * u[0])
            on = (along >= -width_px) & (along <= length + width_px) & (across <= width_px)
            acc[0][on] += u[0]
            acc[1][on] += u[1]
            cnt[on] += 1
        nz = cnt > 0
        pafs[cx][nz] = acc[0][nz] / cnt[nz]
        pafs[cy][nz] = acc[1][nz] / cnt[nz]
    return pafs
