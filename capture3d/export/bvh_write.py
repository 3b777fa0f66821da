"""BVH writer: joint rotations solved from 3D keypoint positions, vectorized over frames.

Every joint's global rotation G (output axes) maps its rest pose onto the current pose:
- segment joints (pelvis, thorax, head, feet, palms): the frame of two keypoint directions;
- aiming joints: the rest direction of their child bone onto the current one, with the twist of the
  parent (smallest rotation in the parent's frame) or from a reference line (hip line for the legs,
  the palm's across line for the forearms when hands are exported);
- leaf joints: the rotation of their parent.
The local rotation written in the file is G_parent^T G, as Euler angles in the channel order
(the channels compose in the order listed, e.g. ZXY: R = Rz Rx Ry). The root's position channels
carry the MidHip position. Output axes: "y-up" (X = world x, Y = world z, Z = -world y; as the TRC
export) or "z-up" (the world axes). Units: cm or m.

Gaps: missing positions are interpolated (or held) per joint before solving; a joint that can still
not be aimed keeps its parent's rotation, so the file never contains NaN.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from capture3d.body.bones import estimate_bone_lengths, tree_bones
from capture3d.errors import ExportError
from capture3d.io.atomic import atomic_open
from capture3d.body.keypoint_sets import KeypointSet
from capture3d.types import Keypoints3D
from capture3d.geometry import rotations as rot
from capture3d.export.bvh_skeleton import (BVHRest, BVHSkeleton, build_skeleton, bvh_set_for, default_include,
                                           make_rest)

log = logging.getLogger(__name__)

UNITS = {"cm": 100.0, "m": 1.0}
#: output axes <- world axes (world: Z up)
OUT_FROM_WORLD = {"y-up": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]), "z-up": np.eye(3)}
#: output axes <- canonical rest frame (Y up, facing +Z, subject's left +X)
OUT_FROM_CANONICAL = {"y-up": np.eye(3), "z-up": OUT_FROM_WORLD["y-up"].T}
GAP_MODES = ("interpolate", "hold")


@dataclass(frozen=True)
class BVHOptions:
    """How a BVH file is written.

    units: "cm" (default, Maya/MotionBuilder/Unity importers) or "m". axes: "y-up" (animation tools) or
    "z-up" (capture3d's world). channel_order: rotation channel order, a permutation of XYZ.
    rest_pose: "t" (T-pose) or "a" (A-pose). hands: export WHOLEBODY_135 hands (None: when present).
    gaps: "interpolate" or "hold" missing positions. decimals: digits after the point in the motion
    (None: 4 in cm, 6 in m: 1 um positions; angles to 1e-4 degree or better).
    """

    units: str = "cm"
    axes: str = "y-up"
    channel_order: str = "ZXY"
    rest_pose: str = "t"
    hands: bool | None = None
    gaps: str = "interpolate"
    decimals: int | None = None

    def validated(self) -> "BVHOptions":
        if self.units not in UNITS:
            raise ExportError(f"BVH units must be one of {', '.join(UNITS)}, found {self.units!r}")
        if self.axes not in OUT_FROM_WORLD:
            raise ExportError(f"BVH axes must be one of {', '.join(OUT_FROM_WORLD)}, found {self.axes!r}")
        if self.gaps not in GAP_MODES:
            raise ExportError(f"BVH gaps must be one of {', '.join(GAP_MODES)}, found {self.gaps!r}")
        decimals = self.decimals if self.decimals is not None else (4 if self.units == "cm" else 6)
        if not 1 <= int(decimals) <= 9:
            raise ExportError(f"BVH decimals must be 1..9, found {self.decimals}")
        try:
            order = rot.check_channel_order(self.channel_order)
        except ValueError as exc:
            raise ExportError(str(exc)) from None
        return replace(self, channel_order=order, decimals=int(decimals))


# --------------------------------------------------------------------------------------- preparation
def fill_missing_frames(xyz: np.ndarray, mode: str = "interpolate") -> np.ndarray:
    """Fill missing (NaN) positions per joint over time. xyz: (T, K, 3). "interpolate": linear between
    the neighbouring valid frames, held before the first and after the last; "hold": the last valid
    value (the first valid one before it). A joint never seen stays NaN. Returns a new (T, K, 3)."""
    xyz = np.array(xyz, dtype=float)
    T = xyz.shape[0]
    valid = np.isfinite(xyz).all(axis=-1)
    t = np.arange(T)
    for k in np.flatnonzero(~valid.all(axis=0) & valid.any(axis=0)):
        ok = valid[:, k]
        if mode == "interpolate":
            for c in range(3):
                xyz[:, k, c] = np.interp(t, t[ok], xyz[ok, k, c])
        else:
            last = np.maximum.accumulate(np.where(ok, t, -1))
            last = np.where(last < 0, np.argmax(ok), last)
            xyz[:, k] = xyz[last, k]
    return xyz


def check_frame_rate(kp: Keypoints3D, tolerance: float = 0.02) -> None:
    """BVH has one frame time: raise ExportError when the timestamps disagree with kp.fps or go
    backwards; log a warning when frames were dropped (gaps longer than 1.5 frame times)."""
    if kp.n_frames < 3:
        return
    dt = np.diff(kp.times_s)
    if not np.all(np.isfinite(dt)) or np.any(dt <= 0):
        raise ExportError("inconsistent frame times: timestamps must increase strictly; found "
                          f"{int(np.sum(~(dt > 0)))} steps <= 0")
    med = float(np.median(dt))
    if abs(med * kp.fps - 1.0) > tolerance:
        raise ExportError(f"inconsistent frame rates: fps says {kp.fps:g} Hz but the timestamps step "
                          f"{1e3 * med:.3f} ms ({1.0 / med:.3f} Hz); resample or fix fps first")
    dropped = int(np.sum(dt > 1.5 / kp.fps))
    if dropped:
        log.warning("%d gaps longer than 1.5 frame times: BVH assumes a constant frame time of %.6f s",
                    dropped, 1.0 / kp.fps)


def keypoint_bone_lengths(xyz_world: np.ndarray, kps: KeypointSet, min_frames: int = 5,
                          only: np.ndarray | None = None) -> np.ndarray:
    """(K,) robust length (metres) of the bone into each keypoint (NaN for roots, unmeasurable and,
    when ``only`` (K,) bool is given, keypoints outside it)."""
    bones = tree_bones(kps)
    if only is not None:
        bones = bones[np.asarray(only, dtype=bool)[bones[:, 1]]]
    L = np.full(kps.n_joints, np.nan)
    if len(bones):
        # only the joints the bones touch, contiguous (fancy indexing a wide (T, J, 3) array is slow)
        used = np.unique(bones)
        compact = np.searchsorted(used, bones)
        with warnings.catch_warnings():  # joints never seen: NaN lengths are the expected answer
            warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
            L[bones[:, 1]] = estimate_bone_lengths(np.ascontiguousarray(xyz_world[:, used]), compact,
                                                   min_frames=min_frames)
    return L


def plan_skeleton(kps: KeypointSet, bone_length_m: np.ndarray, options: BVHOptions,
                  root_seen: bool = True) -> tuple[BVHSkeleton, BVHRest]:
    """The hierarchy and rest pose for measured bone lengths (K,) metres. Joints whose bone cannot be
    measured are left out if optional (eyes, ears, toes, heels, fingers); a missing core joint is an
    ExportError naming it."""
    names = kps.names
    hands = options.hands
    has_hands = any(n.startswith("LHand_") for n in names)
    if hands is None:
        hands = has_hands
    elif hands and not has_hands:
        raise ExportError(f"hands requested but the keypoint set {kps.name} has no hand joints "
                          "(expected WHOLEBODY_135)")
    include = default_include(kps, hands)
    if "MidHip" not in names:
        raise ExportError(f"BVH export needs a BODY_25-style keypoint set with MidHip; found {kps.name}")
    if not root_seen:
        raise ExportError("cannot build a BVH: the root joint MidHip is never observed")
    measured = np.isfinite(bone_length_m)
    measured[kps.index("MidHip")] = True
    skel = build_skeleton(kps, include & measured, options.rest_pose)
    left_out = [names[k] for k in np.flatnonzero(include) if skel.keypoint_joint[k] < 0]
    if left_out:
        log.warning("left out of the BVH (seen in too few frames to measure their bone, or below such a "
                    "joint): %s", ", ".join(left_out))
    rest = make_rest(skel, bone_length_m, UNITS[options.units], OUT_FROM_CANONICAL[options.axes])
    return skel, rest


# ------------------------------------------------------------------------------------------- solving
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


def unwrap_degrees(angles: np.ndarray) -> None:
    """Remove 360-degree jumps between consecutive rows of (T, C) angles in degrees, in place
    (like np.unwrap with period 360, touching only the columns that wrap)."""
    turns = np.rint(np.diff(angles, axis=0) / 360.0)
    cols = np.flatnonzero(turns.any(axis=0))
    if cols.size:
        angles[1:, cols] -= 360.0 * np.cumsum(turns[:, cols], axis=0)


def motion_channels(skel: BVHSkeleton, rest: BVHRest, xyz_out: np.ndarray, order: str,
                    chunk: int = 4096, plan: SolvePlan | None = None) -> np.ndarray:
    """(T, 6 + 3 (N - 1)) channel values: root position (output units), then every joint's Euler
    angles in degrees in ``order``, unwrapped over time. xyz_out: (T, K, 3) in output axes and units,
    gaps filled. Solved ``chunk`` frames at a time (bounded memory, cache-friendly); ``plan``:
    ``solve_plan(skel, rest)`` when the caller has it (the live writer)."""
    T, N = xyz_out.shape[0], skel.n_joints
    angles = np.empty((T, N, 3))
    plan = plan or solve_plan(skel, rest)
    for s in range(0, T, chunk):
        local = solve_rotations(skel, rest, xyz_out[s:s + chunk], plan)
        angles[s:s + chunk] = rot.matrices_to_euler_deg(local.transpose(1, 0, 2, 3), order)
    if T > 1:
        unwrap_degrees(angles.reshape(T, 3 * N))
    root = xyz_out[:, skel.joints[0].keypoint]
    root = np.where(np.isfinite(root), root, 0.0)
    return np.concatenate([root, angles.reshape(T, 3 * N)], axis=1)


# ------------------------------------------------------------------------------------------- writing
def _vec(v: np.ndarray) -> str:
    return " ".join(f"{x:.6f}" for x in v)


def format_hierarchy(skel: BVHSkeleton, rest: BVHRest, order: str) -> str:
    """The HIERARCHY section text (ends with a newline)."""
    rot_channels = " ".join(f"{a}rotation" for a in order)
    lines = ["HIERARCHY"]
    depth_of = {}
    stack: list[int] = []

    def close_to(depth: int) -> None:
        while len(stack) > depth:
            stack.pop()
            lines.append("  " * len(stack) + "}")

    for j, jt in enumerate(skel.joints):
        d = 0 if jt.parent < 0 else depth_of[jt.parent] + 1
        depth_of[j] = d
        close_to(d)
        ind = "  " * d
        lines.append(f"{ind}{'ROOT' if jt.parent < 0 else 'JOINT'} {jt.name}")
        lines.append(f"{ind}{{")
        lines.append(f"{ind}  OFFSET {_vec(rest.offsets[j])}")
        if jt.parent < 0:
            lines.append(f"{ind}  CHANNELS 6 Xposition Yposition Zposition {rot_channels}")
        else:
            lines.append(f"{ind}  CHANNELS 3 {rot_channels}")
        stack.append(j)
        if jt.rule == "leaf":
            lines += [f"{ind}  End Site", f"{ind}  {{", f"{ind}    OFFSET {_vec(rest.end_sites[j])}", f"{ind}  }}"]
    close_to(0)
    return "\n".join(lines) + "\n"


def format_motion_rows(values: np.ndarray, decimals: int = 4, chunk: int = 2048) -> str:
    """(T, C) channel values -> text lines of fixed-point numbers, right-aligned in columns of equal width
    ("  -12.3456   0.0000 ...\n"). The characters are computed with numpy, a chunk of frames at a time
    (no per-value Python formatting)."""
    values = np.asarray(values, dtype=float)
    T, C = values.shape
    if T == 0:
        return ""
    if not np.isfinite(values).all() or np.abs(values).max() * 10 ** decimals >= 2 ** 52:
        raise ExportError("BVH channel values must be finite and below 4e15 / 10^decimals")
    n_all = np.rint(values * 10 ** decimals).astype(np.int64)
    ndig = max(decimals + 1, len(str(int(np.abs(n_all).max()))))   # digits, at least one before the point
    k = ndig - decimals                                              # digits before the point
    W = ndig + 3                                                     # separator, sign, digits, point
    parts = []
    for s in range(0, T, chunk):
        n = n_all[s:s + chunk]
        t = n.shape[0]
        a = np.abs(n)
        out = np.empty((t, C, W), dtype=np.uint8)
        out[..., :2] = ord(" ")
        rem = a
        for p in range(ndig - 1, -1, -1):                            # last digit first
            rem, d = np.divmod(rem, 10)
            out[..., 2 + p + (p >= k)] = d
        out[..., 2:] += ord("0")
        out[..., 2 + k] = ord(".")
        # leading zeros -> spaces, then the sign just before the first digit
        n_digits = np.floor(np.log10(a + 0.5)).astype(np.int64) + 1
        n_lead = ndig - np.maximum(n_digits, decimals + 1)
        for p in range(k - 1):
            out[..., 2 + p][p < n_lead] = ord(" ")
        neg = n < 0
        ti, ci = np.nonzero(neg)
        out[ti, ci, 1 + n_lead[neg]] = ord("-")
        out = out.reshape(t, C * W)
        out[:, :-1] = out[:, 1:].copy()                              # drop the first separator ...
        out[:, -1] = ord("\n")                                       # ... and end the line
        parts.append(out.tobytes().decode("ascii"))
    return "".join(parts)


def prepare(kp: Keypoints3D, options: BVHOptions) -> tuple[BVHSkeleton, BVHRest, np.ndarray]:
    """Hierarchy, rest pose and gap-filled keypoints (T, K, 3) in output axes and units."""
    bone_length_m = keypoint_bone_lengths(kp.xyz_world, kp.keypoint_set, only=default_include(kp.keypoint_set, True))
    root_seen = bool(kp.valid[:, kp.keypoint_set.index("MidHip")].any()) if "MidHip" in kp.keypoint_set.names else False
    skel, rest = plan_skeleton(kp.keypoint_set, bone_length_m, options, root_seen)
    used = skel.keypoint_joint >= 0
    xyz = np.full(kp.xyz_world.shape, np.nan)
    xyz[:, used] = fill_missing_frames(kp.xyz_world[:, used], options.gaps)
    xyz_out = (xyz @ OUT_FROM_WORLD[options.axes].T) * UNITS[options.units]
    return skel, rest, xyz_out


def write_bvh(path: str | os.PathLike, kp: Keypoints3D, options: BVHOptions | None = None, **overrides) -> Path:
    """Write a 3D sequence as BVH (atomic). ``options`` or keyword overrides (units, axes, channel_order,
    rest_pose, hands, gaps, decimals). Frame time is 1 / kp.fps. Returns the path."""
    options = replace(options or BVHOptions(), **overrides).validated()
    if kp.n_frames == 0:
        raise ExportError("cannot write a BVH with no frames")
    check_frame_rate(kp)
    target = bvh_set_for(kp.keypoint_set)
    if target is not kp.keypoint_set:
        log.info("BVH of %s data: written on a %s hierarchy (joints mapped by name)", kp.keypoint_set.name, target.name)
        kp = kp.in_set(target)
    skel, rest, xyz_out = prepare(kp, options)
    values = motion_channels(skel, rest, xyz_out, options.channel_order)
    if not np.isfinite(values).all():
        raise ExportError("internal error: non-finite BVH channel values after gap filling")
    with atomic_open(path, "w", encoding="ascii", newline="\n") as fh:
        fh.write(format_hierarchy(skel, rest, options.channel_order))
        fh.write(f"MOTION\nFrames: {kp.n_frames}\nFrame Time: {1.0 / kp.fps:.8f}\n")
        fh.write(format_motion_rows(values, options.decimals))
    log.info("wrote %s: %d joints, %d frames at %g Hz", path, skel.n_joints, kp.n_frames, kp.fps)
    return Path(path)
