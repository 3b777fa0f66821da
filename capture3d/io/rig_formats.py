"""Which rig format a path holds (or should get); reading and writing them is ``capture3d.io.rig_files``
(load_rig, write_rig), which imports this module, never the other way round.

Formats (name: what it is; how it is recognized; read / write):

- ``toml``: capture3d / anipose / aniposelib / FreeMoCap / Pose2Sim TOML; a ``.toml`` file that is not
  Caliscope's; read and write.
- ``caliscope``: Caliscope ``camera_array.toml`` ([cameras.N]) or older ``config.toml`` ([cam_N] with
  Caliscope's keys); read and write (OUT named ``camera_array.toml`` or ``config.toml``, or ``--format
  caliscope``).
- ``easymocap``: EasyMocap ``intri.yml`` + ``extri.yml``; a folder holding both, or either file; read and
  write (OUT a folder with ``--format easymocap``, or OUT named intri.yml / extri.yml).
- ``openpose``: OpenPose camera XML, one ``<serial>.xml`` per camera; a folder of ``*.xml`` or one
  ``.xml``; read and write (OUT a folder).
- ``stereo``: OpenCV stereo YAML (``M1 D1 M2 D2 R T``, ``K1``/``K2`` accepted), 2 cameras; a
  ``.yml``/``.yaml`` file with those keys; read and write (OUT ``.yml``/``.yaml``).
- ``qualisys``: Qualisys Track Manager ``.qca.txt``; read only.
"""
from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from capture3d.errors import RigError
from capture3d.io.rig_caliscope import is_caliscope, load_toml
from capture3d.io.rig_opencv_yaml import FileNodes, is_stereo_yaml, stereo_pair

if TYPE_CHECKING:
    from capture3d.geometry.camera import Rig


@dataclass(frozen=True)
class RigFormat:
    name: str
    what: str
    recognized: str
    writable: bool


FORMATS = (
    RigFormat("toml", "capture3d / anipose / aniposelib / FreeMoCap / Pose2Sim TOML",
              "a .toml file with [cam_N] tables (non-camera tables such as [capture_volume] are skipped)", True),
    RigFormat("caliscope", "Caliscope camera_array.toml or config.toml",
              "camera_array.toml, or a .toml with [cameras.N] tables, or with [cam_N] tables holding "
              "Caliscope's keys (cam_id, rotation_count: its config.toml)", True),
    RigFormat("easymocap", "EasyMocap intri.yml + extri.yml",
              "a folder holding intri.yml and extri.yml, or either file", True),
    RigFormat("openpose", "OpenPose camera XML (one <serial>.xml per camera)",
              "a folder of .xml files, or one .xml file", True),
    RigFormat("stereo", "OpenCV stereo YAML (M1 D1 M2 D2 R T; 2 cameras, camera 1 at the origin)",
              "a .yml / .yaml / .json file with M1 (or K1), D1, M2, D2, R, T", True),
    RigFormat("qualisys", "Qualisys Track Manager calibration", "a file named *.qca.txt", False),
)
FORMAT_NAMES = tuple(f.name for f in FORMATS)
WRITABLE = tuple(f.name for f in FORMATS if f.writable)
_YAML_SUFFIXES = (".yml", ".yaml", ".json")


def formats_help() -> str:
    """One line per format: name, what it is, how it is recognized, read / write."""
    lines = []
    for f in FORMATS:
        lines.append(f"  {f.name:<10} {f.what} ({'read and write' if f.writable else 'read only'})")
        lines += textwrap.wrap(f"recognized: {f.recognized}", 96, initial_indent=" " * 13,
                               subsequent_indent=" " * 15)
    return "\n".join(lines)


def _unknown(path: Path, why: str) -> RigError:
    return RigError(f"{path}: {why}. Known rig formats (--format NAME):\n{formats_help()}")


def _yaml_format(path: Path) -> str:
    if path.name.lower() in ("intri.yml", "extri.yml"):
        return "easymocap"
    if stereo_pair(path):
        return "stereo"
    with FileNodes(path) as nodes:
        if is_stereo_yaml(nodes):
            return "stereo"
        if nodes.has("names") and any(k.startswith(("K_", "R_", "Rot_")) for k in nodes.keys):
            return "easymocap"
    raise _unknown(path, "an OpenCV YAML file that is neither a stereo calibration (M1, D1, M2, D2, R, T; or "
                         "OpenCV stereo_calib's intrinsics.yml + extrinsics.yml) nor "
                         "an EasyMocap intri.yml / extri.yml (names, K_<cam>, ...)")


def detect_format(path: str | os.PathLike) -> str:
    """The format name of an existing rig file or folder, from its name and, where needed, its content."""
    path = Path(path)
    if not path.exists():
        raise RigError(f"rig file not found: {path} (expected a rig file or folder; formats:\n{formats_help()})")
    if path.is_dir():
        if (path / "intri.yml").is_file() and (path / "extri.yml").is_file():
            return "easymocap"
        if (path / "intrinsics.yml").is_file() and (path / "extrinsics.yml").is_file():
            return "stereo"
        if any(path.glob("*.xml")):
            return "openpose"
        if (path / "camera_array.toml").is_file():
            return "caliscope"
        raise _unknown(path, "folder holds no rig (no intri.yml + extri.yml, no OpenPose .xml files, "
                             "no camera_array.toml)")
    name = path.name.lower()
    if name.endswith(".qca.txt"):
        return "qualisys"
    if path.suffix.lower() == ".xml":
        return "openpose"
    if path.suffix.lower() in _YAML_SUFFIXES:
        return _yaml_format(path)
    if path.suffix.lower() == ".toml":
        if name == "camera_array.toml":
            return "caliscope"
        return "caliscope" if is_caliscope(load_toml(path)) else "toml"
    raise _unknown(path, f"unknown rig file type '{path.suffix or path.name}'")


def output_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The format to write to path: fmt when given, else from the name (see the module docstring)."""
    path = Path(path)
    if fmt is not None:
        if fmt not in WRITABLE:
            raise RigError(f"cannot write format {fmt!r}; writable formats: {', '.join(WRITABLE)}")
        return fmt
    name, suffix = path.name.lower(), path.suffix.lower()
    if name in ("camera_array.toml", "config.toml"):
        return "caliscope"
    if suffix == ".toml":
        return "toml"
    if name in ("intri.yml", "extri.yml"):
        return "easymocap"
    if suffix in (".yml", ".yaml"):
        return "stereo"
    if path.is_dir() or not suffix:
        return "openpose"
    raise _unknown(path, f"cannot tell the output format from the name '{path.name}' (use --format)")


def input_files(path: str | os.PathLike, fmt: str) -> list[Path]:
    """The files a rig of format fmt at path is read from (to refuse writing over them)."""
    path = Path(path)
    if fmt == "easymocap":
        folder = path if path.is_dir() else path.parent
        return [folder / "intri.yml", folder / "extri.yml"]
    if fmt == "openpose" and path.is_dir():
        return sorted(path.glob("*.xml"))
    if fmt == "caliscope" and path.is_dir():
        return [path / "camera_array.toml"]
    return [path]


def output_files(path: str | os.PathLike, rig: "Rig", fmt: str) -> list[Path]:
    """The files rig_files.write_rig(path, rig, fmt) writes."""
    path = Path(path)
    if fmt == "easymocap":
        folder = path.parent if path.name.lower() in ("intri.yml", "extri.yml") else path
        return [folder / "intri.yml", folder / "extri.yml"]
    if fmt == "openpose":
        return [path / f"{cam.name}.xml" for cam in rig.cameras]
    if fmt == "caliscope" and (path.is_dir() or not path.suffix):
        return [path / "camera_array.toml"]
    return [path]
