"""The 3D stage: 2D detections of synchronized views -> one subject's 3D pose.

``Reconstructor`` is shared by the live pipeline (``process`` per frame set) and offline runs
(``process_sequence`` over a whole recording, vectorized), so both give the same numbers.
Steps: choose the subject's detection in each view -> robust triangulation -> per-joint quality.
"""
from __future__ import annotations

import numpy as np

from .camera import Rig
from .config import TriangulationConfig
from .skeleton import KeypointSet
from .triangulate import Triangulated, triangulate
from .types import Keypoints3D, Pose3DFrame


def select_by_score(keypoints2d: np.ndarray) -> np.ndarray:
    """Per view, the detection with the highest summed score. (V, P, J, 3) -> (V,) int (-1: none)."""
    score = np.nan_to_num(keypoints2d[..., 2]).sum(axis=-1)  # (V, P)
    best = np.argmax(score, axis=-1)
    return np.where(score.max(axis=-1) > 0, best, -1)


def gather_people(keypoints2d: np.ndarray, person_per_view: np.ndarray) -> np.ndarray:
    """(V, P, J, 3), (V,) -> (V, J, 3): the chosen detection of each view (missing where -1)."""
    V, P, J, _ = keypoints2d.shape
    out = keypoints2d[np.arange(V), np.clip(person_per_view, 0, max(P - 1, 0))].copy()
    out[person_per_view < 0] = (np.nan, np.nan, 0.0)
    return out


def confidence_of(keypoints2d: np.ndarray, tri: Triangulated) -> np.ndarray:
    """Mean 2D score of the views each 3D joint used. (V, ..., J, 3), inliers (V, ..., J) -> (..., J)."""
    score = np.nan_to_num(keypoints2d[..., 2]) * tri.inliers
    return score.sum(axis=0) / np.maximum(tri.n_views, 1)


class Reconstructor:
    """2D (V, P, J, 3) per frame set -> Pose3DFrame. Holds per-subject state between calls."""

    def __init__(self, rig: Rig, keypoint_set: KeypointSet, config: TriangulationConfig = TriangulationConfig()):
        self.rig = rig
        self.keypoint_set = keypoint_set
        self.config = config

    def _triangulate(self, kp: np.ndarray) -> Triangulated:
        c = self.config
        return triangulate(self.rig, kp, robust=c.robust, threshold_px=c.threshold_px, min_views=c.min_views,
                           min_score=c.min_score, refine_iterations=c.refine_iterations)

    def process(self, keypoints2d: np.ndarray, time_s: float) -> Pose3DFrame:
        """One frame set. keypoints2d: (V, P, J, 3) (P may be 1). Never raises for missing data."""
        kp = np.asarray(keypoints2d, dtype=float)
        if kp.ndim == 3:
            kp = kp[:, None]
        chosen = select_by_score(kp)
        views = gather_people(kp, chosen)
        tri = self._triangulate(views)
        return Pose3DFrame(tri.xyz_world, confidence_of(views, tri), tri.reproj_err_px, tri.n_views, chosen,
                           float(time_s))

    def process_sequence(self, keypoints2d: np.ndarray, times_s: np.ndarray, fps: float) -> Keypoints3D:
        """A whole sequence at once. keypoints2d: (V, T, J, 3) (one subject per view) or (V, T, P, J, 3)."""
        kp = np.asarray(keypoints2d, dtype=float)
        if kp.ndim == 5:
            V, T = kp.shape[:2]
            chosen = np.stack([select_by_score(kp[:, t]) for t in range(T)], axis=1)  # (V, T)
            kp = np.stack([gather_people(kp[:, t], chosen[:, t]) for t in range(T)], axis=1)
        tri = self._triangulate(kp)
        return Keypoints3D(tri.xyz_world, confidence_of(kp, tri), tri.reproj_err_px, tri.n_views,
                           np.asarray(times_s, float), fps, self.keypoint_set)
