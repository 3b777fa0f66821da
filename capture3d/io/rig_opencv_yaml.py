"""OpenCV FileStorage YAML rigs: the stereo calibration file (``cv2.stereoCalibrate`` output convention), and
the small YAML helpers the EasyMocap files share.

Stereo layout (the names of OpenCV's ``stereo_calib`` sample; ``K1``/``K2`` are accepted for ``M1``/``M2``)::

    %YAML:1.0
    ---
    image_width: 1280          # optional; without it the size is 2 x the principal point (with a warning)
    image_height: 720
    M1: !!opencv-matrix ...    # 3x3 camera matrix of camera 1 (or K1)
    D1: !!opencv-matrix ...    # its distortion, OpenCV order (1 x n or n x 1)
    M2, D2                     # the same for camera 2
    R: !!opencv-matrix ...     # 3x3 rotation camera 1 -> camera 2
    T: !!opencv-matrix ...     # 3x1 translation camera 1 -> camera 2 (x_cam2 = R @ x_cam1 + T)

OpenCV's own ``stereo_calib`` sample writes the same keys into two files, ``intrinsics.yml`` (M1 D1 M2 D2)
and ``extrinsics.yml`` (R T ...): the folder holding them, or either file, is read as one.

Camera 1 is the world frame (R = I, t = 0). ``T`` is in the unit of the calibration board's squares; it is
read as metres (``units`` "mm" or "cm" converts). Written files also hold ``names`` (a list of the two camera
names, which OpenCV's sample ignores) so that names survive a round trip; files without it get cam_01, cam_02.
"""
from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import cv2
import numpy as np

from capture3d.errors import RigError
from capture3d.geometry.camera import VALID_DIST_LENGTHS, Camera, Rig
from capture3d.io.atomic import atomic_write_text
from capture3d.io.rig_tables import matrix_to_rvec

log = logging.getLogger(__name__)

_UNIT_SCALE_TO_M = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}

# ------------------------------------------------------------------------------------------ YAML helpers


def yaml_header() -> list[str]:
    return ["%YAML:1.0", "---"]


def _num(x: float) -> str:
    return repr(float(x))


def yaml_matrix(key: str, arr) -> list[str]:
    """An ``!!opencv-matrix`` node of doubles, written with repr() so values read back bit for bit."""
    a = np.atleast_2d(np.asarray(arr, dtype=float))
    data = ", ".join(_num(x) for x in a.ravel())
    return [f"{key}: !!opencv-matrix", f"   rows: {a.shape[0]}", f"   cols: {a.shape[1]}", "   dt: d",
            f"   data: [ {data} ]"]


def yaml_strings(key: str, values) -> list[str]:
    return [f"{key}:"] + [f'  - "{v}"' for v in values]


def check_name(name: str, where: str) -> str:
    if not name or any(c in name for c in '"\\\n:#') or name != name.strip():
        raise RigError(f"{where}: camera name {name!r} cannot be written to OpenCV YAML (no quotes, "
                       f"backslashes, colons, '#' or surrounding spaces)")
    return name


class FileNodes:
    """The top-level nodes of an OpenCV FileStorage file (YAML, XML or JSON), read once."""

    def __init__(self, path: Path):
        self.path = path
        if not path.is_file():
            raise RigError(f"file not found: {path}")
        try:
            fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
        except cv2.error as exc:
            raise RigError(f"{path}: not a readable OpenCV FileStorage (YAML) file: {exc}") from None
        if not fs.isOpened():
            raise RigError(f"{path}: not a readable OpenCV FileStorage (YAML) file")
        self._fs = fs
        root = fs.root()
        self.keys = list(root.keys()) if root.isMap() else []

    def close(self) -> None:
        self._fs.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def has(self, key: str) -> bool:
        return key in self.keys

    def mat(self, key: str, shape: tuple[int, ...] | None = None, what: str = "") -> np.ndarray:
        """A matrix (or number) node as a float array; RigError naming the key and the file when missing."""
        if key not in self.keys:
            raise RigError(f"{self.path}: missing key '{key}'{' (' + what + ')' if what else ''}")
        node = self._fs.getNode(key)
        if node.isReal() or node.isInt():
            arr = np.array([node.real()], dtype=float)
        elif node.isSeq():
            arr = np.array([node.at(i).real() for i in range(node.size())], dtype=float)
        else:
            m = node.mat()
            if m is None:
                raise RigError(f"{self.path}: key '{key}' is not a matrix or a number")
            arr = np.asarray(m, dtype=float)
        if shape is not None:
            if arr.size != int(np.prod(shape)):
                raise RigError(f"{self.path}: key '{key}' must have {int(np.prod(shape))} values {shape}, "
                               f"found shape {arr.shape}")
            arr = arr.reshape(shape)
        if not np.all(np.isfinite(arr)):
            raise RigError(f"{self.path}: key '{key}' has non-finite values: {arr.tolist()}")
        return arr

    def number(self, key: str) -> float:
        return float(self.mat(key).ravel()[0])

    def strings(self, key: str) -> list[str]:
        if key not in self.keys:
            raise RigError(f"{self.path}: missing key '{key}'")
        node = self._fs.getNode(key)
        if node.isString():
            return [node.string()]
        if not node.isSeq():
            raise RigError(f"{self.path}: key '{key}' must be a list of strings")
        out = []
        for i in range(node.size()):
            item = node.at(i)
            out.append(item.string() if item.isString() else str(int(item.real())))
        return out

    def string(self, key: str, default: str) -> str:
        if key not in self.keys:
            return default
        node = self._fs.getNode(key)
        return node.string() if node.isString() else default


def check_intrinsics(K: np.ndarray, dist: np.ndarray, where: str) -> None:
    if K[0, 0] <= 0 or K[1, 1] <= 0 or abs(K[2, 2] - 1) > 1e-9 or np.any(K[2, :2] != 0) or K[1, 0] != 0:
        raise RigError(f"{where}: the camera matrix must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0, "
                       f"found {K.tolist()}")
    if dist.size not in VALID_DIST_LENGTHS:
        raise RigError(f"{where}: distortion must have {', '.join(map(str, VALID_DIST_LENGTHS))} values "
                       f"(OpenCV order), found {dist.size}")


def size_from(nodes: FileNodes, w_key: str, h_key: str, K: np.ndarray) -> tuple[int, int]:
    """(W, H) from two keys when the file has them, else twice the principal point (the common fallback)."""
    if nodes.has(w_key) and nodes.has(h_key):
        w, h = nodes.number(w_key), nodes.number(h_key)
        if w <= 0 or h <= 0 or w != round(w) or h != round(h):
            raise RigError(f"{nodes.path}: '{w_key}'/'{h_key}' must be positive integers, found {w}, {h}")
        return int(w), int(h)
    w, h = int(round(2 * K[0, 2])), int(round(2 * K[1, 2]))
    log.warning("%s records no image size ('%s', '%s'): estimated as twice the principal point, %dx%d px, which "
                "is only a guess; add the real size to the file (image_width / image_height), or videos of "
                "another size will be refused", nodes.path, w_key, h_key, w, h)
    return w, h


# ------------------------------------------------------------------------------------------ stereo

#: the two files OpenCV's own stereo_calib sample writes (M1 D1 M2 D2; R T R1 R2 P1 P2 Q)
STEREO_PAIR = ("intrinsics.yml", "extrinsics.yml")


def stereo_pair(path: str | os.PathLike) -> tuple[Path, Path] | None:
    """OpenCV stereo_calib's (intrinsics.yml, extrinsics.yml) when ``path`` is a folder holding both or
    either file of the pair (the other beside it), else None."""
    path = Path(path)
    if not (path.is_dir() or path.name.lower() in STEREO_PAIR):
        return None
    folder = path if path.is_dir() else path.parent
    files = (folder / STEREO_PAIR[0], folder / STEREO_PAIR[1])
    return files if all(f.is_file() for f in files) else None


class _PairNodes:
    """The nodes of several FileStorage files as one (the stereo_calib pair); a key is read from the first
    file that has it."""

    def __init__(self, parts: list[FileNodes]):
        self.parts = parts
        self.path = " + ".join(str(p.path) for p in parts)
        self.keys = [k for p in parts for k in p.keys]

    def _of(self, key: str) -> FileNodes:
        return next((p for p in self.parts if p.has(key)), self.parts[0])

    def has(self, key: str) -> bool:
        return key in self.keys

    def mat(self, key: str, shape=None, what: str = "") -> np.ndarray:
        if key not in self.keys:
            raise RigError(f"{self.path}: missing key '{key}'{' (' + what + ')' if what else ''}")
        return self._of(key).mat(key, shape, what)

    def number(self, key: str) -> float:
        return self._of(key).number(key)

    def strings(self, key: str) -> list[str]:
        return self._of(key).strings(key)

    def string(self, key: str, default: str) -> str:
        return self._of(key).string(key, default)


def is_stereo_yaml(nodes: FileNodes) -> bool:
    return (nodes.has("M1") or nodes.has("K1")) and nodes.has("R") and nodes.has("T")


def read_stereo_yaml(path: str | os.PathLike) -> Rig:
    """Read a 2-camera rig from an OpenCV stereo YAML (M1/D1/M2/D2/R/T; K1/K2 accepted), or from the pair
    OpenCV's stereo_calib sample writes (intrinsics.yml + extrinsics.yml: the folder or either file). Camera
    1 is the world frame."""
    path = Path(path)
    pair = stereo_pair(path)
    with contextlib.ExitStack() as stack:
        parts = [stack.enter_context(FileNodes(p)) for p in (pair or (path,))]
        nodes = parts[0] if len(parts) == 1 else _PairNodes(parts)
        kk = "M" if nodes.has("M1") else "K"
        what = "stereo file: M1, D1, M2, D2, R, T (K1/K2 for M1/M2)"
        K1, K2 = nodes.mat(f"{kk}1", (3, 3), what), nodes.mat(f"{kk}2", (3, 3), what)
        D1, D2 = nodes.mat("D1", None, what).ravel(), nodes.mat("D2", None, what).ravel()
        R = nodes.mat("R", None, what)
        T = nodes.mat("T", (3,), what)
        units = nodes.string("units", "m")
        if units not in _UNIT_SCALE_TO_M:
            raise RigError(f"{path}: 'units' must be one of {list(_UNIT_SCALE_TO_M)}, found {units!r}")
        size1 = size_from(nodes, "image_width", "image_height", K1)
        if nodes.has("image_width2"):  # written here when the two sizes differ
            size2 = size_from(nodes, "image_width2", "image_height2", K2)
        elif nodes.has("image_width"):  # stereoCalibrate takes one image size for both cameras
            size2 = size1
        else:
            size2 = size_from(nodes, "image_width2", "image_height2", K2)  # 2 x the principal point
        names = nodes.strings("names") if nodes.has("names") else ["cam_01", "cam_02"]
    if len(names) != 2 or names[0] == names[1]:
        raise RigError(f"{path}: 'names' must hold two different camera names, found {names}")
    if R.size == 3:
        rvec = R.ravel()
    elif R.size == 9:
        rvec = matrix_to_rvec(R.reshape(3, 3), f"{path} key 'R'")
    else:
        raise RigError(f"{path}: key 'R' must be a 3x3 rotation (or a Rodrigues 3-vector), found shape {R.shape}")
    for K, D, i in ((K1, D1, 1), (K2, D2, 2)):
        check_intrinsics(K, D, f"{path} camera {i}")
    scale = _UNIT_SCALE_TO_M[units]
    cam1 = Camera(names[0], size1, K1, D1, np.zeros(3), np.zeros(3))
    cam2 = Camera(names[1], size2, K2, D2, rvec, T * scale)
    return Rig((cam1, cam2), {"units": "m"})


def stereo_relative(rig: Rig) -> tuple[np.ndarray, np.ndarray]:
    """(R, T) of camera 2 relative to camera 1: x_cam2 = R @ x_cam1 + T."""
    c1, c2 = rig.cameras
    R = c2.R @ c1.R.T
    return R, c2.tvec - R @ c1.tvec


def stereo_yaml_text(rig: Rig) -> str:
    if len(rig) != 2:
        raise RigError(f"an OpenCV stereo YAML holds exactly 2 cameras; this rig has {len(rig)} "
                       f"(write another format, e.g. a .toml rig or --format easymocap)")
    c1, c2 = rig.cameras
    from capture3d.io.rig_tables import check_no_fisheye  # noqa: PLC0415
    check_no_fisheye(rig, "the OpenCV stereo YAML")
    R, T = stereo_relative(rig)
    lines = yaml_header()
    lines += [f"image_width: {c1.size_wh[0]}", f"image_height: {c1.size_wh[1]}"]
    if c2.size_wh != c1.size_wh:
        lines += [f"image_width2: {c2.size_wh[0]}", f"image_height2: {c2.size_wh[1]}"]
    lines += yaml_strings("names", [check_name(c.name, "stereo YAML") for c in rig.cameras])
    lines += yaml_matrix("M1", c1.K) + yaml_matrix("D1", c1.dist[None, :])
    lines += yaml_matrix("M2", c2.K) + yaml_matrix("D2", c2.dist[None, :])
    lines += yaml_matrix("R", R) + yaml_matrix("T", T[:, None])
    return "\n".join(lines) + "\n"


def write_stereo_yaml(path: str | os.PathLike, rig: Rig) -> Path:
    """Write a 2-camera rig as an OpenCV stereo YAML (camera 1 becomes the world frame), atomically."""
    return atomic_write_text(path, stereo_yaml_text(rig))
