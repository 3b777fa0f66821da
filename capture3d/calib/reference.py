"""Compare a calibrated rig with a reference rig (another tool's calibration of the same cameras).

``load_reference_rig`` reads any rig file ``capture3d.io.rig_files.load_rig`` reads, plus Caliscope's
``camera_array.toml`` / ``config.toml`` (``read_caliscope_rig``, a small reader kept here until
capture3d.io has its own; swap it then). ``compare_with_reference`` aligns the calibrated camera centres
to the reference ones by a similarity transform (Umeyama: rotation, translation and scale) and gives
per camera the centre distance (mm) and the rotation difference (deg). ``square_size_check`` measures
the board's square side from triangulated corners (the rig's scale, independent of the reference).
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import cv2
import numpy as np

from capture3d.errors import CalibrationError, RigError
from capture3d.geometry.camera import Camera, Rig
from capture3d.geometry.triangulate import triangulate
from capture3d.calib.metrics import rig_errors


def read_caliscope_rig(path: str | os.PathLike) -> Rig:
    """Caliscope's camera tables (``[cameras.N]`` in camera_array.toml, ``[cam_N]`` in config.toml) as a Rig.

    Caliscope stores ``rotation`` (3x3) and ``translation`` (m) world->camera, the pair OpenCV's
    projectPoints takes (checked on its sample session: the centres -R^T t agree with ours after a
    similarity alignment to a few mm, the inverse reading does not). Cameras are named ``cam_N``.
    """
    path = Path(path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    tables = dict(data.get("cameras", {})) if isinstance(data.get("cameras"), dict) else {}
    tables.update({k[4:]: v for k, v in data.items() if re.fullmatch(r"cam_\d+", k) and isinstance(v, dict)})
    cams = []
    for key in sorted(tables, key=int):
        t = tables[key]
        if "rotation" not in t or "translation" not in t:
            continue  # intrinsics only, not posed
        rvec, _ = cv2.Rodrigues(np.asarray(t["rotation"], float).reshape(3, 3))
        cams.append(Camera(f"cam_{t.get('cam_id', key)}", tuple(t["size"]), np.asarray(t["matrix"], float),
                           np.asarray(t["distortions"], float), rvec.ravel(), np.asarray(t["translation"], float)))
    if len(cams) < 2:
        raise RigError(f"{path}: found {len(cams)} posed Caliscope camera table(s) ([cameras.N] or [cam_N] with "
                       f"rotation and translation); a reference rig needs at least 2")
    return Rig(tuple(cams), {"source": f"Caliscope {path.name}"})


def load_reference_rig(path: str | os.PathLike) -> Rig:
    """A rig file capture3d reads, or a Caliscope camera_array.toml / config.toml."""
    from capture3d.io.rig_files import load_rig  # noqa: PLC0415

    try:
        return load_rig(path)
    except RigError as first:
        try:
            return read_caliscope_rig(path)
        except (RigError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError):
            raise first from None


def compare_with_reference(rig: Rig, ref: Rig, source: str = "reference") -> dict:
    """Per-camera centre distance (mm) and rotation difference (deg) after similarity alignment of the
    camera centres, cameras matched by name (ignoring case and punctuation: cam_1 is cam1). Raises
    CalibrationError when fewer than 3 names match."""
    ref_by = {_key(c.name): c for c in ref.cameras}
    names = [n for n in rig.names if _key(n) in ref_by]
    if len(names) < 3:
        raise CalibrationError(f"reference {source}: cameras {ref.names} share {len(names)} name(s) with the "
                               f"calibrated rig {rig.names}; need at least 3 for a similarity alignment")
    mine = {c.name: c for c in rig.cameras}
    err = rig_errors(Rig(tuple(mine[n] for n in names)), Rig(tuple(ref_by[_key(n)] for n in names)))
    return {"source": str(source), "scale": err.scale,
            "cameras": [{"name": n, "center_mm": float(d), "rotation_deg": float(r), "focal_pct": float(f)}
                        for n, d, r, f in zip(names, err.center_mm, err.rotation_deg, err.focal_pct)]}


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def square_size_check(cal) -> dict:
    """The board's square side from corners triangulated by the calibrated rig (RigCalibration ``cal``).

    Every corner seen (used) by at least 2 cameras in a frame is triangulated; the distances between
    triangulated neighbours (along rows and columns) are compared with the board's square size.
    Returns {"square_m": median distance, "error_pct": its difference from the board's, "pairs": count}.
    """
    obs, board, rig = cal.obs, cal.board, cal.rig
    cols = board.inner_corners[0]
    m = cal.used
    F, N, V = obs.n_frames, board.n_corners, len(rig)
    kp = np.full((V, F, N, 3), np.nan)
    kp[obs.cam[m], obs.frame[m], obs.corner[m], :2] = obs.xy_px[m]
    kp[obs.cam[m], obs.frame[m], obs.corner[m], 2] = 1.0
    kp[..., 2] = np.nan_to_num(kp[..., 2])
    xyz = triangulate(rig, kp, robust=False).xyz_world  # (F, N, 3), NaN where < 2 views
    d = []
    for step in (1, cols):
        a = np.arange(N - step)
        a = a[(a % cols != cols - 1)] if step == 1 else a
        d.append(np.linalg.norm(xyz[:, a + step] - xyz[:, a], axis=-1).ravel())
    d = np.concatenate(d)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return {"square_m": float("nan"), "error_pct": float("nan"), "pairs": 0}
    med = float(np.median(d))
    return {"square_m": med, "error_pct": 100 * (med / board.square_size - 1), "pairs": int(d.size)}
