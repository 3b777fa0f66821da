"""BVH reader with forward kinematics.

Conventions (as written by the common tools and by capture3d): a joint's rotation channels compose in
the order they are listed (``Zrotation Xrotation Yrotation`` is R = Rz Rx Ry, column vectors), angles
in degrees; a joint's global rotation is its parent's times its own; its position is the parent's
position plus the parent's global rotation applied to its OFFSET, except that position channels
(the root's) replace the OFFSET. End Sites are positions only.

Shapes: N joints, T frames, C channels.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from capture3d.errors import ExportError
from capture3d.body.keypoint_sets import BODY_25, WHOLEBODY_135
from capture3d.types import Keypoints3D
from capture3d.geometry import rotations as rot
from capture3d.export.bvh_write import OUT_FROM_WORLD, UNITS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BVHData:
    """A parsed BVH file.

    names: (N,) joint names in file order. parents: (N,) int, -1 for roots. offsets: (N, 3).
    channels: N tuples of channel names. channel_start: (N,) first motion column of each joint.
    end_sites: (N, 3) End Site offsets (NaN for joints without one). frame_time: seconds.
    motion: (T, C) channel values.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    channel_start: np.ndarray
    end_sites: np.ndarray
    frame_time: float
    motion: np.ndarray

    @property
    def n_frames(self) -> int:
        return self.motion.shape[0]


_VALID_CHANNELS = {f"{a}{k}" for a in "XYZ" for k in ("position", "rotation")}


def parse_hierarchy(text: str, source: str = "BVH") -> tuple[list, list, list, list, dict]:
    """Parse the HIERARCHY section: names, parents, offsets, channels, end_sites {joint: offset}."""
    tok = text.split()
    if not tok or tok[0] != "HIERARCHY":
        raise ExportError(f"{source}: not a BVH file (expected 'HIERARCHY' first, found {tok[:1]})")
    names, parents, offsets, channels, ends = [], [], [], [], {}
    stack: list[int] = []  # joint index per open brace (-2: End Site)
    i = 1
    pending_parent = -1
    try:
        while i < len(tok):
            t = tok[i]
            if t in ("ROOT", "JOINT"):
                names.append(tok[i + 1])
                parents.append(stack[-1] if stack and stack[-1] >= 0 else -1)
                offsets.append(np.zeros(3))
                channels.append(())
                pending_parent = len(names) - 1
                i += 2
            elif t == "End":
                if tok[i + 1] != "Site":
                    raise ExportError(f"{source}: expected 'End Site', found 'End {tok[i + 1]}'")
                pending_parent = -2
                i += 2
            elif t == "{":
                stack.append(pending_parent)
                i += 1
            elif t == "}":
                stack.pop()
                i += 1
            elif t == "OFFSET":
                v = np.array([float(x) for x in tok[i + 1:i + 4]])
                if stack[-1] == -2:
                    ends[stack[-2]] = v
                else:
                    offsets[stack[-1]] = v
                i += 4
            elif t == "CHANNELS":
                n = int(tok[i + 1])
                ch = tuple(tok[i + 2:i + 2 + n])
                bad = [c for c in ch if c not in _VALID_CHANNELS]
                if bad or len(ch) != n:
                    raise ExportError(f"{source}: joint {names[stack[-1]]}: invalid channels {ch}; expected "
                                      "X/Y/Z position/rotation")
                channels[stack[-1]] = ch
                i += 2 + n
            else:
                raise ExportError(f"{source}: unexpected token {t!r} in HIERARCHY")
    except (IndexError, ValueError) as exc:
        raise ExportError(f"{source}: malformed HIERARCHY ({exc})") from None
    if stack:
        raise ExportError(f"{source}: HIERARCHY has {len(stack)} unclosed braces")
    if not names:
        raise ExportError(f"{source}: HIERARCHY has no joints")
    return names, parents, offsets, channels, ends


def parse_bvh(text: str, source: str = "BVH") -> BVHData:
    """Parse a whole BVH text. A file with fewer motion values than 'Frames:' announces is an
    ExportError (see repair_bvh)."""
    head, sep, motion_text = text.partition("MOTION")
    if not sep:
        raise ExportError(f"{source}: no MOTION section")
    names, parents, offsets, channels, ends = parse_hierarchy(head, source)
    lines = motion_text.lstrip().split("\n", 2)
    try:
        if not lines[0].startswith("Frames:") or not lines[1].startswith("Frame Time:"):
            raise ValueError("expected 'Frames:' and 'Frame Time:' lines")
        T = int(lines[0].split(":", 1)[1])
        frame_time = float(lines[1].split(":", 1)[1])
    except (IndexError, ValueError) as exc:
        raise ExportError(f"{source}: malformed MOTION header ({exc})") from None
    if not (frame_time > 0 and np.isfinite(frame_time)):
        raise ExportError(f"{source}: Frame Time must be > 0, found {frame_time}")
    n_ch = np.array([len(c) for c in channels])
    C = int(n_ch.sum())
    body = lines[2] if len(lines) > 2 else ""
    try:
        values = np.fromstring(body, dtype=float, sep=" ") if body.strip() else np.zeros(0)
    except ValueError as exc:
        raise ExportError(f"{source}: non-numeric motion value ({exc})") from None
    if values.size < T * C:
        raise ExportError(f"{source}: 'Frames: {T}' needs {T * C} values ({C} channels), found {values.size}; "
                          "a recording cut short can be fixed with capture3d.export.bvh.repair_bvh")
    motion = values[:T * C].reshape(T, C)
    end_arr = np.full((len(names), 3), np.nan)
    for j, v in ends.items():
        end_arr[j] = v
    return BVHData(tuple(names), np.array(parents, dtype=np.int64), np.array(offsets, dtype=float),
                   tuple(channels), np.concatenate([[0], np.cumsum(n_ch)[:-1]]).astype(np.int64), end_arr,
                   frame_time, motion)


def forward_kinematics(data: BVHData, end_sites: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Joint positions (T, N, 3) in the file's units and axes (and, with end_sites, End Site
    positions (T, N, 3), NaN for joints without one). Loops over joints, vectorized over frames."""
    T, N = data.n_frames, len(data.names)
    pos = np.zeros((T, N, 3))
    G = np.zeros((N, T, 3, 3))
    ends = np.full((T, N, 3), np.nan)
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    for j in range(N):
        ch = data.channels[j]
        cols = data.motion[:, data.channel_start[j]:data.channel_start[j] + len(ch)]
        rot_idx = [i for i, c in enumerate(ch) if c.endswith("rotation")]
        pos_idx = {c[0]: i for i, c in enumerate(ch) if c.endswith("position")}
        R = rot.euler_deg_to_matrices(cols[:, rot_idx], "".join(ch[i][0] for i in rot_idx)) if rot_idx else eye
        off = np.broadcast_to(data.offsets[j], (T, 3)).copy()
        for a, i in pos_idx.items():
            off[:, "XYZ".index(a)] = cols[:, i]
        p = data.parents[j]
        if p < 0:
            pos[:, j], G[j] = off, R
        else:
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", G[p], off)
            G[j] = G[p] @ R
        if np.isfinite(data.end_sites[j]).all():
            ends[:, j] = pos[:, j] + G[j] @ data.end_sites[j]
    return (pos, ends) if end_sites else pos


def guess_units_axes(data: BVHData) -> tuple[str, str]:
    """Units ("cm" when the median bone is longer than 1.5 units, else "m") and axes ("z-up" when the
    spine MidHip -> Neck points along Z in the rest pose, else "y-up") of a capture3d-style file."""
    lengths = np.linalg.norm(data.offsets[1:], axis=1)
    lengths = lengths[lengths > 0]
    units = "cm" if lengths.size and np.median(lengths) > 1.5 else "m"
    axes = "y-up"
    if "Neck" in data.names:
        rest = np.zeros((len(data.names), 3))
        for j in range(1, len(data.names)):
            rest[j] = rest[data.parents[j]] + data.offsets[j]
        spine = rest[data.names.index("Neck")]
        if abs(spine[2]) > abs(spine[1]):
            axes = "z-up"
    return units, axes


def read_bvh(path: str | os.PathLike, units: str | None = None, axes: str | None = None) -> Keypoints3D:
    """Read a BVH written by capture3d (joints named as BODY_25 / WHOLEBODY_135 keypoints) into world
    coordinates (metres, Z up) by forward kinematics. units ("cm"/"m") and axes ("y-up"/"z-up") are
    guessed when not given. Keypoints absent from the hierarchy (face, pruned joints) are NaN."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot read BVH: {exc}") from None
    data = parse_bvh(text, str(path))
    g_units, g_axes = guess_units_axes(data)
    units, axes = units or g_units, axes or g_axes
    if units not in UNITS or axes not in OUT_FROM_WORLD:
        raise ExportError(f"units must be one of {', '.join(UNITS)} and axes one of {', '.join(OUT_FROM_WORLD)}; "
                          f"found {units!r}, {axes!r}")
    names = set(data.names)
    kps = WHOLEBODY_135 if any(n.startswith(("LHand_", "RHand_")) for n in names) else BODY_25
    common = [n for n in kps.names if n in names]
    if "MidHip" not in names or len(common) < 5:
        raise ExportError(f"{path}: joints {list(data.names)[:6]}... do not name BODY_25 keypoints (expected "
                          "MidHip, Neck, RHip, ...): not a capture3d skeleton")
    pos = forward_kinematics(data)
    world = (pos / UNITS[units]) @ OUT_FROM_WORLD[axes]
    xyz = np.full((data.n_frames, kps.n_joints, 3), np.nan)
    for n in common:
        xyz[:, kps.index(n)] = world[:, data.names.index(n)]
    fps = 1.0 / data.frame_time
    if abs(fps - round(fps)) < 1e-3:
        fps = float(round(fps))
    return Keypoints3D.from_positions(xyz, fps, kps, metadata={"source": str(path), "bvh_joints": len(data.names),
                                                                "units": units, "axes": axes})
