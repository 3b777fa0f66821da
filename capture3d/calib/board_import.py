"""Board files read into a Board: ours (a ``[board]`` table, calib/boards.py) and other tools' (``load_board``).

- **Caliscope** ``charuco.toml`` (top-level keys): ``columns`` x ``rows`` squares, ``dictionary``,
  ``aruco_scale`` = marker side / square side, ``inverted`` (white markers on black), and the square side
  ``square_size_override_cm`` (cm) or, without it, the printed ``board_width`` x ``board_height`` in
  ``units`` ("inch" or "cm"), one square being the smaller of width / columns and height / rows.
- **anipose / FreeMoCap** ``config.toml``, table ``[calibration]``: ``board_type`` ("charuco" or
  "checkerboard"), ``board_size = [x, y]`` (ChArUco: squares; checkerboard: inner corners, as anipose
  hands it to OpenCV's checkerboard finder), ``board_square_side_length`` and ``board_marker_length`` in
  millimetres (anipose's documented unit; converted to metres here), and the dictionary as
  ``board_marker_bits`` + ``board_marker_dict_number`` (DICT_4X4_50 ...) or a ``board_marker_dict`` name.
- **Caliscope** ``config.toml`` (older sessions): the same keys as its charuco.toml in a ``[charuco]`` table.

This module imports calib/boards.py, never the other way round.
"""
from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

from capture3d.calib.boards import Board, board_from_dict
from capture3d.errors import ConfigError

log = logging.getLogger(__name__)

_CM_PER_UNIT = {"inch": 2.54, "cm": 1.0}
_ANIPOSE_MM_TO_M = 0.001


def import_board(data: dict, where: str, name: str) -> Board | None:
    """The board of another tool's TOML ``data``, or None when the format is not recognized."""
    if {"columns", "rows", "aruco_scale"} <= set(data):
        return caliscope_board(data, where, name)
    table = data.get("charuco")
    if isinstance(table, dict) and {"columns", "rows", "aruco_scale"} <= set(table):
        return caliscope_board(table, f"{where} [charuco]", name)
    calib = data.get("calibration")
    if isinstance(calib, dict) and "board_type" in calib:
        return anipose_board(calib, f"{where} [calibration]", name)
    return None


def load_board(path: str | os.PathLike) -> Board:
    """Load a board TOML file: ours (a ``[board]`` table, see calib/boards.py for the schema), a Caliscope
    ``charuco.toml`` or ``config.toml`` (``[charuco]`` table), or an anipose / FreeMoCap ``config.toml``
    (``[calibration]`` table)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"board file not found: {path} (expected a TOML file with a [board] table, "
                          f"see calibration/boards/)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML board file: {exc}") from None
    if "board" in data:
        return board_from_dict(data["board"], str(path), path.stem)
    board = import_board(data, str(path), path.stem)
    if board is None:
        raise ConfigError(f"{path}: no [board] table found, and not a Caliscope charuco.toml (columns, rows, "
                          f"aruco_scale) or config.toml ([charuco] table), or an anipose/FreeMoCap config "
                          f"([calibration] board_type); found keys {sorted(data)}")
    return board


def _number(table: dict, key: str, where: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where}: '{key}' must be a positive number, found {value!r}")
    return float(value)


def caliscope_board(data: dict, where: str, name: str = "board") -> Board:
    """A Caliscope ``charuco.toml`` (see the module docstring) as a ChArUco Board, square side in metres."""
    columns, rows = data.get("columns"), data.get("rows")
    override = data.get("square_size_override_cm")
    if override is not None and override != 0:
        square_m = _number(data, "square_size_override_cm", where) / 100
    else:
        units = data.get("units", "inch")
        if units not in _CM_PER_UNIT:
            raise ConfigError(f"{where}: 'units' must be one of {sorted(_CM_PER_UNIT)}, found {units!r}")
        if not (isinstance(columns, int) and isinstance(rows, int) and columns > 0 and rows > 0):
            raise ConfigError(f"{where}: 'columns' and 'rows' must be positive integers, found {columns!r}, {rows!r}")
        side = min(_number(data, "board_width", where) / columns, _number(data, "board_height", where) / rows)
        square_m = side * _CM_PER_UNIT[units] / 100
    scale = _number(data, "aruco_scale", where)
    table = {"type": "charuco", "squares": [columns, rows], "square_size": square_m,
             "marker_size": scale * square_m, "dictionary": data.get("dictionary"),
             "inverted": data.get("inverted", False), "legacy": data.get("legacy", False)}
    board = board_from_dict(table, f"{where} (Caliscope charuco.toml)", name)
    log.info("%s: read as a Caliscope board: %s", where, board.describe())
    return board


def _anipose_dictionary(calib: dict, where: str) -> str:
    if isinstance(calib.get("board_marker_dict"), str):
        return calib["board_marker_dict"]
    bits, number = calib.get("board_marker_bits"), calib.get("board_marker_dict_number")
    if not (isinstance(bits, int) and isinstance(number, int)):
        raise ConfigError(f"{where}: a ChArUco board needs 'board_marker_bits' and 'board_marker_dict_number' "
                          f"(e.g. 4 and 50 for DICT_4X4_50) or 'board_marker_dict'; found {bits!r}, {number!r}")
    return f"DICT_{bits}X{bits}_{number}"


def anipose_board(calib: dict, where: str, name: str = "board") -> Board:
    """An anipose / FreeMoCap ``[calibration]`` table (see the module docstring) as a Board, in metres."""
    kind = calib.get("board_type")
    size = calib.get("board_size")
    square_m = _number(calib, "board_square_side_length", where) * _ANIPOSE_MM_TO_M
    if kind == "checkerboard":
        table = {"type": "checkerboard", "inner_corners": size, "square_size": square_m}
    elif kind == "charuco":
        table = {"type": "charuco", "squares": size, "square_size": square_m,
                 "marker_size": _number(calib, "board_marker_length", where) * _ANIPOSE_MM_TO_M,
                 "dictionary": _anipose_dictionary(calib, where)}
    else:
        raise ConfigError(f"{where}: 'board_type' must be 'charuco' or 'checkerboard', found {kind!r}")
    board = board_from_dict(table, f"{where} (anipose/FreeMoCap config, lengths in mm)", name)
    log.info("%s: read as an anipose/FreeMoCap board (lengths in mm): %s", where, board.describe())
    return board
