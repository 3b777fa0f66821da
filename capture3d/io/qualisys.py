"""Qualisys Track Manager calibrations (``.qca.txt``, XML) -> a Rig.

What the file holds, per ``<camera>`` (``serial``, ``model``, optional ``video_resolution`` such as "1080p"):

- ``<transform x y z r11..r33>``: the camera's position in the world in millimetres, and r11..r33 (row
  by row) the world -> camera rotation into Qualisys' camera axes (y up, z backwards), a half turn about x
  from OpenCV's (y down, z forwards). (Checked on real footage: with this reading MediaPipe joints of four
  views triangulate with a 4 px median reprojection error; the other readings reconstruct under 30%.)
- ``<intrinsic>``: focal lengths, principal point and distortion in *sensor units*, 64 per pixel of the
  full sensor; the principal point is relative to the sensor, so the video window's ``left`` / ``top``
  (``<fov_video>``, sensor pixels) is subtracted; with a ``video_resolution`` below the sensor's (e.g.
  540p of a 1080p sensor) every pixel figure scales by resolution / 1080.
- Radial (k1, k2, k3) and tangential (p1, p2) coefficients, given for the normalized image plane as
  OpenCV's are (they are not in sensor units).

Only cameras that film video (model "Miqus Video", "Miqus Video UnderWater" or "none") are kept, in natural
order of their serial. The rig's world is Qualisys' (Z up, metres).
"""
from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from capture3d.errors import RigError
from capture3d.geometry.camera import Camera, Rig
from capture3d.geometry.rotations import rotvec

log = logging.getLogger(__name__)

SENSOR_UNITS_PER_PX = 64.0
_VIDEO_MODELS = ("miqus video", "miqus video underwater", "none")
_HALF_TURN_X = np.diag([1.0, -1.0, -1.0])  # Qualisys camera axes (y up, z back) -> OpenCV's


def _natural(text: str) -> list:
    import re  # noqa: PLC0415
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def _attrs(elem: ET.Element | None, names: tuple[str, ...], where: str) -> list[float]:
    if elem is None:
        raise RigError(f"{where}: missing element; expected attributes {', '.join(names)}")
    out = []
    for n in names:
        v = elem.get(n)
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise RigError(f"{where}: attribute {n!r} must be a number, found {v!r}") from None
    if not np.isfinite(out).all():
        raise RigError(f"{where}: non-finite value among {', '.join(names)}")
    return out


def _camera(cam: ET.Element, where: str) -> Camera:
    name = cam.get("serial") or cam.get("id") or "camera"
    where = f"{where} camera {name}"
    left, top, right, bottom = _attrs(cam.find("fov_video"), ("left", "top", "right", "bottom"), f"{where} fov_video")
    res = cam.get("video_resolution")
    scale = 1.0
    if res:
        try:
            scale = int(res.rstrip("pP")) / 1080.0
        except ValueError:
            raise RigError(f"{where}: video_resolution must look like '1080p', found {res!r}") from None
    size_wh = (int(round((right - left + 1) * scale)), int(round((bottom - top + 1) * scale)))
    intr = cam.find("intrinsic")
    fu, fv, cu, cv = _attrs(intr, ("focalLengthU", "focalLengthV", "centerPointU", "centerPointV"),
                            f"{where} intrinsic")
    skew = float(intr.get("skew", 0.0) or 0.0)
    k1, k2, k3, p1, p2 = _attrs(intr, ("radialDistortion1", "radialDistortion2", "radialDistortion3",
                                       "tangentalDistortion1", "tangentalDistortion2"), f"{where} intrinsic")
    s = scale / SENSOR_UNITS_PER_PX
    K = np.array([[fu * s, skew * s, (cu / SENSOR_UNITS_PER_PX - left) * scale],
                  [0.0, fv * s, (cv / SENSOR_UNITS_PER_PX - top) * scale],
                  [0.0, 0.0, 1.0]])
    tr = cam.find("transform")
    x, y, z, *r = _attrs(tr, ("x", "y", "z", "r11", "r12", "r13", "r21", "r22", "r23", "r31", "r32", "r33"),
                         f"{where} transform")
    world_to_qcam = np.array(r).reshape(3, 3)
    if not np.allclose(world_to_qcam @ world_to_qcam.T, np.eye(3), atol=1e-4) or np.linalg.det(world_to_qcam) < 0:
        raise RigError(f"{where}: transform r11..r33 is not a rotation matrix")
    R = _HALF_TURN_X @ world_to_qcam                      # world -> OpenCV camera
    center_world_m = np.array([x, y, z]) / 1000.0
    return Camera(name, size_wh, K, np.array([k1, k2, p1, p2, k3]), rotvec(R), -R @ center_world_m)


def read_qualisys(path: str | os.PathLike) -> Rig:
    """Read a Qualisys ``.qca.txt`` calibration: the video cameras, in natural order of their serials.

    RigError names the file and camera when the XML is broken or a value is missing or not a number.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise RigError(f"rig file not found: {path}") from None
    except (ET.ParseError, UnicodeDecodeError) as exc:
        raise RigError(f"{path}: not a Qualisys calibration (XML): {exc}") from None
    cams = root.findall("cameras/camera")
    if not cams:
        raise RigError(f"{path}: no <cameras><camera> entries (expected a Qualisys .qca.txt calibration)")
    video = [c for c in cams if (c.get("model") or "none").lower() in _VIDEO_MODELS]
    if len(video) < len(cams):
        log.info("%s: %d marker-only cameras left out", path, len(cams) - len(video))
    if not video:
        raise RigError(f"{path}: none of its {len(cams)} cameras films video (model Miqus Video)")
    cameras = sorted((_camera(c, str(path)) for c in video), key=lambda c: _natural(c.name))
    residual = {c.get("serial", ""): float(c.get("avg-residual", "nan")) for c in video}
    return Rig(tuple(cameras), {"source": f"qualisys {path.name}",
                                "qualisys_avg_residual_mm": [residual.get(c.name, float("nan")) for c in cameras]})
