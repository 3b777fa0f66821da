"""Rotations, vectorized: rotation vectors (Rodrigues) and matrices, cross-product matrices, angles between
rotations, frames from directions, shortest arcs and Euler angles (BVH channels).

Rotations are (..., 3, 3) float matrices acting on column vectors (``v_parent = R @ v_child``).
Directions are (..., 3). Nothing here loops over frames; callers loop over joints only. Used by the
cameras (extrinsics), calibration (bundle adjustment updates R <- R exp([d]x)), the rig converters and the
skeleton exports.
"""
from __future__ import annotations

import cv2
import numpy as np

_EPS = 1e-9


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of (..., 3) arrays (np.cross without its per-call overhead)."""
    a1, a2, a3 = a[..., 0], a[..., 1], a[..., 2]
    b1, b2, b3 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], axis=-1)


def normalize(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 3) -> unit vectors (..., 3) and (...,) bool ``ok`` (finite and longer than 1e-9).

    Where not ok the unit vector is (0, 0, 0)."""
    v = np.asarray(v, dtype=float)
    n = np.sqrt(np.sum(v * v, axis=-1))
    ok = np.isfinite(n) & (n > _EPS)
    out = np.where(ok[..., None], v / np.where(ok, n, 1.0)[..., None], 0.0)
    return out, ok


def frame_from_two(aim: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal frames (..., 3, 3) whose columns are e1 = aim, e2 = ref made orthogonal to aim,
    e3 = e1 x e2. Returns the frames and (...,) bool ``ok`` (False where aim and ref are parallel,
    zero or not finite; the frame is then the identity)."""
    e1, ok1 = normalize(aim)
    ref_u, okr = normalize(ref)
    c = cross(e1, ref_u)
    # |aim x ref| must be a noticeable fraction of |ref| (not nearly parallel)
    sin_ok = np.sum(c * c, axis=-1) > 1e-8
    e3, ok3 = normalize(c)
    e2 = cross(e3, e1)
    ok = ok1 & ok3 & okr & sin_ok
    F = np.stack([e1, e2, e3], axis=-1)
    F[~ok] = np.eye(3)
    return F, ok


def rotation_between_frames(aim_t: np.ndarray, ref_t: np.ndarray, aim_rest: np.ndarray,
                            ref_rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation (..., 3, 3) that takes the rest pair (aim_rest, ref_rest) onto (aim_t, ref_t): it maps
    aim_rest exactly onto the direction of aim_t and the rest (aim, ref) plane onto the current one.
    Returns the rotations and (...,) bool ok."""
    Ft, okt = frame_from_two(aim_t, ref_t)
    Fr, okr = frame_from_two(aim_rest, ref_rest)
    return Ft @ np.swapaxes(Fr, -1, -2), okt & okr


def skew(v: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) cross-product matrices [v]x (skew(a) @ b == cross(a, b))."""
    v = np.asarray(v, dtype=float)
    K = np.zeros(v.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2] = -v[..., 2], v[..., 1]
    K[..., 1, 0], K[..., 1, 2] = v[..., 2], -v[..., 0]
    K[..., 2, 0], K[..., 2, 1] = -v[..., 1], v[..., 0]
    return K


def rodrigues(rvec: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors -> (..., 3, 3) rotation matrices (exp of [rvec]x)."""
    r = np.asarray(rvec, float)
    th = np.linalg.norm(r, axis=-1)[..., None, None]
    K = skew(r)
    small = th < 1e-12
    th_safe = np.where(small, 1.0, th)
    a = np.where(small, 1.0, np.sin(th_safe) / th_safe)
    b = np.where(small, 0.5, (1 - np.cos(th_safe)) / th_safe ** 2)
    eye = np.broadcast_to(np.eye(3), K.shape)
    return eye + a * K + b * (K @ K)


def rotvec(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) rotation vectors (robust near 0 and pi: OpenCV's Rodrigues)."""
    R = np.asarray(R, float)
    flat = R.reshape(-1, 3, 3)
    out = np.zeros((flat.shape[0], 3))
    for i, m in enumerate(flat):
        out[i] = cv2.Rodrigues(m)[0].ravel()
    return out.reshape(R.shape[:-2] + (3,))


def rotation_angle_deg(R_a: np.ndarray, R_b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) x2 -> (...,) angle of R_a R_b^T in degrees."""
    M = np.asarray(R_a) @ np.swapaxes(np.asarray(R_b), -1, -2)
    c = np.clip((np.trace(M, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0)
    return np.degrees(np.arccos(c))


def shortest_arc(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smallest rotation (..., 3, 3) taking direction u onto direction v (no twist about them).

    u, v: (..., 3), need not be unit. For opposite directions the rotation is half a turn about an
    axis perpendicular to u. Returns the rotations and (...,) bool ok (False where u or v is zero or
    not finite; the rotation is then the identity)."""
    u, oku = normalize(u)
    v, okv = normalize(v)
    u, v = np.broadcast_arrays(u, v)
    ok = np.broadcast_to(oku & okv, u.shape[:-1])
    c = np.sum(u * v, axis=-1)
    opposite = ok & (c < -1.0 + 1e-9)
    safe = np.where(opposite | ~ok, 1.0, 1.0 + c)
    K = skew(cross(u, v))
    R = np.eye(3) + K + (K @ K) / safe[..., None, None]          # Rodrigues with sin/cos from u, v
    if np.any(opposite):
        k = np.argmin(np.abs(u), axis=-1)
        n, _ = normalize(cross(u, np.eye(3)[k]))
        half_turn = 2.0 * n[..., :, None] * n[..., None, :] - np.eye(3)
        R = np.where(opposite[..., None, None], half_turn, R)
    return np.where(ok[..., None, None], R, np.eye(3)), np.array(ok)


def check_channel_order(order: str) -> str:
    """Validate a rotation channel order such as "ZXY" (a permutation of X, Y, Z); returns it upper-case."""
    o = str(order).upper()
    if sorted(o) != ["X", "Y", "Z"]:
        raise ValueError(f"rotation channel order must be a permutation of XYZ (e.g. ZXY), found {order!r}")
    return o


def _axes(order: str) -> tuple[int, int, int, float]:
    i, j, k = ("XYZ".index(a) for a in order)
    return i, j, k, (1.0 if (i, j, k) in ((0, 1, 2), (1, 2, 0), (2, 0, 1)) else -1.0)


def matrices_to_euler_deg(R: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) angles in degrees for the BVH channel ``order`` (e.g. "ZXY":
    R = Rz(a0) @ Rx(a1) @ Ry(a2), i.e. the channels compose in the order they are listed). Angles are
    in (-180, 180], the middle one in [-90, 90]; at gimbal lock the last is 0. Unwrap over time with
    ``np.unwrap(..., period=360)``."""
    R = np.asarray(R, dtype=float)
    i, j, k, s = _axes(check_channel_order(order))
    sb = np.clip(s * R[..., i, k], -1.0, 1.0)
    b = np.arcsin(sb)
    a = np.arctan2(-s * R[..., j, k], R[..., k, k])
    c = np.arctan2(-s * R[..., i, j], R[..., i, i])
    lock = np.abs(sb) > 1.0 - 1e-12
    if np.any(lock):
        a = np.where(lock, np.arctan2(s * R[..., k, j], R[..., j, j]), a)
        c = np.where(lock, 0.0, c)
    return np.degrees(np.stack([a, b, c], axis=-1))


def elementary_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """(...,) angles -> (..., 3, 3) rotations about the X, Y or Z axis."""
    ang = np.asarray(angle_rad, dtype=float)
    cos, sin = np.cos(ang), np.sin(ang)
    i = "XYZ".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    R = np.zeros(ang.shape + (3, 3))
    R[..., i, i] = 1.0
    R[..., j, j] = cos
    R[..., k, k] = cos
    R[..., j, k] = -sin
    R[..., k, j] = sin
    return R


def euler_deg_to_matrices(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """(T, 3) angles in degrees, channel ``order`` as listed in the file -> (T, 3, 3) rotations
    R = R_order[0](a0) @ R_order[1](a1) @ R_order[2](a2). Orders of 1 or 2 axes are accepted too."""
    a = np.radians(np.asarray(angles_deg, dtype=float))
    R = np.broadcast_to(np.eye(3), a.shape[:-1] + (3, 3))
    for n, axis in enumerate(order.upper()):
        R = R @ elementary_rotation(axis, a[..., n])
    return np.array(R)
