"""EasyMocap rigs: ``intri.yml`` + ``extri.yml`` in one folder (OpenCV FileStorage YAML).

``intri.yml``: ``names`` (the camera names, in order), per camera ``K_<cam>`` (3x3), ``dist_<cam>`` (1 x n,
OpenCV order; newer EasyMocap writes ``D_<cam>``, accepted too) and optional ``H_<cam>`` / ``W_<cam>`` (image
size in px; without them the size is twice the principal point, as Pose2Sim's converter does).

``extri.yml``: ``names``, per camera ``R_<cam>`` (Rodrigues 3x1) and/or ``Rot_<cam>`` (3x3), and ``T_<cam>``
(3x1), world -> camera (x_cam = R @ x_world + T), metres. ``Rot_`` is used when both are there.

Writing puts both files in one folder. Camera names are written as they are (EasyMocap uses them as its
image folder names, and ``names`` fixes the order, so no text sorting is involved); ``H_``/``W_`` are written
so the image size survives.
"""
from __future__ import annotations

import os
from pathlib import Path

from capture3d.errors import RigError
from capture3d.geometry.camera import Camera, Rig
from capture3d.io.atomic import atomic_write_text
from capture3d.io.rig_tables import matrix_to_rvec
from capture3d.io.rig_opencv_yaml import (FileNodes, check_name, check_intrinsics, size_from, yaml_header,
                                          yaml_matrix, yaml_strings)

INTRI, EXTRI = "intri.yml", "extri.yml"


def easymocap_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(intri.yml, extri.yml) for a folder holding them or either file."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    intri, extri = folder / INTRI, folder / EXTRI
    for p in (intri, extri):
        if not p.is_file():
            raise RigError(f"EasyMocap rig: {p} not found (an EasyMocap rig is intri.yml + extri.yml in one folder)")
    return intri, extri


def _names(nodes: FileNodes) -> list[str]:
    names = nodes.strings("names")
    if not names:
        raise RigError(f"{nodes.path}: key 'names' lists no cameras")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise RigError(f"{nodes.path}: 'names' has duplicates {dup}")
    return names


def read_easymocap(path: str | os.PathLike) -> Rig:
    """Read an EasyMocap rig from its folder, or from its intri.yml or extri.yml (the other file is beside it)."""
    intri_path, extri_path = easymocap_paths(path)
    with FileNodes(intri_path) as intri, FileNodes(extri_path) as extri:
        names = _names(intri)
        if extri.has("names") and _names(extri) != names:
            raise RigError(f"{extri_path}: 'names' {_names(extri)} differ from {intri_path}'s {names}")
        cams = []
        for name in names:
            K = intri.mat(f"K_{name}", (3, 3), f"camera matrix of camera {name}")
            dkey = f"dist_{name}" if intri.has(f"dist_{name}") or not intri.has(f"D_{name}") else f"D_{name}"
            dist = intri.mat(dkey, None, f"distortion of camera {name}").ravel()
            check_intrinsics(K, dist, f"{intri_path} camera {name}")
            size = size_from(intri, f"W_{name}", f"H_{name}", K)
            if extri.has(f"Rot_{name}"):
                rvec = matrix_to_rvec(extri.mat(f"Rot_{name}", (3, 3)), f"{extri_path} key 'Rot_{name}'")
            else:
                rvec = extri.mat(f"R_{name}", (3,), f"rotation of camera {name}: R_ (Rodrigues) or Rot_ (3x3)")
            tvec = extri.mat(f"T_{name}", (3,), f"translation of camera {name}")
            cams.append(Camera(name, size, K, dist, rvec, tvec))
    return Rig(tuple(cams), {"units": "m"})


def easymocap_texts(rig: Rig) -> tuple[str, str]:
    """The text of intri.yml and extri.yml for a rig."""
    from capture3d.io.rig_tables import check_no_fisheye  # noqa: PLC0415
    check_no_fisheye(rig, "EasyMocap's intri.yml")
    names = [check_name(c.name, "EasyMocap") for c in rig.cameras]
    intri = yaml_header() + yaml_strings("names", names)
    extri = yaml_header() + yaml_strings("names", names)
    for cam in rig.cameras:
        n = cam.name
        intri += yaml_matrix(f"K_{n}", cam.K) + yaml_matrix(f"dist_{n}", cam.dist[None, :])
        intri += [f"H_{n}: {cam.size_wh[1]}", f"W_{n}: {cam.size_wh[0]}"]
        extri += yaml_matrix(f"R_{n}", cam.rvec[:, None]) + yaml_matrix(f"Rot_{n}", cam.R)
        extri += yaml_matrix(f"T_{n}", cam.tvec[:, None])
    return "\n".join(intri) + "\n", "\n".join(extri) + "\n"


def write_easymocap(folder: str | os.PathLike, rig: Rig) -> list[Path]:
    """Write intri.yml and extri.yml into folder (each atomically). Returns the two paths."""
    folder = Path(folder)
    intri, extri = easymocap_texts(rig)
    return [atomic_write_text(folder / INTRI, intri), atomic_write_text(folder / EXTRI, extri)]
