"""A realistic 2D detector-error model applied to projected ground truth.

Errors, per camera view and frame: Gaussian pixel noise on every joint; missed joints; gross outliers
(a joint placed 50-200 px away, as when a detector latches onto the wrong limb); whole-body left/right
swaps; and confidence scores that track the error (high for accurate joints, low-to-medium for outliers).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.body.keypoint_sets import KeypointSet


@dataclass(frozen=True)
class ErrorModel:
    """Parameters of the 2D detector-error model.

    noise_px: standard deviation of the Gaussian pixel noise per coordinate.
    missing: probability that a visible joint is not detected.
    outliers: probability that a detected joint is a gross outlier of outlier_px (min, max) px.
    swaps: probability that a whole view-frame has its left and right sides swapped.
    """

    noise_px: float = 2.0
    missing: float = 0.10
    outliers: float = 0.05
    outlier_px: tuple[float, float] = (50.0, 200.0)
    swaps: float = 0.02

    def __post_init__(self) -> None:
        for name in ("missing", "outliers", "swaps"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"ErrorModel.{name} must be a probability in [0, 1], got {v}")
        if self.noise_px < 0:
            raise ValueError(f"ErrorModel.noise_px must be >= 0, got {self.noise_px}")
        lo, hi = self.outlier_px
        if not 0 <= lo <= hi:
            raise ValueError(f"ErrorModel.outlier_px must be (min, max) with 0 <= min <= max, got {self.outlier_px}")


@dataclass(frozen=True)
class Observations2D:
    """Synthetic 2D detections with their ground truth.

    keypoints_px: (V, T, J, 3) x px, y px, score; missing joints are NaN, NaN, 0.
    true_px: (V, T, J, 2) the exact projections (NaN where the joint is outside the image or behind).
    visible: (V, T, J) bool, the joint projects inside the image.
    outlier: (V, T, J) bool, the detection is a gross outlier.
    swapped: (V, T) bool, the view-frame has left and right swapped.
    inlier: (V, T, J) bool, detected and within the Gaussian noise of the truth (neither outlier nor
      moved by a swap): the views an oracle would use.
    """

    keypoints_px: np.ndarray
    true_px: np.ndarray
    visible: np.ndarray
    outlier: np.ndarray
    swapped: np.ndarray
    inlier: np.ndarray


def observe(rig: Rig, xyz_world: np.ndarray, model: ErrorModel = ErrorModel(), seed: int | np.random.Generator = 0,
            keypoint_set: KeypointSet | None = None) -> Observations2D:
    """Project (T, J, 3) world keypoints into every camera of the rig and apply the error model.

    keypoint_set supplies the left/right pairs for swaps (no swaps without it).
    """
    rng = np.random.default_rng(seed)
    true = rig.project(xyz_world)  # (V, T, J, 2)
    V, T, J, _ = true.shape
    visible = np.isfinite(true).all(axis=-1) & np.stack([c.in_image(x) for c, x in zip(rig.cameras, true)])
    true = np.where(visible[..., None], true, np.nan)

    xy = true + rng.normal(0.0, model.noise_px, size=true.shape)
    err = np.linalg.norm(xy - true, axis=-1)
    score = 0.95 - 0.1 * err / max(model.noise_px, 1e-6) + rng.normal(0.0, 0.03, size=err.shape)

    outlier = visible & (rng.random((V, T, J)) < model.outliers)
    n_out = int(outlier.sum())
    ang = rng.uniform(0, 2 * np.pi, n_out)
    mag = rng.uniform(*model.outlier_px, n_out)
    xy[outlier] = true[outlier] + np.stack([np.cos(ang), np.sin(ang)], axis=1) * mag[:, None]
    score[outlier] = rng.uniform(0.15, 0.6, n_out)
    sizes = np.array([c.size_wh for c in rig.cameras], float)[:, None, None, :]
    xy = np.clip(xy, -0.5, sizes - 0.5)

    swapped = np.zeros((V, T), bool)
    moved = outlier.copy()
    if keypoint_set is not None and keypoint_set.lr_pairs and model.swaps > 0:
        swapped = rng.random((V, T)) < model.swaps
        perm = keypoint_set.swap_permutation()
        xy[swapped] = xy[swapped][:, perm]
        score[swapped] = score[swapped][:, perm]
        moved[swapped] = outlier[swapped][:, perm] | (perm != np.arange(J))
        visible_sw = visible.copy()
        visible_sw[swapped] = visible[swapped][:, perm]
        visible = visible & visible_sw

    detected = visible & (rng.random((V, T, J)) >= model.missing)
    kp = np.concatenate([xy, np.clip(score, 0.05, 1.0)[..., None]], axis=-1)
    kp[~detected] = (np.nan, np.nan, 0.0)
    outlier = outlier & detected
    inlier = detected & ~moved
    return Observations2D(kp, true, visible, outlier, swapped, inlier)
