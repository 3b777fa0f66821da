"""Compare a calibrated rig with a reference (ground truth or another calibration).

Used by the tests and the benchmark: the estimated rig is aligned to the reference by a similarity
transform (Umeyama) of the camera centres before centre and rotation errors are measured.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.geometry.rotations import rotation_angle_deg


def similarity_transform(src: np.ndarray, dst: np.ndarray,
                         with_scale: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares (s, R, t) with dst ~ s R src + t (Umeyama's closed form; R a proper rotation).
    src, dst: (N, 3), N >= 3 not collinear."""
    src, dst = np.asarray(src, float), np.asarray(dst, float)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3 or src.shape[0] < 3:
        raise ValueError(f"expected two (N >= 3, 3) point sets of the same shape, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    U, S, Vt = np.linalg.svd(b.T @ a / len(src))
    D = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        D[2, 2] = -1
    R = U @ D @ Vt
    s = float(np.trace(np.diag(S) @ D) / np.mean(np.sum(a ** 2, axis=1))) if with_scale else 1.0
    return s, R, mu_d - s * R @ mu_s


def camera_similarity(src_cams, dst_cams, with_scale: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
    """(s, R, t) mapping the world of cameras ``src_cams`` onto that of ``dst_cams`` (same cameras, same
    order; sequences of Camera): dst ~ s R src + t.

    Three or more cameras with centres not on one line: the similarity of the camera centres
    (similarity_transform). Two cameras (or centres on a line, which leave the roll about that line
    free): each camera also contributes the points one baseline along its own x, y, z axes, so the
    cameras' orientations fix the roll. One camera: its pose alone, scale 1.
    """
    c_src = np.stack([c.center_world for c in src_cams])
    c_dst = np.stack([c.center_world for c in dst_cams])
    if len(c_src) >= 3 and _spread_rank(c_src) >= 2 and _spread_rank(c_dst) >= 2:
        return similarity_transform(c_src, c_dst, with_scale)
    if len(c_src) == 1:
        R = dst_cams[0].R.T @ src_cams[0].R
        return 1.0, R, c_dst[0] - R @ c_src[0]

    def with_axes(cams, centres):
        length = float(np.mean(np.linalg.norm(centres - centres.mean(axis=0), axis=1))) * 2
        return np.concatenate([centres] + [centres + length * np.stack([c.R[k] for c in cams]) for k in range(3)])

    return similarity_transform(with_axes(src_cams, c_src), with_axes(dst_cams, c_dst), with_scale)


def _spread_rank(points: np.ndarray) -> int:
    """Number of directions in which ``points`` (N, 3) spread more than 1e-6 of their largest spread."""
    sv = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
    return int(np.sum(sv > 1e-6 * max(float(sv[0]), 1e-300)))


@dataclass
class RigErrors:
    """Per-camera errors of an estimated rig against a reference (after similarity alignment).

    center_mm, rotation_deg: (V,) camera centre and orientation errors. focal_pct: (V,) relative error of
    the mean focal length, percent. principal_px: (V,) principal point distance, px. scale: the
    similarity scale applied (1 = the calibration has the right scale).
    """

    center_mm: np.ndarray
    rotation_deg: np.ndarray
    focal_pct: np.ndarray
    principal_px: np.ndarray
    scale: float

    def summary(self) -> str:
        return (f"centre max {self.center_mm.max():.2f} mm, rotation max {self.rotation_deg.max():.4f} deg, "
                f"focal max {np.abs(self.focal_pct).max():.3f} %, "
                f"principal point max {self.principal_px.max():.2f} px, "
                f"scale {self.scale:.5f}")


def rig_errors(est: Rig, ref: Rig, with_scale: bool = True) -> RigErrors:
    """Errors of ``est`` against ``ref`` (same camera order; any number of cameras, camera_similarity)."""
    c_est = np.stack([c.center_world for c in est.cameras])
    c_ref = np.stack([c.center_world for c in ref.cameras])
    s, Q, T = camera_similarity(est.cameras, ref.cameras, with_scale)
    c_al = s * c_est @ Q.T + T
    center = np.linalg.norm(c_al - c_ref, axis=1) * 1000
    rot = np.array([rotation_angle_deg(ce.R @ Q.T, cr.R) for ce, cr in zip(est.cameras, ref.cameras)])
    focal = np.array([100 * (ce.focal_px / cr.focal_px - 1) for ce, cr in zip(est.cameras, ref.cameras)])
    pp = np.array([np.linalg.norm(ce.K[:2, 2] - cr.K[:2, 2]) for ce, cr in zip(est.cameras, ref.cameras)])
    return RigErrors(center, rot, focal, pp, s)
