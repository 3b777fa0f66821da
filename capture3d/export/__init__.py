"""3D keypoint exports: CSV, JSON (OpenPose pose_keypoints_3d style), TRC (OpenSim), each with a reader.

``write_keypoints3d(path, kp)`` and ``read_keypoints3d(path)`` pick the format from the file suffix.
More formats (BVH, C3D) register themselves in ``FORMATS``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from capture3d.errors import ExportError
from capture3d.types import Keypoints3D
from capture3d.export import csvfile as _csv
from capture3d.export import jsonfile as _json
from capture3d.export import trc as _trc
from capture3d.export.bvh_read import read_bvh as _read_bvh
from capture3d.export.bvh_write import write_bvh as _write_bvh
from capture3d.export.c3dfile import read_c3d as _read_c3d
from capture3d.export.c3dfile import write_c3d as _write_c3d

#: format name -> (suffix, writer(path, kp) -> Path, reader(path) -> Keypoints3D)
FORMATS: dict[str, tuple[str, Callable, Callable]] = {
    "csv": (".csv", _csv.write_csv, _csv.read_csv),
    "json": (".json", _json.write_json, _json.read_json),
    "trc": (".trc", _trc.write_trc, _trc.read_trc),
    "bvh": (".bvh", _write_bvh, _read_bvh),
    "c3d": (".c3d", _write_c3d, _read_c3d),
}


def format_of(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The format name of a path (from its suffix unless ``fmt`` is given); ExportError lists the known ones."""
    if fmt is not None:
        if fmt.lower() not in FORMATS:
            raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
        return fmt.lower()
    suffix = Path(path).suffix.lower()
    for name, (suf, _, _) in FORMATS.items():
        if suf == suffix:
            return name
    raise ExportError(f"{path}: cannot tell the format from the suffix {suffix!r}; expected one of "
                      f"{', '.join(s for s, _, _ in FORMATS.values())}")


def write_keypoints3d(path: str | os.PathLike, kp: Keypoints3D, fmt: str | None = None) -> Path:
    """Write a 3D sequence in the format of the path's suffix (or ``fmt``). Atomic. Returns the path."""
    return FORMATS[format_of(path, fmt)][1](path, kp)


def read_keypoints3d(path: str | os.PathLike, fmt: str | None = None) -> Keypoints3D:
    """Read a 3D sequence written by capture3d (or a compatible file) in the format of its suffix."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"3D keypoint file not found: {path}")
    return FORMATS[format_of(path, fmt)][2](path)
