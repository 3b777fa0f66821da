"""The BVH rotation solve: every joint's global rotation (output axes) from keypoint positions, vectorized over
frames and bones (see ``capture3d.export.bvh_write`` for the rules and the file it is written to). Shared by
the BVH exports (offline and live) and the VMC stream (``capture3d.stream.humanoid``): one source of truth.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.export.bvh_skeleton import BVHRest, BVHSkeleton
from capture3d.geometry import rotations as rot


def rest_keypoint_positions(skel: BVHSkeleton, rest: BVHRest) -> np.ndarray:
    """(K, 3) rest positions of the keypoints (output units, root at the origin; NaN if unused)."""
    pos = np.zeros((skel.n_joints, 3))
    for j, jt in enumerate(skel.joints):
        if jt.parent >= 0:
            pos[j] = pos[jt.parent] + rest.offsets[j]
    out = np.full((skel.keypoint_set.n_joints, 3), np.nan)
    ok = skel.keypoint_joint >= 0
    out[ok] = pos[skel.keypoint_joint[ok]]
    return out


@dataclass(frozen=True)
class SolvePlan:
    """How ``solve_rotations`` visits a skeleton (built once per skeleton and rest pose: ``solve_plan``).

    Joint indices into G, the (N + 1, T, 3, 3) global rotations, whose extra last slot N is the identity
    (the root's parent), so every joint's parent rotation is one gather with no branch.
    parent: (N,) parent joint, N for the root.
    framed: joints whose rotation is the frame of two keypoint directions (segments, aim-ref limbs), all
      solved at once (they do not depend on their parent's rotation, only their fallback does):
      (joints, aim from, aim to, ref from, ref to keypoints, rest frames transposed (n, 3, 3), rest ok (n,)).
    aims: aiming joints, ordered by depth: (joints, their keypoints, children, parents, unit rest
      directions of the child bone (n, 3; zero where there is none)).
    levels: per depth, (framed positions in ``framed`` at this depth, the slice of ``aims`` at this depth, its
      aiming joints, their parents, rest directions u (n, 1, 3), u as columns (n, 1, 3, 1), as rows (n, 1, 1, 3)).
    leaves, leaf_parent: leaf joints (their parent's rotation) and their parents.
    dir_from, dir_to: keypoints of every direction a solve needs, (2 nf + A,): the framed joints' aims, their
      references, then the aiming joints' child bones.
    """

    parent: np.ndarray
    framed: tuple
    aims: tuple
    levels: tuple
    leaves: np.ndarray
    leaf_parent: np.ndarray
    dir_from: np.ndarray
    dir_to: np.ndarray


def solve_plan(skel: BVHSkeleton, rest: BVHRest) -> SolvePlan:
    N = skel.n_joints
    rest_pos = rest_keypoint_positions(skel, rest)
    parent = np.array([jt.parent if jt.parent >= 0 else N for jt in skel.joints], dtype=np.int64)
    depth = np.zeros(N, dtype=np.int64)
    for j, jt in enumerate(skel.joints):
        depth[j] = 0 if jt.parent < 0 else depth[jt.parent] + 1
    framed = [j for j, jt in enumerate(skel.joints) if jt.rule in ("segment", "aim-ref")]
    rows = []
    for j in framed:
        jt = skel.joints[j]
        a0, a1 = jt.seg_aim if jt.rule == "segment" else (jt.keypoint, jt.child)
        aim_rest = rest_pos[a1] - rest_pos[a0] if jt.rule == "segment" else rest.rest_dir_out[a1]
        rows.append((a0, a1, jt.ref[0], jt.ref[1], aim_rest, rest_pos[jt.ref[1]] - rest_pos[jt.ref[0]]))
    cols = list(zip(*rows)) if rows else [()] * 6
    idx = tuple(np.array(c, dtype=np.int64) for c in cols[:4])
    Fr, fr_ok = rot.frame_from_two(np.array(cols[4], dtype=float).reshape(-1, 3),
                                   np.array(cols[5], dtype=float).reshape(-1, 3))
    fr = (np.array(framed, dtype=np.int64),) + idx + (np.ascontiguousarray(np.swapaxes(Fr, -1, -2)), fr_ok)
    aims, levels = [], []
    for d in range(int(depth.max()) + 1):
        fpos = np.array([i for i, j in enumerate(framed) if depth[j] == d], dtype=np.int64)
        at = [j for j, jt in enumerate(skel.joints) if depth[j] == d and jt.rule in ("aim", "root-aim")]
        levels.append((fpos, slice(len(aims), len(aims) + len(at))))
        aims += at
    aims = np.array(aims, dtype=np.int64)
    kp = np.array([skel.joints[j].keypoint for j in aims], dtype=np.int64)
    ch = np.array([skel.joints[j].child for j in aims], dtype=np.int64)
    u, _ = rot.normalize(rest.rest_dir_out[ch].reshape(-1, 3))
    levels = [(fpos, sl, aims[sl], parent[aims[sl]], u[sl, None], u[sl, None, :, None], u[sl, None, None, :])
              for fpos, sl in levels]
    leaves = np.array([j for j, jt in enumerate(skel.joints) if jt.rule == "leaf"], dtype=np.int64)
    dir_from = np.concatenate([idx[0], idx[2], kp]).astype(np.int64)
    dir_to = np.concatenate([idx[1], idx[3], ch]).astype(np.int64)
    return SolvePlan(parent, fr, (aims, kp, ch, parent[aims], u), tuple(levels), leaves, parent[leaves],
                     dir_from, dir_to)


def solve_rotations(skel: BVHSkeleton, rest: BVHRest, xyz_out: np.ndarray,
                    plan: SolvePlan | None = None, with_global: bool = False):
    """Local joint rotations (N, T, 3, 3) from keypoint positions xyz_out (T, K, 3) in output axes
    (any units). Vectorized over frames and over joints (``plan``: ``solve_plan(skel, rest)``, reused by
    callers solving often): every framed joint at once, every bone direction at once, then one depth of
    aiming joints at a time (each needs its parent's rotation): a handful of numpy calls per depth.
    with_global: return (local, global) rotations, global = rest pose -> current pose in output axes.

    An aiming joint turns its child bone's rest direction u onto the current direction expressed in its
    parent's frame, v = G_parent^T d (unit): the shortest arc I + K + K^2 / (1 + u.v) with
    K = [u x v]x = v u^T - u v^T; where d is missing, v = 0 and the arc is the identity (the parent's
    rotation); opposite directions give a half turn about an axis perpendicular to u."""
    plan = plan or solve_plan(skel, rest)
    T = xyz_out.shape[0]
    N = skel.n_joints
    G = np.empty((N + 1, T, 3, 3))
    G[N] = _EYE
    local = np.empty((N, T, 3, 3))  # aims: their arc L (G_parent^T G_parent L); leaves: I; framed: G_parent^T G
    xyz_k = xyz_out.swapaxes(0, 1)  # (K, T, 3)
    js, FrT, fr_ok = plan.framed[0], plan.framed[5], plan.framed[6]
    nf, na = len(js), len(plan.aims[0])
    # every direction at once, unit (0 where missing): framed joints' aims and references, aiming joints' bones
    U, U_ok = rot.normalize(xyz_k[plan.dir_to] - xyz_k[plan.dir_from])  # (2 nf + A, T, 3)
    fallback = False
    if nf:
        e1, ref = U[:nf], U[nf:2 * nf]
        cr = _cross(e1, ref)
        e3, ok3 = rot.normalize(cr)
        F = np.stack([e1, _cross(e3, e1), e3], axis=-1) @ FrT[:, None]  # current frame @ rest frame^T
        # as rot.frame_from_two: aim, ref usable and not nearly parallel (|aim x ref|^2 > 1e-8)
        F_ok = U_ok[:nf] & U_ok[nf:2 * nf] & ok3 & (np.sum(cr * cr, axis=-1) > 1e-8) & fr_ok[:, None]
        G[js] = F
        fallback = not F_ok.all()  # a frame that cannot be built keeps the parent's rotation
    if na:
        D = U[2 * nf:, :, None, :]        # (A, T, 1, 3)
    for fpos, sl, joints, parents, u, uT, uR in plan.levels:
        if fallback and len(fpos):
            f = js[fpos]
            G[f] = np.where(F_ok[fpos][..., None, None], F[fpos], G[plan.parent[f]])
        if not len(joints):
            continue
        Gp = G[parents]                   # (n, T, 3, 3)
        v = D[sl] @ Gp                    # (n, T, 1, 3): (G_parent^T d)^T
        c = v @ uT                        # (n, T, 1, 1): u . v
        A = v.swapaxes(-1, -2) * uR       # v u^T
        K = A - A.swapaxes(-1, -2)        # [u x v]x
        flip = c.min() < -1.0 + 1e-9      # opposite directions somewhere: half turns there
        L = _EYE + K
        if flip:
            opposite = c < -1.0 + 1e-9
            L += (K @ K) / np.where(opposite, 1.0, 1.0 + c)
            L = np.where(opposite, _half_turns(u), L)
        else:
            L += (K @ K) / (1.0 + c)
        G[joints] = Gp @ L
        local[joints] = L
    if len(plan.leaves):  # leaves (no children) take their parent's rotation
        G[plan.leaves] = G[plan.leaf_parent]
        local[plan.leaves] = _EYE
    if len(js):
        local[js] = G[plan.parent[js]].swapaxes(-1, -2) @ G[js]
    return (local, G[:N]) if with_global else local


_EYE = np.eye(3)
_C1, _C2 = np.array([1, 2, 0]), np.array([2, 0, 1])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """rot.cross in four gathers (the same products and differences: the same numbers), fewer calls."""
    return a[..., _C1] * b[..., _C2] - a[..., _C2] * b[..., _C1]


def _half_turns(u: np.ndarray) -> np.ndarray:
    """(..., 3, 3) half turns about an axis perpendicular to the unit directions u (..., 3)."""
    k = np.argmin(np.abs(u), axis=-1)
    n, _ = rot.normalize(rot.cross(u, np.eye(3)[k]))
    return 2.0 * n[..., :, None] * n[..., None, :] - np.eye(3)
