"""TRC export (OpenSim marker file): tab-separated, Y up, metres.

capture3d's world is Z up; TRC is written Y up by a rotation of -90 degrees about X:
``(X, Y, Z)_trc = (x, z, -y)_world``. Marker names are the keypoint-set joint names (the same names as in
the CSV and C3D exports). A missing marker is written as empty cells.

Pose2Sim's TRC is also Y up, but its horizontal axes are those of its own world (Pose2Sim turns the
calibration's Z-up world to Y up differently): a Pose2Sim TRC read here is the same motion turned 90
degrees about the vertical axis, which changes no joint angle, bone length or height.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from capture3d.errors import ExportError
from capture3d.io.atomic import atomic_open
from capture3d.body.keypoint_sets import set_for_names
from capture3d.types import Keypoints3D

#: world (Z up) -> TRC (Y up)
TRC_FROM_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def write_trc(path: str | os.PathLike, kp: Keypoints3D) -> Path:
    """Write the sequence as TRC (atomic). Returns the path."""
    path = Path(path)
    names = kp.keypoint_set.names
    T, J = kp.n_frames, len(names)
    xyz = kp.xyz_world @ TRC_FROM_WORLD.T
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(f"PathFileType\t4\t(X/Y/Z)\t{path.name}\n")
        fh.write("DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames\n")
        fh.write(f"{kp.fps:.6g}\t{kp.fps:.6g}\t{T}\t{J}\tm\t{kp.fps:.6g}\t1\t{T}\n")
        fh.write("Frame#\tTime\t" + "\t".join(f"{n}\t\t" for n in names).rstrip("\t") + "\n")
        fh.write("\t\t" + "\t".join(f"X{j + 1}\tY{j + 1}\tZ{j + 1}" for j in range(J)) + "\n")
        fh.write("\n")
        for t in range(T):
            cells = [str(t + 1), f"{kp.times_s[t]:.6f}"]
            for j in range(J):
                cells += ["" if not np.isfinite(v) else f"{v:.6f}" for v in xyz[t, j]]
            fh.write("\t".join(cells) + "\n")
    return path


def read_trc(path: str | os.PathLike) -> Keypoints3D:
    """Read a TRC file: ours, or another tool's whose markers are joints of a known keypoint set by name, in
    any order and a subset allowed (Pose2Sim's ``pose-3d/*.trc``: HALPE_26 joints, "Hip" and "Head" for
    MidHip and HeadTop); joints the file lacks are missing. The axes are read as ours (see the module)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot read TRC: {exc}") from None
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise ExportError(f"{path}: not a TRC file (expected 'PathFileType' on the first line)")
    keys = lines[1].split("\t")
    vals = lines[2].split("\t")
    info = dict(zip(keys, vals))
    try:
        fps = float(info["DataRate"])
        units = info.get("Units", "m").strip()
    except (KeyError, ValueError):
        raise ExportError(f"{path}: TRC header has no valid DataRate") from None
    scale = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}.get(units)
    if scale is None:
        raise ExportError(f"{path}: unsupported TRC units {units!r}; expected m, cm or mm")
    names = [n.strip() for n in lines[3].split("\t")[2:] if n.strip()]
    found = set_for_names(names)
    if found is None:
        raise ExportError(f"{path}: markers {names[:5]}... ({len(names)}) match no known keypoint set, by name "
                          f"either ('capture3d sets' lists the sets and their joint names)")
    kps, index = found
    J = len(names)
    data = [ln.split("\t") for ln in lines[5:] if ln.strip()]
    T = len(data)
    n_header = info.get("NumFrames", "").strip()
    if n_header.isdigit() and int(n_header) != T:
        raise ExportError(f"{path}: the header says NumFrames {n_header} but the file has {T} data lines "
                          "(truncated or edited?)")
    arr = np.full((T, 2 + 3 * J), np.nan)
    for t, cells in enumerate(data):
        if len(cells) < 2 + 3 * J and t == T - 1:
            raise ExportError(f"{path}: data line {t + 1} has {len(cells)} of {2 + 3 * J} values (truncated file?)")
        cells = cells + [""] * (2 + 3 * J - len(cells))
        try:
            arr[t] = [float(c) if c.strip() else np.nan for c in cells[: 2 + 3 * J]]
        except ValueError as exc:
            raise ExportError(f"{path}: data line {t + 1}: {exc}") from None
    xyz_trc = arr[:, 2:].reshape(T, J, 3) * scale
    xyz = np.full((T, kps.n_joints, 3), np.nan)
    xyz[:, index] = xyz_trc @ TRC_FROM_WORLD  # inverse of a rotation is its transpose
    return Keypoints3D.from_positions(xyz, fps, kps, times_s=arr[:, 1])
