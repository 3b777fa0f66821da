"""Compare a calibrated rig with a reference rig (another tool's calibration of the same cameras).

The reference is any rig file ``capture3d.io.rig_files.load_rig`` reads (Caliscope's ``camera_array.toml``
included). ``compare_with_reference`` aligns the calibrated camera centres
to the reference ones by a similarity transform (Umeyama: rotation, translation and scale) and gives
per camera the centre distance (mm) and the rotation difference (deg). ``square_size_check`` measures
the board's square side from triangulated corners (the rig's scale, independent of the reference).
"""
from __future__ import annotations

import re

import numpy as np

from capture3d.errors import CalibrationError
from capture3d.geometry.camera import Rig
from capture3d.geometry.triangulate import triangulate
from capture3d.calib.metrics import rig_errors


def compare_with_reference(rig: Rig, ref: Rig, source: str = "reference") -> dict:
    """Per-camera centre distance (mm) and rotation difference (deg) after similarity alignment of the
    camera centres, cameras matched by name (ignoring case and punctuation: cam_1 is cam1). Raises
    CalibrationError when fewer than 2 names match (two cameras are aligned by their centres and
    orientations: metrics.camera_similarity)."""
    ref_by = {_key(c.name): c for c in ref.cameras}
    names = [n for n in rig.names if _key(n) in ref_by]
    if len(names) < 2:
        raise CalibrationError(f"reference {source}: cameras {ref.names} share {len(names)} name(s) with the "
                               f"calibrated rig {rig.names}; need at least 2 for a similarity alignment")
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
    This checks the rig's consistency (its cameras agree on the board's size), not the board's true size:
    the rig's scale comes from the square_size given, right or wrong (see scale_warnings).
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


#: Cameras further apart than this (board units, meant as metres) make a rig implausible: a unit slip.
MAX_CAMERA_SPREAD_M = 50.0
#: A square side at least this large (metres) is most likely millimetres (or centimetres) given as metres.
MAX_SQUARE_M = 1.0


def scale_warnings(rig: Rig, square_size: float) -> list[str]:
    """Warnings for a board size that makes the rig implausible, naming the likely unit slip: a square
    side of MAX_SQUARE_M or more (25 written for 25 mm), cameras more than MAX_CAMERA_SPREAD_M apart (any
    slip: 0.25 for 0.025 puts a room's cameras tens of metres apart). The rig's scale comes only from the
    board's square_size, which no image can check."""
    out = []
    if square_size >= MAX_SQUARE_M:
        out.append(f"board square_size = {square_size:g} (metres) is implausibly large: if it is in millimetres, "
                   f"write square_size = {square_size / 1000:g}; the rig's unit is the square_size's unit")
    c = np.stack([cam.center_world for cam in rig.cameras])
    if len(c) >= 2:
        d = np.linalg.norm(c[:, None] - c[None], axis=-1)
        i, j = np.unravel_index(int(np.argmax(d)), d.shape)
        if d[i, j] > MAX_CAMERA_SPREAD_M:
            out.append(f"cameras {rig.names[i]} and {rig.names[j]} are {d[i, j]:.1f} m apart (more than "
                       f"{MAX_CAMERA_SPREAD_M:g} m): the board's square_size = {square_size:g} is probably in the "
                       f"wrong unit: given in millimetres it would be {square_size / 1000:g} (cameras "
                       f"{d[i, j] / 1000:.3g} m apart), 10 times too large {square_size / 10:g} ({d[i, j] / 10:.3g} m "
                       f"apart); the images cannot tell the board's true size")
    return out
