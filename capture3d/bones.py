"""Bone lengths of a skeleton: per-frame measurement and a robust per-subject estimate.

Shapes: xyz (T, J, 3) metres; B bones as listed by ``KeypointSet.bones`` (or a tree's parent links).
"""
from __future__ import annotations

import numpy as np

from .skeleton import KeypointSet


def tree_bones(kps: KeypointSet) -> np.ndarray:
    """(B, 2) int (parent, child) pairs of the keypoint tree (every joint with a parent)."""
    return np.array([(p, j) for j, p in enumerate(kps.parents) if p >= 0], dtype=np.int64).reshape(-1, 2)


def bone_lengths(xyz: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """(T, J, 3), (B, 2) -> (T, B) lengths in the units of xyz; NaN where an end is missing."""
    xyz = np.asarray(xyz, dtype=float)
    b = np.asarray(bones, dtype=np.int64)
    return np.linalg.norm(xyz[..., b[:, 1], :] - xyz[..., b[:, 0], :], axis=-1)


def estimate_bone_lengths(xyz: np.ndarray, bones: np.ndarray, min_frames: int = 5) -> np.ndarray:
    """Robust per-subject bone lengths: the median over frames, after discarding lengths more than
    3 scaled MADs from the first median (outlier frames). (B,) — NaN for a bone seen in fewer than
    ``min_frames`` frames."""
    L = bone_lengths(xyz, bones)
    with np.errstate(invalid="ignore"):
        med = np.nanmedian(L, axis=0) if L.size else np.full(L.shape[1:], np.nan)
        mad = 1.4826 * np.nanmedian(np.abs(L - med), axis=0)
        keep = np.abs(L - med) <= 3 * np.maximum(mad, 1e-3 * np.nan_to_num(med, nan=1.0))
        L = np.where(keep, L, np.nan)
        out = np.nanmedian(L, axis=0)
    out[np.isfinite(L).sum(axis=0) < min_frames] = np.nan
    return out
