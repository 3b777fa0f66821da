"""Ground-truth-free quality measures of a 3D result against its own 2D detections.

Real recordings have no ground truth; these measure what can be measured (the real-data benchmark and
tests use them):

- ``view_errors_px``: the 3D output projected into views, distance to each view's detection.
- ``held_out_errors_px``: solve without one view, project into it, compare with its detection (a
  better 3D chain predicts a view it did not see better).
- ``fast_fraction``: joint-frames moving faster than a speed no body joint reaches.
- ``side_disagreements``: frames where the output's left/right labels contradict most of the views.

Shapes: detections (V, T, J, 3) x px, y px, score (one person per view and frame); xyz (T, J, 3) metres.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from capture3d.geometry.camera import Rig


def view_errors_px(rig: Rig, xyz_world: np.ndarray, detections: np.ndarray, views=None,
                   min_score: float = 0.3) -> np.ndarray:
    """(len(views), T, J) px distance of the projected output to the detections with score >= min_score
    (NaN where either is missing). views: camera indices (default: all)."""
    views = range(len(rig)) if views is None else views
    out = []
    for v in views:
        e = np.linalg.norm(rig.cameras[v].project(xyz_world) - detections[v, ..., :2], axis=-1)
        out.append(np.where(detections[v, ..., 2] >= min_score, e, np.nan))
    return np.stack(out)


def held_out_errors_px(rig: Rig, keypoints2d: np.ndarray, detections: np.ndarray,
                       solve: Callable[[np.ndarray], np.ndarray], min_score: float = 0.3) -> np.ndarray:
    """(V, T, J) px: for each view v, ``solve`` the input with view v blanked (missing) and compare the
    result's projection into v with v's own detection.

    keypoints2d: the solver's input (V, T, ...); detections: (V, T, J, 3) the reference per view;
    solve: (V, T, ..., 3) keypoints -> (T, J, 3) metres."""
    out = []
    for v in range(len(rig)):
        kp = np.array(keypoints2d, dtype=float)
        kp[v, ..., :2] = np.nan
        kp[v, ..., 2] = 0.0
        out.append(view_errors_px(rig, solve(kp), detections, [v], min_score)[0])
    return np.stack(out)


def fast_fraction(xyz_world: np.ndarray, fps: float, limit_mps: float = 10.0) -> float:
    """Fraction of joint-frames (consecutive frames both present) whose speed exceeds limit_mps."""
    v = np.linalg.norm(np.diff(np.asarray(xyz_world, float), axis=0), axis=-1) * fps
    ok = np.isfinite(v)
    return float((v[ok] > limit_mps).mean()) if ok.any() else float("nan")


def side_disagreements(rig: Rig, xyz_world: np.ndarray, detections: np.ndarray, lr_pairs,
                       min_score: float = 0.3) -> np.ndarray:
    """(T, K) bool: the output's pair k is labelled against most of the views that see both its joints,
    i.e. in more than half of them the projected left joint is nearer the detected right one and the
    projected right joint nearer the detected left one."""
    pairs = np.asarray(lr_pairs, dtype=np.int64).reshape(-1, 2)
    a, b = pairs[:, 0], pairs[:, 1]
    against = np.zeros(xyz_world.shape[:1] + (len(pairs),), np.int64)
    seen_by = np.zeros_like(against)
    for v, cam in enumerate(rig.cameras):
        proj = cam.project(xyz_world)                                        # (T, J, 2)
        det = detections[v]
        seen = (det[..., a, 2] >= min_score) & (det[..., b, 2] >= min_score) & \
            np.isfinite(proj[..., a, 0]) & np.isfinite(proj[..., b, 0])       # (T, K)
        d = lambda i, j: np.linalg.norm(proj[..., i, :] - det[..., j, :2], axis=-1)  # noqa: E731
        with np.errstate(invalid="ignore"):
            crossed = (d(a, b) < d(a, a)) & (d(b, a) < d(b, b))
        against += seen & crossed
        seen_by += seen
    return 2 * against > seen_by
