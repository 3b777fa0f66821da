"""Rig export to other tools' calibration files, and the calibration data saved beside a rig.

- anipose / aniposelib: ``calibration.toml`` with ``[cam_0]``, ``[cam_1]``, ... tables (name, size,
  matrix, distortions, rotation, translation) and ``[metadata]``.
- Pose2Sim: ``Calib_*.toml`` with ``[cam_01]``, ... tables, 4 distortion values (k1, k2, p1, p2) and
  ``fisheye``; Pose2Sim reads translations in metres.
- OpenPose: one XML per camera, see ``capture3d.io.rig_files.write_openpose_xml``.

``save_calibration_data`` stores the observations, residuals and board poses of a calibration in an
``.npz`` beside the rig (``rig.toml`` -> ``rig.calib.npz``) so that ``capture3d calibrate report`` can
redraw the report later.
"""
from __future__ import annotations

import json
import logging
import os
import tomllib
from pathlib import Path

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.errors import CalibrationError
from capture3d.io.atomic import atomic_open, atomic_write_text
from capture3d.io.toml_write import toml_value
from capture3d.calib.boards import board_from_dict, board_to_toml
from capture3d.calib.observations import BoardObservations
from capture3d.calib.rig_calib import RigCalibration

log = logging.getLogger(__name__)

FLAVORS = ("anipose", "pose2sim")


def rig_to_external_toml(rig: Rig, flavor: str) -> str:
    """TOML text of the rig for anipose ("anipose") or Pose2Sim ("pose2sim")."""
    if flavor not in FLAVORS:
        raise CalibrationError(f"unknown export flavor {flavor!r}; expected one of {FLAVORS}")
    lines = []
    error = float(rig.metadata.get("calibration_rms_px", 0.0))
    for i, cam in enumerate(rig.cameras):
        if flavor == "anipose":
            lines.append(f"[cam_{i}]")
            dist = cam.dist
        else:
            lines.append(f"[cam_{i + 1:02d}]")
            dist = cam.dist[:4]
            if not cam.fisheye and np.any(np.abs(cam.dist[4:]) > 0):
                log.warning("camera %s: Pose2Sim reads 4 distortion values; k3 and higher (%s) are dropped",
                            cam.name, np.round(cam.dist[4:], 5).tolist())
        table = {"name": cam.name, "size": list(cam.size_wh), "matrix": cam.K, "distortions": dist,
                 "rotation": cam.rvec, "translation": cam.tvec, "fisheye": cam.fisheye}
        lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
        lines.append("")
    lines += ["[metadata]", "adjusted = true", f"error = {toml_value(error)}"]
    return "\n".join(lines) + "\n"


def export_rig_toml(path: str | os.PathLike, rig: Rig, flavor: str) -> Path:
    """Write the rig for anipose or Pose2Sim. Returns the path."""
    return atomic_write_text(path, rig_to_external_toml(rig, flavor))


def calibration_data_path(rig_path: str | os.PathLike) -> Path:
    """``rig.toml`` -> ``rig.calib.npz``."""
    p = Path(rig_path)
    return p.with_name(p.stem + ".calib.npz")


def save_calibration_data(path: str | os.PathLike, cal: RigCalibration) -> Path:
    """Store what the report needs (observations, residuals, board poses, rejections) in an .npz."""
    o = cal.obs
    meta = {"camera_names": o.camera_names, "sizes_wh": [list(s) for s in o.sizes_wh],
            "frame_labels": o.frame_labels, "camera_labels": o.camera_labels, "rejected": cal.rejected, "warnings": cal.warnings,
            "floor_frame": cal.floor_frame, "board_toml": board_to_toml(cal.board), "board_name": cal.board.name,
            "rms_px": cal.rms_px, "seconds_ba": cal.seconds_ba,
            "intrinsics": cal.intrinsics_summary, "square_check": cal.square_check, "reference": cal.reference,
            "uncertainty": cal.uncertainty, "solve": cal.solve}
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(fh, cam=o.cam, frame=o.frame, corner=o.corner, xy_px=o.xy_px, used=cal.used,
                            residual_px=cal.residual_px, R_board=cal.R_board, t_board=cal.t_board,
                            board_seen=cal.board_seen, cam_rms_px=cal.cam_rms_px, meta=json.dumps(meta))
    return path


def load_calibration_data(path: str | os.PathLike, rig: Rig) -> RigCalibration:
    """Read an .npz written by save_calibration_data, for ``rig`` (the rig file it sits beside)."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"calibration data not found: {path} (written by 'capture3d calibrate rig' beside "
                               f"the rig)")
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        meta = json.loads(str(d["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise CalibrationError(f"{path}: not a readable calibration data file: {exc}") from None
    if meta["camera_names"] != rig.names:
        raise CalibrationError(f"{path}: cameras {meta['camera_names']} do not match the rig's {rig.names}")
    board = board_from_dict(tomllib.loads(meta["board_toml"])["board"], str(path), meta.get("board_name", "board"))
    obs = BoardObservations(d["cam"], d["frame"], d["corner"], d["xy_px"], meta["camera_names"],
                            [tuple(s) for s in meta["sizes_wh"]], meta["frame_labels"], meta.get("camera_labels", []))
    cal = RigCalibration(rig, board, obs, d["used"].astype(bool), d["residual_px"], d["R_board"], d["t_board"],
                         d["board_seen"].astype(bool), d["cam_rms_px"], float(meta["rms_px"]), meta["rejected"],
                         {}, meta["warnings"], meta["floor_frame"], float(meta.get("seconds_ba", 0.0)),
                         meta.get("intrinsics", {}))
    cal.square_check = meta.get("square_check", {})
    cal.reference, cal.uncertainty = meta.get("reference"), meta.get("uncertainty")
    cal.solve = meta.get("solve", {})
    return cal
