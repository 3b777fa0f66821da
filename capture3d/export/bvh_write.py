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
from capture3d.export.bvh_solve import (SolvePlan, rest_keypoint_positions, solve_plan,  # noqa: F401  (re-exported)
                                        solve_rotations)

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
