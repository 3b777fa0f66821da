"""Convert keypoints between sets by joint name.

A joint of the target set is taken from the source joint of the same name, else derived from the
source when a rule says how (the neck as the shoulders' centre, the hip centre as the hips' centre,
MediaPipe's foot index as the big toe, a hand's wrist as the body's wrist). A joint the source cannot
supply is missing, never invented.
"""
from __future__ import annotations

import numpy as np

from capture3d.body.keypoint_set import KeypointSet

#: target joint -> source joints averaged to make it, tried when the source lacks the joint itself.
DERIVED: dict[str, tuple[str, ...]] = {
    "Neck": ("LShoulder", "RShoulder"), "MidHip": ("LHip", "RHip"),
    "LBigToe": ("LFootIndex",), "RBigToe": ("RFootIndex",), "LFootIndex": ("LBigToe",), "RFootIndex": ("RBigToe",),
    "LHand_Wrist": ("LWrist",), "RHand_Wrist": ("RWrist",), "LWrist": ("LHand_Wrist",), "RWrist": ("RHand_Wrist",),
}


def conversion_weights(src: KeypointSet, dst: KeypointSet) -> np.ndarray:
    """(J_dst, J_src) averaging weights; a row of zeros is a joint the source cannot supply."""
    idx = {n: i for i, n in enumerate(src.names)}
    w = np.zeros((dst.n_joints, src.n_joints))
    for j, name in enumerate(dst.names):
        sources = (name,) if name in idx else DERIVED.get(name, ())
        if sources and all(s in idx for s in sources):
            for s in sources:
                w[j, idx[s]] = 1.0 / len(sources)
    return w


def convert_keypoints(keypoints: np.ndarray, src: KeypointSet, dst: KeypointSet, scored: bool = True) -> np.ndarray:
    """Map keypoints from ``src`` to ``dst`` by name.

    keypoints: (..., J_src, C). With ``scored`` the last channel is a score: a composite joint gets
    the smallest score of its sources and a missing joint gets 0; the other channels are averaged.
    A joint is missing (NaN, score 0) when the source lacks it or any of its sources is missing
    (NaN). Returns (..., J_dst, C).
    """
    kp = np.asarray(keypoints, dtype=float)
    if kp.ndim < 2 or kp.shape[-2] != src.n_joints:
        raise ValueError(f"expected (..., {src.n_joints}, C) {src.name} keypoints, got shape {kp.shape}")
    w = conversion_weights(src, dst)
    n_val = kp.shape[-1] - 1 if scored else kp.shape[-1]
    vals = kp[..., :n_val]
    nan_src = ~np.isfinite(vals).all(axis=-1)  # (..., J_src)
    out = np.empty(kp.shape[:-2] + (dst.n_joints, kp.shape[-1]))
    out[..., :n_val] = np.einsum("jk,...kc->...jc", w, np.where(nan_src[..., None], 0.0, vals))
    used = w > 0
    missing = ~used.any(axis=1) | (nan_src[..., None, :] & used).any(axis=-1)  # (..., J_dst)
    if scored:
        score = np.where(used, np.nan_to_num(kp[..., None, :, -1]), np.inf).min(axis=-1)
        out[..., -1] = np.where(missing, 0.0, score)
    out[..., :n_val][missing] = np.nan
    return out


def coverage(src: KeypointSet, dst: KeypointSet) -> tuple[str, ...]:
    """Names of the ``dst`` joints that ``src`` cannot supply."""
    w = conversion_weights(src, dst)
    return tuple(n for n, row in zip(dst.names, w) if not row.any())
