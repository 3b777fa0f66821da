"""Caliscope rigs: ``camera_array.toml`` (current Caliscope) and the older ``config.toml``.

``camera_array.toml`` has one table per camera port, ``[cameras.0]``, ``[cameras.1]``, ...; ``config.toml``
has ``[cam_0]``, ``[cam_1]``, ... beside non-camera tables (``[capture_volume]``, ``[charuco]``) and keys
(``CreationDate``), which are skipped. A camera table holds (facts from Caliscope's source,
``caliscope/cameras/camera_array.py`` and its persistence module):

- ``size = [W, H]`` in px (checked on Caliscope's sample: 1280x720 cameras with cx ~ 640, cy ~ 360);
- ``matrix`` (3x3), ``distortions`` (OpenCV order, 5 values), optional ``fisheye``;
- ``rotation``: world -> camera, a 3x3 matrix (older files; current Caliscope reads it as "legacy" and
  converts, so it is what is written here) or a Rodrigues vector (newer files); ``translation``: world ->
  camera, metres (Caliscope's projection matrix is ``matrix @ [rotation | translation]``; its board sizes
  are converted from cm to m). Checked on Caliscope's sample (tests/test_rig_formats.py): read this way its
  ChArUco videos triangulate at 0.85 px median with 5.39 cm squares (the board's 5.4 cm);
- ``port`` / ``cam_id``, ``error`` (intrinsic RMSE, px), ``ignore``, ``exposure``, ``grid_count``, ... (kept
  out of the rig; a camera with ``ignore = true`` is skipped with a note).

Cameras are named ``cam_<port>`` (Caliscope's own naming) unless the table has a ``name`` (which this writer
adds so names survive a round trip; Caliscope reads only the keys it knows). Ports are written 0-based as
Caliscope numbers them, zero-padded (``[cameras.00]`` ... ``[cameras.11]``) so text sorting keeps the order.
"""
from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

import numpy as np

from capture3d.errors import RigError
from capture3d.geometry.camera import Camera, Rig
from capture3d.io.atomic import atomic_write_text
from capture3d.io.rig_tables import camera_from_table
from capture3d.io.toml_write import toml_table

log = logging.getLogger(__name__)

_CALISCOPE_KEYS = ("cam_id", "port", "rotation_count", "verified_resolutions", "grid_count")


def load_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RigError(f"{path}: not a valid TOML rig file: {exc}") from None


def _port(key: str, table: dict, where: str) -> int:
    for k in ("port", "cam_id"):
        if k in table:
            value = table[k]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RigError(f"{where}: '{k}' must be a port number >= 0, found {value!r}")
            return value
    digits = key.rsplit("_", 1)[-1]
    if not digits.isdigit():
        raise RigError(f"{where}: cannot tell the camera port (no 'port' or 'cam_id', name not cam_<N>)")
    return int(digits)


def is_caliscope(data: dict) -> bool:
    """A parsed TOML document is Caliscope's: [cameras.N] tables, or [cam_N] tables with Caliscope's keys."""
    if isinstance(data.get("cameras"), dict):
        return True
    return any(isinstance(v, dict) and k.lower().startswith("cam") and any(c in v for c in _CALISCOPE_KEYS)
               for k, v in data.items())


def _camera_tables(data: dict, path: Path) -> list[tuple[str, dict]]:
    if isinstance(data.get("cameras"), dict):
        items = [(f"cameras.{k}", v) for k, v in data["cameras"].items()]
        skipped = [k for k in data if k != "cameras"]
    else:
        items = [(k, v) for k, v in data.items() if isinstance(v, dict) and k.lower().startswith("cam")]
        skipped = [k for k in data if not (isinstance(data[k], dict) and k.lower().startswith("cam"))]
    if skipped:
        log.info("%s: %s are not cameras; skipped", path, ", ".join(skipped))
    if not items:
        raise RigError(f"{path}: no Caliscope camera tables found (expected [cameras.0], [cameras.1], ... "
                       f"in camera_array.toml or [cam_0], [cam_1], ... in config.toml)")
    return items


def read_caliscope(path: str | os.PathLike) -> Rig:
    """Read a Caliscope camera_array.toml or config.toml; cameras in port order."""
    path = Path(path)
    if not path.is_file():
        raise RigError(f"Caliscope rig file not found: {path}")
    data = load_toml(path)
    cams: list[tuple[int, Camera]] = []
    for key, table in _camera_tables(data, path):
        where = f"{path} [{key}]"
        if not isinstance(table, dict):
            raise RigError(f"{where}: expected a table of camera fields, found {type(table).__name__}")
        port = _port(key.rsplit(".", 1)[-1], table, where)
        if table.get("ignore", False):
            log.info("%s: camera is marked ignore = true in Caliscope; skipped", where)
            continue
        missing = [k for k in ("rotation", "translation") if table.get(k) is None]
        if missing:
            raise RigError(f"{where}: missing field(s) {', '.join(missing)}: the camera has no extrinsic "
                           f"calibration yet (run Caliscope's extrinsic calibration first)")
        fields = dict(table)
        fields.setdefault("name", f"cam_{port}")
        cams.append((port, camera_from_table(fields, where)))
    ports = [p for p, _ in cams]
    dup = sorted({p for p in ports if ports.count(p) > 1})
    if dup:
        raise RigError(f"{path}: camera ports must be unique, found duplicates {dup}")
    if not cams:
        raise RigError(f"{path}: every camera is marked ignore = true; nothing to read")
    cams.sort(key=lambda pc: pc[0])
    return Rig(tuple(c for _, c in cams), {"units": "m"})


def _table(cam: Camera, port: int) -> dict:
    dist = cam.dist if cam.dist.size != 4 or cam.fisheye else np.append(cam.dist, 0.0)  # Caliscope shows k1..k3
    return {"port": port, "name": cam.name, "size": list(cam.size_wh), "rotation_count": 0,
            "matrix": cam.K, "distortions": dist, "translation": cam.tvec, "rotation": cam.R,
            "fisheye": cam.fisheye, "ignore": False}


def caliscope_text(rig: Rig, legacy_config: bool = False) -> str:
    """camera_array.toml text ([cameras.NN]); with legacy_config the old config.toml layout ([cam_NN])."""
    width = max(2, len(str(len(rig) - 1)))
    parts = []
    for port, cam in enumerate(rig.cameras):
        table = _table(cam, port)
        if legacy_config:
            table = {"cam_id": port, **{k: v for k, v in table.items() if k != "port"}}
            parts.append(toml_table(table, f"cam_{port:0{width}d}"))
        else:
            parts.append(toml_table(table, f"cameras.{port:0{width}d}"))
    return "\n".join(parts)


def write_caliscope(path: str | os.PathLike, rig: Rig) -> Path:
    """Write a Caliscope camera_array.toml (or, for a file named config.toml, the older config layout),
    atomically; a folder gets camera_array.toml inside it. Returns the path."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / "camera_array.toml"
    return atomic_write_text(path, caliscope_text(rig, legacy_config=path.name.lower() == "config.toml"))
