"""Bone lengths of a skeleton: per-frame measurement and a robust per-subject estimate.

Shapes: xyz (T, J, 3) metres; B bones as listed by ``KeypointSet.bones`` (or a tree's parent links).
"""
from __future__ import annotations

import numpy as np

from capture3d.body.keypoint_sets import KeypointSet
from capture3d.nanstats import quiet_nan_warnings


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
    with np.errstate(invalid="ignore"), quiet_nan_warnings():
        med = np.nanmedian(L, axis=0) if L.size else np.full(L.shape[1:], np.nan)
        mad = 1.4826 * np.nanmedian(np.abs(L - med), axis=0)
        keep = np.abs(L - med) <= 3 * np.maximum(mad, 1e-3 * np.nan_to_num(med, nan=1.0))
        L = np.where(keep, L, np.nan)
        out = np.nanmedian(L, axis=0)
    out[np.isfinite(L).sum(axis=0) < min_frames] = np.nan
    return out


def relative_scale(xyz: np.ndarray, bones: np.ndarray, lengths: np.ndarray, min_bones: int = 4) -> float:
    """Body scale of one pose (J, 3) relative to reference bone lengths (B,): the sum of its bone lengths
    over the sum of the reference lengths of the same bones, minus 1 (0.05: 5% larger). A cheap
    body-size signature to tell people apart; NaN when fewer than ``min_bones`` bones are comparable."""
    L = bone_lengths(xyz, bones)
    ok = np.isfinite(L) & np.isfinite(lengths)
    if ok.sum() < min_bones:
        return float("nan")
    return float(L[ok].sum() / lengths[ok].sum() - 1.0)


class RunningBoneLengths:
    """Causal robust bone-length estimate from the last ``window`` poses (live use).

    add(xyz (J, 3)) after each frame; ``lengths`` (B,) is ``estimate_bone_lengths`` of the window,
    refreshed every ``update_every`` added poses (NaN until ``min_frames`` poses have a bone).
    Deterministic: the same poses in the same order give the same lengths.
    """

    def __init__(self, bones: np.ndarray, window: int = 600, min_frames: int = 15, update_every: int = 15):
        self.bones = np.asarray(bones, dtype=np.int64).reshape(-1, 2)
        self.window = max(int(window), 1)
        self.min_frames = int(min_frames)
        self.update_every = max(int(update_every), 1)
        self.reset()

    def reset(self) -> None:
        self._buf = np.full((self.window, len(self.bones)), np.nan)
        self._n = 0
        self.lengths = np.full(len(self.bones), np.nan)

    def add(self, xyz: np.ndarray) -> None:
        L = bone_lengths(xyz, self.bones)
        if not np.isfinite(L).any():
            return
        self._buf[self._n % self.window] = L
        self._n += 1
        if self._n % self.update_every == 0 or self._n == self.min_frames:
            rows = self._buf[:min(self._n, self.window)]
            self.lengths = _median_lengths(rows, self.min_frames)


class IncrementalBoneLengths:
    """Causal robust bone-length estimate at a constant small cost per pose (live use).

    Each bone's length starts as the median of its first ``min_frames`` measurements; after that every
    measurement moves it by ``step_m`` towards itself (a recursive median: outliers pull no harder than
    good values, and the estimate changes by at most ``step_m`` per frame, so it never makes a pose jump).
    add(xyz (J, 3)); ``lengths`` (B,) metres, NaN for a bone not yet seen ``min_frames`` times.
    Deterministic: the same poses in the same order give the same lengths.
    """

    def __init__(self, bones: np.ndarray, min_frames: int = 30, step_m: float = 1e-4):
        self.bones = np.asarray(bones, dtype=np.int64).reshape(-1, 2)
        self.min_frames = max(int(min_frames), 1)
        self.step_m = float(step_m)
        self.reset()

    def reset(self) -> None:
        B = len(self.bones)
        self._first = np.full((self.min_frames, B), np.nan)
        self._count = np.zeros(B, np.int64)
        self.lengths = np.full(B, np.nan)

    def add(self, xyz: np.ndarray) -> None:
        L = bone_lengths(xyz, self.bones)
        seen = np.isfinite(L)
        known = seen & (self._count >= self.min_frames)
        self.lengths = np.where(known, self.lengths + self.step_m * np.sign(L - self.lengths), self.lengths)
        warm = np.flatnonzero(seen & (self._count < self.min_frames))
        if warm.size:
            self._first[self._count[warm], warm] = L[warm]
            self._count[warm] += 1
            done = warm[self._count[warm] == self.min_frames]
            if done.size:
                self.lengths[done] = np.median(self._first[:, done], axis=0)


def _median_lengths(L: np.ndarray, min_frames: int) -> np.ndarray:
    """estimate_bone_lengths on already-measured lengths (T, B)."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(L).sum(axis=0) >= min_frames
        out = np.full(L.shape[1], np.nan)
        if not ok.any():
            return out
        Lk = L[:, ok]
        med = np.nanmedian(Lk, axis=0)
        mad = 1.4826 * np.nanmedian(np.abs(Lk - med), axis=0)
        keep = np.abs(Lk - med) <= 3 * np.maximum(mad, 1e-3 * med)
        out[ok] = np.nanmedian(np.where(keep, Lk, np.nan), axis=0)
    return out


def reprojection_information(xyz_world: np.ndarray, cams_from_world: np.ndarray, focal_px: np.ndarray,
                             weights: np.ndarray) -> np.ndarray:
    """Gauss-Newton information matrices of the weighted reprojection error of each 3D point.

    xyz_world: (..., 3) metres; cams_from_world: (V, 3, 4) [R | t]; focal_px: (V,); weights: (V, ...) >= 0
    (e.g. score of the inlier views, 0 for unused views). Returns (..., 3, 3) in px^2 / m^2:
    sum_v w_v f_v^2 J_v^T J_v with J_v the Jacobian of the normalized projection. Moving a point by d
    raises its squared reprojection error by about d^T H d.
    """
    X = np.asarray(xyz_world, dtype=float)
    P = np.asarray(cams_from_world, dtype=float)
    w = np.asarray(weights, dtype=float)
    R, t = P[:, :, :3], P[:, :, 3]
    c = np.einsum("vij,...j->v...i", R, X) + t.reshape((len(P),) + (1,) * (X.ndim - 1) + (3,))
    z = c[..., 2]
    ok = np.isfinite(z) & (z > 1e-6) & np.isfinite(w) & (w > 0)
    inv_z = np.where(ok, 1.0 / np.where(ok, z, 1.0), 0.0)
    x, y = c[..., 0] * inv_z, c[..., 1] * inv_z
    Rb = R.reshape((len(P),) + (1,) * (X.ndim - 1) + (3, 3))
    j0 = (Rb[..., 0, :] - x[..., None] * Rb[..., 2, :]) * inv_z[..., None]   # (V, ..., 3)
    j1 = (Rb[..., 1, :] - y[..., None] * Rb[..., 2, :]) * inv_z[..., None]
    s = np.where(ok, w, 0.0) * (np.asarray(focal_px, float) ** 2).reshape((len(P),) + (1,) * (X.ndim - 1))
    H = (s[..., None, None] * (j0[..., :, None] * j0[..., None, :] + j1[..., :, None] * j1[..., None, :]))
    return H.sum(axis=0)


_SOR = 1.3  # over-relaxation of the constraint projections (converges in fewer sweeps)


def _bone_colors(bones: np.ndarray) -> list[np.ndarray]:
    """Partition bone indices into groups that share no joint (processed together, Gauss-Seidel between)."""
    groups: list[list[int]] = []
    used: list[set] = []
    for i, (a, b) in enumerate(bones):
        for g, u in zip(groups, used):
            if a not in u and b not in u:
                g.append(i)
                u.update((a, b))
                break
        else:
            groups.append([i])
            used.append({int(a), int(b)})
    return [np.array(g, dtype=np.int64) for g in groups]


def stabilize_bone_lengths(xyz: np.ndarray, bones: np.ndarray, lengths: np.ndarray,
                           information: np.ndarray | None = None, iterations: int = 10,
                           tolerance: float = 0.0) -> np.ndarray:
    """Adjust poses so every bone has its given length, moving joints as little as their information allows.

    xyz: (T, J, 3) or (J, 3) metres; bones: (B, 2) (parent, child); lengths: (B,) metres (NaN: bone left
    free); information: (T, J, 3, 3) or (J, 3, 3) (e.g. ``reprojection_information``), None for plain
    Euclidean distance. Each bone constraint is projected in the metric of the inverse information, so a
    joint moves mostly along its poorly observed direction (the camera depth) and the reprojection error
    grows as little as possible; bone groups that share no joint are solved together and the groups are
    swept ``iterations`` times (Gauss-Seidel). Missing joints stay NaN and their bones are skipped.
    tolerance: a bone within this fraction of its length (0.05: +-5%) is left as it is, a longer or
    shorter one is brought into the band (0: every bone exactly its length). Keypoints are not
    joint centres: their distances vary with the pose, and an exact length moves well-seen joints.
    """
    X = np.array(xyz, dtype=float)
    single = X.ndim == 2
    if single:
        X = X[None]
    T, J, _ = X.shape
    b = np.asarray(bones, dtype=np.int64).reshape(-1, 2)
    L = np.asarray(lengths, dtype=float)
    if information is None:
        M = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    else:
        H = np.asarray(information, dtype=float).reshape(T, J, 3, 3)
        tr = np.trace(H, axis1=-2, axis2=-1)
        pos = tr[np.isfinite(tr) & (tr > 0)]
        eps = 1e-6 * (float(np.median(pos)) if pos.size else 1.0)
        H = np.where(np.isfinite(H), H, 0.0) + eps * np.eye(3)
        M = np.linalg.inv(H)
    usable = np.flatnonzero(np.isfinite(L) & (L > 0))
    groups = []
    for g in _bone_colors(b[usable]):
        idx = usable[g]
        groups.append((b[idx, 0], b[idx, 1], L[idx], M[:, b[idx, 1]], M[:, b[idx, 0]]))
    for _ in range(iterations):
        for p, c, Lg, Mc, Mp in groups:
            d = X[:, c] - X[:, p]                              # (T, G, 3)
            n = np.sqrt((d * d).sum(-1))
            ok = n > 1e-9                                      # False for NaN too
            u = d / np.where(ok, n, 1.0)[..., None]
            Mc_u = (Mc @ u[..., None])[..., 0]
            Mp_u = (Mp @ u[..., None])[..., 0]
            wsum = (u * (Mc_u + Mp_u)).sum(-1)
            excess = n - np.clip(n, Lg * (1.0 - tolerance), Lg * (1.0 + tolerance))
            lam = np.where(ok & (wsum > 0), excess / np.where(wsum > 0, wsum, 1.0), 0.0)[..., None] * _SOR
            X[:, c] -= np.where(ok[..., None], lam * Mc_u, 0.0)
            X[:, p] += np.where(ok[..., None], lam * Mp_u, 0.0)
    return X[0] if single else X


class BoneLengthProjector:
    """Fast live bone-length constraint: the smallest joint displacement (Euclidean, all bones at once)
    that gives every bone its length, by Gauss-Newton steps on the linearized constraints.

    One step linearizes each bone's length along its current direction u_b and solves
    min |delta|^2 s.t. u_b . (delta_child - delta_parent) = L_b - |x_child - x_parent| for all B bones at
    once (a B x B system built from precomputed incidence arrays; a tree keeps it regular), so a joint is
    moved by every bone that touches it together, not bone after bone; the remaining length error is second order in the
    correction (for 3 mm noise on BODY_25: mean 0.03 mm, worst 1 mm on the short face bones after one
    step, a micrometre after two). Works on one pose (J, 3).
    Bones with a missing end or an unknown (NaN) length are left free; missing joints stay NaN.
    """

    def __init__(self, bones: np.ndarray, n_joints: int):
        self.bones = np.asarray(bones, dtype=np.int64).reshape(-1, 2)
        B = len(self.bones)
        if len(np.unique(self.bones[:, 1])) != B:
            raise ValueError("BoneLengthProjector needs a tree: every joint the child of at most one bone; found "
                             f"children {self.bones[:, 1].tolist()}")
        inc = np.zeros((n_joints, B))  # joint-bone incidence: +1 at the child, -1 at the parent
        inc[self.bones[:, 1], np.arange(B)] = 1.0
        inc[self.bones[:, 0], np.arange(B)] = -1.0
        self.n_joints = int(n_joints)
        self._inc = inc
        self._share = inc.T @ inc      # (B, B): 2 on the diagonal, +-1 for bones sharing a joint
        self._child, self._parent = self.bones[:, 1], self.bones[:, 0]

    def __call__(self, xyz: np.ndarray, lengths: np.ndarray, steps: int = 1) -> np.ndarray:
        """xyz (J, 3) metres, lengths (B,) metres -> (J, 3) with the bone lengths imposed."""
        X = np.array(xyz, dtype=float)
        L = np.asarray(lengths, dtype=float)
        for _ in range(steps):
            d = X[self._child] - X[self._parent]                   # (B, 3)
            n = np.sqrt((d * d).sum(-1))
            ok = (n > 1e-9) & np.isfinite(L)                       # False for NaN too
            if not ok.any():
                break
            u = np.where(ok[:, None], d / np.where(ok, n, 1.0)[:, None], 0.0)
            r = np.where(ok, L - n, 0.0)
            gram = (u @ u.T) * self._share
            gram[~ok, ~ok] = 1.0                                   # free bones: lambda = 0
            lam = np.linalg.solve(gram, r)
            X += self._inc @ (lam[:, None] * u)                    # NaN joints stay NaN
        return X
