"""Camera tables of rig files: one camera from a TOML table (anipose / Pose2Sim keys) and the checks of its
fields; the rotation-matrix check. Shared by every rig format module (rig_files, rig_caliscope,
rig_easymocap, rig_opencv_yaml); imports none of them.
"""
from __future__ import annotations

import numpy as np

from capture3d.errors import RigError
from capture3d.geometry.camera import VALID_DIST_LENGTHS, Camera, Rig
from capture3d.geometry.rotations import rotvec


def array_field(value, shape: tuple[int, ...] | None, where: str, field: str) -> np.ndarray:
    """``value`` as a float array of ``shape`` (None: any), all finite; RigError naming ``where`` and ``field``."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise RigError(f"{where}: field '{field}' must be numbers, found {value!r}") from None
    if shape is not None and arr.shape != shape:
        raise RigError(f"{where}: field '{field}' must have shape {shape}, found {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise RigError(f"{where}: field '{field}' has non-finite values: {arr.tolist()}")
    return arr


def _rotation_to_rvec(value, where: str) -> np.ndarray:
    arr = array_field(value, None, where, "rotation")
    if arr.shape == (3,):
        return arr
    if arr.shape == (3, 3):
        return matrix_to_rvec(arr, where)
    raise RigError(f"{where}: field 'rotation' must be a Rodrigues vector [3] or a 3x3 matrix, found shape {arr.shape}")


def matrix_to_rvec(R: np.ndarray, where: str) -> np.ndarray:
    """Validate a 3x3 rotation (orthonormal, det +1, to 1e-4) and return its Rodrigues vector."""
    err = np.abs(R @ R.T - np.eye(3)).max()
    if err > 1e-4 or np.linalg.det(R) < 0:
        raise RigError(f"{where}: rotation is not a proper rotation matrix (|R R^T - I| = {err:.2g}, "
                       f"det = {np.linalg.det(R):.4f}); expected orthonormal with det +1")
    return rotvec(R)


def camera_from_table(table: dict, where: str, unit_scale: float = 1.0) -> Camera:
    """Build a Camera from one TOML table (anipose / Pose2Sim keys). ``where`` names file and table."""
    if not isinstance(table, dict):
        raise RigError(f"{where}: expected a table of camera fields, found {type(table).__name__}")
    required = ("size", "matrix", "distortions", "rotation", "translation")
    missing = [k for k in required if k not in table]
    if missing:
        raise RigError(f"{where}: missing field(s) {', '.join(missing)}; a camera needs {', '.join(required)}")
    size = array_field(table["size"], (2,), where, "size")
    if np.any(size <= 0) or np.any(size != np.round(size)):
        raise RigError(f"{where}: field 'size' must be two positive integers [W, H], found {table['size']}")
    K = array_field(table["matrix"], (3, 3), where, "matrix")
    if K[0, 0] <= 0 or K[1, 1] <= 0 or abs(K[2, 2] - 1) > 1e-9 or np.any(K[2, :2] != 0) or K[1, 0] != 0:
        raise RigError(f"{where}: field 'matrix' must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0, "
                       f"found {K.tolist()}")
    dist = array_field(table["distortions"], None, where, "distortions").ravel()
    fisheye = bool(table.get("fisheye", False))
    if fisheye and dist.size != 4:
        raise RigError(f"{where}: a fisheye camera needs 4 distortion values (k1..k4), found {dist.size}")
    if not fisheye and dist.size not in VALID_DIST_LENGTHS:
        raise RigError(f"{where}: field 'distortions' must have {', '.join(map(str, VALID_DIST_LENGTHS))} "
                       f"values (OpenCV order), found {dist.size}")
    rvec = _rotation_to_rvec(table["rotation"], where)
    tvec = array_field(table["translation"], None, where, "translation").ravel()
    if tvec.shape != (3,):
        raise RigError(f"{where}: field 'translation' must have 3 values, found {tvec.size}")
    name = str(table.get("name", where.rsplit("[", 1)[-1].rstrip("]")))
    return Camera(name, (int(size[0]), int(size[1])), K, dist, rvec, tvec * unit_scale, fisheye)


def check_no_fisheye(rig: Rig, fmt: str) -> None:
    """RigError naming the fisheye cameras when ``fmt`` (a file format without a fisheye flag) is asked."""
    fish = [c.name for c in rig.cameras if c.fisheye]
    if fish:
        raise RigError(f"camera{'s' if len(fish) > 1 else ''} {', '.join(fish)} use the fisheye lens model, which "
                       f"{fmt} cannot hold (its readers would take the 4 fisheye coefficients for pinhole k1 k2 "
                       f"p1 p2, hundreds of px off at the image corners): write a .toml rig (anipose / Pose2Sim "
                       f"read its fisheye flag)")
