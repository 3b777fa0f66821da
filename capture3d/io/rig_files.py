"""Rig files: the TOML format (anipose / aniposelib / Pose2Sim compatible) and OpenPose's XML; ``load_rig``
reads every supported format and ``write_rig`` writes them (which format a path holds: ``capture3d.io.rig_formats``).
Imports run one way: rig_files -> rig_formats and the format modules -> rig_tables.

TOML layout, one table per camera, read in numeric order of the table names (cam_2 before cam_10) and
written zero-padded (cam_01 ... cam_12)::

    [cam_01]
    name = "17012332"
    size = [1920, 1080]
    matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortions = [k1, k2, p1, p2, k3]     # OpenCV order; 4, 5, 8, 12 or 14 values
    rotation = [rx, ry, rz]               # Rodrigues, world->camera (a 3x3 matrix is accepted too)
    translation = [tx, ty, tz]            # metres (see [metadata] units)
    fisheye = false

    [metadata]
    units = "m"                          # "m" (default) or "mm": translations in mm are converted

OpenPose writes one ``<serial>.xml`` per camera (cv::FileStorage) with ``CameraMatrix`` (3x4 [R|t]
world->camera), ``Intrinsics`` (3x3) and ``Distortion`` (n x 1). It stores no image size: capture3d adds
``ImageSize`` ([W, H], which OpenPose does not read); without it the size is twice the principal point.
"""
from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

import cv2
import numpy as np

from capture3d.geometry.camera import VALID_DIST_LENGTHS, Camera, Rig
from capture3d.errors import RigError
from capture3d.io import rig_formats
from capture3d.io.atomic import atomic_write_text
from capture3d.io.media import natural_key
from capture3d.io.qualisys import read_qualisys
from capture3d.io.rig_caliscope import read_caliscope, write_caliscope
from capture3d.io.rig_easymocap import read_easymocap, write_easymocap
from capture3d.io.rig_opencv_yaml import read_stereo_yaml, write_stereo_yaml
from capture3d.io.rig_tables import array_field, camera_from_table, check_no_fisheye, matrix_to_rvec
from capture3d.io.toml_write import toml_value

log = logging.getLogger(__name__)

_UNIT_SCALE_TO_M = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}


def load_rig(path: str | os.PathLike, fmt: str | None = None) -> Rig:
    """Load a rig in any supported format: capture3d / anipose / FreeMoCap / Pose2Sim TOML, Caliscope
    camera_array.toml or config.toml, EasyMocap intri.yml + extri.yml, OpenPose XML (a file or a folder of
    them), an OpenCV stereo YAML or a Qualisys ``.qca.txt``. ``fmt`` (a name of
    ``capture3d.io.rig_formats.FORMAT_NAMES``) overrides the detection from name and content
    (rig_formats.detect_format)."""
    path = Path(path)
    fmt = fmt or rig_formats.detect_format(path)
    if fmt not in rig_formats.FORMAT_NAMES:
        raise RigError(f"unknown rig format {fmt!r}; known: {', '.join(rig_formats.FORMAT_NAMES)}")
    if not path.exists():
        raise RigError(f"rig file not found: {path}")
    if fmt == "toml":
        return load_project_toml(path)
    if fmt == "caliscope":
        return read_caliscope(path / "camera_array.toml" if path.is_dir() else path)
    if fmt == "easymocap":
        return read_easymocap(path)
    if fmt == "openpose":
        return load_openpose(path)
    if fmt == "stereo":
        return read_stereo_yaml(path)
    return read_qualisys(path)


def write_rig(path: str | os.PathLike, rig: Rig, fmt: str | None = None, metadata: dict | None = None) -> list[Path]:
    """Write a rig in the format fmt (None: from the path's name, rig_formats.output_format). Returns the files
    written."""
    path = Path(path)
    fmt = rig_formats.output_format(path, fmt)
    if fmt == "toml":
        return [save_rig(path, rig, metadata)]
    if fmt == "caliscope":
        return [write_caliscope(path, rig)]
    if fmt == "easymocap":
        folder = path.parent if path.name.lower() in ("intri.yml", "extri.yml") else path
        return write_easymocap(folder, rig)
    if fmt == "openpose":
        return write_openpose_xml(path, rig)
    return [write_stereo_yaml(path, rig)]


def load_openpose(path: str | os.PathLike) -> Rig:
    """An OpenPose rig: one camera XML file, or a folder of them (natural order of the file names)."""
    path = Path(path)
    if path.is_dir():
        xmls = sorted(path.glob("*.xml"), key=lambda p: natural_key(p.name))
        if not xmls:
            raise RigError(f"{path}: folder has no OpenPose camera .xml files")
        return Rig(tuple(read_openpose_xml(p) for p in xmls))
    return Rig((read_openpose_xml(path),))


def load_project_toml(path: str | os.PathLike) -> Rig:
    """Read the TOML rig (anipose / aniposelib / FreeMoCap / Pose2Sim / capture3d). Tables that are not
    cameras (no ``matrix``, not named cam*, e.g. Pose2Sim's [capture_volume], [charuco], [checkerboard])
    and top-level keys that are not tables are skipped with a note; extra keys in camera tables (FreeMoCap,
    Caliscope) are ignored."""
    path = Path(path)
    if not path.is_file():
        raise RigError(f"rig file not found: {path} (expected a .toml rig)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RigError(f"{path}: not a valid TOML rig file: {exc}") from None
    meta = data.get("metadata", {})
    if not isinstance(meta, dict):
        raise RigError(f"{path}: [metadata] must be a table")
    units = str(meta.get("units", "m"))
    if units not in _UNIT_SCALE_TO_M:
        raise RigError(f"{path}: [metadata] units must be one of {list(_UNIT_SCALE_TO_M)}, found {units!r}")
    keys = sorted((k for k in data if k != "metadata"), key=natural_key)
    loose = [k for k in keys if not isinstance(data[k], dict) and not k.lower().startswith("cam")]
    other = [k for k in keys if isinstance(data[k], dict) and "matrix" not in data[k] and not k.lower().startswith("cam")]
    if loose or other:  # e.g. [capture_volume], [charuco], [checkerboard] (Pose2Sim, Caliscope), CreationDate
        log.info("%s: %s are not cameras; skipped", path, ", ".join(other + loose))
        keys = [k for k in keys if k not in other and k not in loose]
    if not keys:
        raise RigError(f"{path}: no camera tables found (expected [cam_1], [cam_2], ...)")
    cams = []
    for key in keys:
        cams.append(camera_from_table(data[key], f"{path} [{key}]", _UNIT_SCALE_TO_M[units]))
    names = [c.name for c in cams]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise RigError(f"{path}: camera names must be unique, found duplicates {dup}")
    meta = dict(meta)
    meta["units"] = "m"
    return Rig(tuple(cams), meta)


def camera_table(cam: Camera) -> dict:
    """The TOML table of one camera (anipose / Pose2Sim keys)."""
    return {"name": cam.name, "size": list(cam.size_wh), "matrix": cam.K, "distortions": cam.dist,
            "rotation": cam.rvec, "translation": cam.tvec, "fisheye": cam.fisheye}


def rig_to_toml(rig: Rig, metadata: dict | None = None) -> str:
    """Serialize a rig to TOML text (tables cam_01..cam_N in rig order, zero-padded so that tools which sort
    table names as text, as aniposelib does, keep the order with 10 or more cameras; then [metadata])."""
    lines: list[str] = []
    width = max(2, len(str(len(rig))))
    for i, cam in enumerate(rig.cameras, start=1):
        lines.append(f"[cam_{i:0{width}d}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in camera_table(cam).items()]
        lines.append("")
    meta = {**rig.metadata, **(metadata or {}), "units": "m"}
    lines.append("[metadata]")
    for k, v in meta.items():
        if isinstance(v, dict):
            continue
        lines.append(f"{k} = {toml_value(v)}")
    return "\n".join(lines) + "\n"


def save_rig(path: str | os.PathLike, rig: Rig, metadata: dict | None = None) -> Path:
    """Write the rig TOML atomically. Returns the path."""
    return atomic_write_text(path, rig_to_toml(rig, metadata))


def read_openpose_xml(path: str | os.PathLike, units: str = "m") -> Camera:
    """Read one OpenPose camera file (CameraMatrix 3x4, Intrinsics 3x3, Distortion n x 1).

    The camera is named after the file stem (OpenPose names files by serial). ``units`` is the unit of
    the file's translation ("m", "mm" or "cm"; OpenPose's own calibration uses the board's unit).
    """
    path = Path(path)
    if not path.is_file():
        raise RigError(f"OpenPose camera file not found: {path}")
    expected = "an OpenCV XML file (<opencv_storage> with CameraMatrix 3x4, Intrinsics 3x3, Distortion)"
    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError):
        raise RigError(f"{path}: not a readable OpenCV XML file (truncated, or not XML?); expected {expected}") from None
    try:
        if not fs.isOpened():
            raise RigError(f"{path}: not a readable OpenCV XML file; expected {expected}")
        nodes = {}
        for key in ("CameraMatrix", "Intrinsics", "Distortion"):
            node = fs.getNode(key)
            try:
                mat = None if node.empty() else node.mat()
            except (cv2.error, SystemError):  # e.g. <rows> x <cols> disagreeing with <data>
                raise RigError(f"{path}: matrix '{key}' is malformed (its <rows> x <cols> do not match the "
                               f"number of values in <data>)") from None
            if mat is None:
                raise RigError(f"{path}: missing matrix '{key}'; expected {expected}")
            nodes[key] = mat
        size_node = fs.getNode("ImageSize")  # written by capture3d (OpenPose ignores it); [W, H]
        try:
            size = None if size_node.empty() else size_node.mat()
        except (cv2.error, SystemError):
            raise RigError(f"{path}: ImageSize is malformed; expected two integers [W, H]") from None
    finally:
        fs.release()
    where = f"{path}"
    ext = array_field(nodes["CameraMatrix"], (3, 4), where, "CameraMatrix")
    K = array_field(nodes["Intrinsics"], (3, 3), where, "Intrinsics")
    dist = array_field(nodes["Distortion"], None, where, "Distortion").ravel()
    if dist.size not in VALID_DIST_LENGTHS:
        raise RigError(f"{where}: Distortion must have {VALID_DIST_LENGTHS} values, found {dist.size}")
    rvec = matrix_to_rvec(ext[:, :3], where)
    if size is not None:
        wh = array_field(size, None, where, "ImageSize").ravel()
        if wh.shape != (2,) or np.any(wh <= 0) or np.any(wh != np.round(wh)):
            raise RigError(f"{where}: ImageSize must be two positive integers [W, H], found {wh.tolist()}")
        w, h = int(wh[0]), int(wh[1])
    else:  # OpenPose's own XML stores no image size: estimate it from the principal point (image centre)
        w, h = int(round(2 * K[0, 2])), int(round(2 * K[1, 2]))
    return Camera(path.stem, (w, h), K, dist, rvec, ext[:, 3] * _UNIT_SCALE_TO_M[units])


def write_openpose_xml(folder: str | os.PathLike, rig: Rig, units: str = "m") -> list[Path]:
    """Write one OpenPose camera XML per camera (``<name>.xml``) into folder. Returns the paths.
    RigError (before anything is written) for fisheye cameras: OpenPose's XML has no fisheye flag, so its
    readers would take the 4 fisheye coefficients for pinhole k1 k2 p1 p2 (hundreds of px off)."""
    check_no_fisheye(rig, "OpenPose camera XML")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for cam in rig.cameras:
        p = folder / f"{cam.name}.xml"
        tmp = p.with_suffix(".xml.tmp.xml")
        fs = cv2.FileStorage(str(tmp), cv2.FILE_STORAGE_WRITE)
        fs.write("CameraMatrix", np.hstack([cam.R, cam.tvec[:, None] / _UNIT_SCALE_TO_M[units]]))
        fs.write("Intrinsics", cam.K)
        fs.write("Distortion", cam.dist.reshape(-1, 1))
        fs.write("ImageSize", np.array([cam.size_wh], dtype=np.int32))
        fs.release()
        os.replace(tmp, p)
        paths.append(p)
    return paths
