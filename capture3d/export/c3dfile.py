"""C3D export (biomechanics: Visual3D, OpenSim, Mokka) through the ``c3d`` package from PyPI.

Points are written as 32-bit floats (POINT:SCALE < 0) in millimetres, in capture3d's world axes
(Z up, the usual lab convention), at POINT:RATE = fps. POINT:LABELS are the keypoint-set joint names
(the same marker names as the TRC and CSV exports). A missing point has residual -1 (invalid).
The reader recognises the keypoint set from the labels, as the TRC reader does.

Why ``c3d`` rather than ``ezc3d``: pure Python over numpy (no compiled extension, installs wherever
capture3d does), reads and writes float point data, labels, units, rate and files longer than 65535
frames; ezc3d (C++) is stronger on analog/force-plate data, which capture3d does not produce.
"""
from __future__ import annotations

import logging
import os
import struct
import warnings
from pathlib import Path

import numpy as np

from capture3d.errors import ExportError
from capture3d.io.atomic import atomic_open
from capture3d.body.keypoint_sets import KEYPOINT_SETS
from capture3d.types import Keypoints3D

log = logging.getLogger(__name__)

_UNIT_SCALE_TO_M = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}


def _c3d():
    try:
        import c3d  # noqa: PLC0415  (optional dependency: capture3d[export])
    except ImportError:
        raise ExportError("C3D needs the 'c3d' package: pip install 'capture3d[export]' (or pip install c3d)") from None
    return c3d


def write_c3d(path: str | os.PathLike, kp: Keypoints3D) -> Path:
    """Write the sequence as C3D (float points in mm, world axes Z up; atomic). Returns the path."""
    c3d = _c3d()
    if kp.n_frames == 0:
        raise ExportError("cannot write a C3D with no frames")
    T, J = kp.n_frames, kp.keypoint_set.n_joints
    xyz_mm = kp.xyz_world * 1000.0
    valid = kp.valid
    pts = np.zeros((T, J, 5), dtype=np.float32)
    pts[..., :3] = np.where(valid[..., None], xyz_mm, 0.0)
    pts[..., 3] = np.where(valid, 0.0, -1.0)       # residual: 0 = valid, -1 = missing
    writer = c3d.Writer(point_rate=float(kp.fps), analog_rate=0.0, point_scale=-1.0, point_units="mm  ")
    no_analog = np.zeros((0, 0), dtype=np.float32)
    writer.add_frames([(pts[t], no_analog) for t in range(T)])
    writer.set_point_labels(list(kp.keypoint_set.names))
    with atomic_open(path, "wb") as fh, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No analog data found")  # points only: expected
        writer.write(fh)
    log.info("wrote %s: %d points, %d frames at %g Hz", path, J, T, kp.fps)
    return Path(path)


def read_c3d(path: str | os.PathLike) -> Keypoints3D:
    """Read a C3D whose point labels are the joints of a known keypoint set (ours, or another tool's
    with the same names). Units from POINT:UNITS (mm, cm or m)."""
    c3d = _c3d()
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError as exc:
        raise ExportError(f"{path}: cannot read C3D: {exc}") from None
    if len(head) < 2 or head[1] != 0x50:
        raise ExportError(f"{path}: not a C3D file (expected the key byte 0x50 at offset 1, found {head[1:2]!r})")
    try:
        with open(path, "rb") as fh, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No analog data found")  # points only: expected
            reader = c3d.Reader(fh)
            labels = [str(s).strip() for s in reader.point_labels]
            rate = float(reader.point_rate)
            units_param = reader.get("POINT:UNITS")
            units = units_param.string_value.strip() if units_param is not None else "mm"
            warnings.filterwarnings("error", message="reached end of file")  # truncated: an error, not a shorter take
            expected = int(reader.last_frame) - int(reader.first_frame) + 1
            frames = [p[:, :4].copy() for _, p, _ in reader.read_frames(copy=True)]
    except UserWarning as exc:
        raise ExportError(f"{path}: truncated C3D file: the header says {expected} frames but the data ends early "
                          f"({str(exc).splitlines()[0]})") from None
    except (OSError, ValueError, KeyError, EOFError, AttributeError, struct.error) as exc:
        raise ExportError(f"{path}: not a readable C3D file: {exc}") from None
    except AssertionError as exc:  # the c3d package checks its file structure with assert
        raise ExportError(f"{path}: malformed C3D file: {exc}") from None
    scale = _UNIT_SCALE_TO_M.get(units.lower())
    if scale is None:
        raise ExportError(f"{path}: unsupported C3D POINT:UNITS {units!r}; expected mm, cm or m")
    kps = next((k for k in KEYPOINT_SETS.values() if list(k.names) == labels), None)
    if kps is None:
        raise ExportError(f"{path}: point labels {labels[:5]}... ({len(labels)}) match no known keypoint set")
    if not frames:
        raise ExportError(f"{path}: C3D has no frames")
    pts = np.stack(frames).astype(float)
    xyz = np.where((pts[..., 3] >= 0)[..., None], pts[..., :3] * scale, np.nan)
    return Keypoints3D.from_positions(xyz, rate, kps, metadata={"source": str(path), "units": units})
