"""Calibration boards: checkerboard and ChArUco, loaded from ``calibration/boards/*.toml``.

Board frame: origin at the first inner corner, x along the columns (to the right on the printed
board), y along the rows (down on the printed board), z = x cross y (into the board). Corner ``i`` of
a checkerboard with ``inner_corners = [cols, rows]`` lies at ``(i % cols, i // cols, 0) * square_size``;
ChArUco corners use the same layout with ``cols, rows = squares_x - 1, squares_y - 1`` and are
identified by OpenCV's ChArUco corner ids (which follow the same order).

TOML schema (kept stable: users write these by hand)::

    [board]
    type = "checkerboard"        # or "charuco"
    inner_corners = [9, 6]       # checkerboard: inner corners along x (columns) and y (rows)
    square_size = 0.025          # metres (any unit works; results come out in that unit)
    # charuco only: squares = [7, 5], marker_size = 0.018, dictionary = "DICT_4X4_50"
    # charuco, optional: inverted = true (white markers on black squares, e.g. Caliscope's boards),
    #                    legacy = true (printed with OpenCV < 4.6: setLegacyPattern, matters for even rows)

Boards of other tools (a Caliscope ``charuco.toml``, an anipose / FreeMoCap ``config.toml`` with a
``[calibration]`` table) are read too: ``load_board`` (calib/board_import.py) recognizes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from capture3d.errors import ConfigError
from capture3d.io.toml_write import toml_table

BOARD_TYPES = ("checkerboard", "charuco")
_KEYS = {"checkerboard": {"type", "inner_corners", "square_size"},
         "charuco": {"type", "squares", "square_size", "marker_size", "dictionary"}}
_OPTIONAL = {"checkerboard": set(), "charuco": {"inverted", "legacy"}}


@dataclass(frozen=True)
class Board:
    """A planar calibration target.

    kind: "checkerboard" or "charuco".
    inner_corners: (cols, rows) inner corners (for ChArUco: squares - 1).
    square_size: side of one square, in the unit of the results (metres by convention).
    squares: (squares_x, squares_y) for ChArUco, else None.
    marker_size: ArUco marker side (ChArUco only), same unit as square_size.
    dictionary: ArUco dictionary name such as "DICT_4X4_50" (ChArUco only).
    inverted: white markers on black squares (ChArUco only; detection runs on the inverted image).
    legacy: the marker layout of OpenCV < 4.6 (ChArUco only; differs from the new one for even rows).
    """

    kind: str
    inner_corners: tuple[int, int]
    square_size: float
    squares: tuple[int, int] | None = None
    marker_size: float | None = None
    dictionary: str | None = None
    name: str = "board"
    inverted: bool = False
    legacy: bool = False

    # ------------------------------------------------------------------------------- geometry
    @property
    def n_corners(self) -> int:
        return self.inner_corners[0] * self.inner_corners[1]

    @property
    def squares_xy(self) -> tuple[int, int]:
        """(squares_x, squares_y): number of squares of the printed board."""
        if self.squares is not None:
            return self.squares
        return self.inner_corners[0] + 1, self.inner_corners[1] + 1

    @cached_property
    def corners_board(self) -> np.ndarray:
        """(N, 3) corner positions in the board frame (z = 0), in the square-size unit."""
        cols, rows = self.inner_corners
        i = np.arange(cols * rows)
        xyz = np.zeros((cols * rows, 3))
        xyz[:, 0] = (i % cols) * self.square_size
        xyz[:, 1] = (i // cols) * self.square_size
        return xyz

    @property
    def size_board(self) -> tuple[float, float]:
        """(width, height) of the printed squares area, in the square-size unit."""
        sx, sy = self.squares_xy
        return sx * self.square_size, sy * self.square_size

    @property
    def symmetric(self) -> bool:
        """True when a checkerboard looks the same rotated by 180 degrees (cols + rows even).

        Such a board gives an ambiguous corner order, which breaks multi-camera calibration.
        """
        return self.kind == "checkerboard" and sum(self.inner_corners) % 2 == 0

    def describe(self) -> str:
        """One line such as 'checkerboard 9x6 inner corners, square 0.025'."""
        if self.kind == "checkerboard":
            c, r = self.inner_corners
            return f"checkerboard {c}x{r} inner corners ({c + 1}x{r + 1} squares), square {self.square_size:g}"
        sx, sy = self.squares_xy
        flags = "".join([", inverted" if self.inverted else "", ", legacy pattern" if self.legacy else ""])
        return (f"ChArUco {sx}x{sy} squares ({sx - 1}x{sy - 1} inner corners), square {self.square_size:g}, "
                f"marker {self.marker_size:g}, {self.dictionary}{flags}")

    # ------------------------------------------------------------------------------- OpenCV
    def aruco_dictionary(self):
        """The cv2.aruco dictionary of a ChArUco board."""
        return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))

    def cv_charuco_board(self):
        """A cv2.aruco.CharucoBoard matching this board (ChArUco only)."""
        if self.kind != "charuco":
            raise ConfigError(f"board '{self.name}' is a {self.kind}, not a ChArUco board")
        cv_board = cv2.aruco.CharucoBoard(self.squares_xy, float(self.square_size), float(self.marker_size),
                                          self.aruco_dictionary())
        if self.legacy:
            cv_board.setLegacyPattern(True)
        return cv_board

    def texture(self, px_per_square: int) -> np.ndarray:
        """(H, W) uint8 image of the squares area, ``px_per_square`` pixels per square (no margin).

        Square (0, 0), top left, is black for a checkerboard (OpenCV's ChArUco convention for ChArUco).
        """
        sx, sy = self.squares_xy
        if self.kind == "charuco":
            img = self.cv_charuco_board().generateImage((sx * px_per_square, sy * px_per_square), marginSize=0,
                                                        borderBits=1)
            return 255 - img if self.inverted else img
        yy, xx = np.mgrid[0:sy, 0:sx]
        tile = np.where((xx + yy) % 2 == 0, 0, 255).astype(np.uint8)
        return np.kron(tile, np.ones((px_per_square, px_per_square), np.uint8))


def _int_pair(value, where: str, key: str, minimum: int) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                                   for v in value)):
        raise ConfigError(f"{where}: '{key}' must be two integers [x, y], found {value!r}")
    if min(value) < minimum:
        raise ConfigError(f"{where}: '{key}' values must be >= {minimum}, found {value!r}")
    return int(value[0]), int(value[1])


def _positive(value, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{where}: '{key}' must be a positive number, found {value!r}")
    return float(value)


def board_from_dict(table: dict, where: str = "board", name: str = "board") -> Board:
    """Build a Board from the ``[board]`` table. Unknown keys are an error listing the allowed ones."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a [board] table")
    kind = table.get("type")
    if kind not in BOARD_TYPES:
        raise ConfigError(f"{where}: 'type' must be one of {list(BOARD_TYPES)}, found {kind!r}")
    unknown = set(table) - _KEYS[kind] - _OPTIONAL[kind]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} for a {kind} board; allowed: "
                          f"{sorted(_KEYS[kind] | _OPTIONAL[kind])}")
    missing = _KEYS[kind] - set(table)
    if missing:
        raise ConfigError(f"{where}: missing key(s) {sorted(missing)} for a {kind} board")
    square = _positive(table["square_size"], where, "square_size")
    if kind == "checkerboard":
        inner = _int_pair(table["inner_corners"], where, "inner_corners", 2)
        return Board("checkerboard", inner, square, name=name)
    squares = _int_pair(table["squares"], where, "squares", 3)
    marker = _positive(table["marker_size"], where, "marker_size")
    if marker >= square:
        raise ConfigError(f"{where}: 'marker_size' ({marker:g}) must be smaller than 'square_size' ({square:g})")
    dictionary = table["dictionary"]
    if not isinstance(dictionary, str) or not dictionary.startswith("DICT_") or not hasattr(cv2.aruco, dictionary):
        raise ConfigError(f"{where}: 'dictionary' must be an OpenCV ArUco dictionary name such as "
                          f"'DICT_4X4_50', found {dictionary!r}")
    flags = {}
    for key in ("inverted", "legacy"):
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: '{key}' must be true or false, found {value!r}")
        flags[key] = value
    board = Board("charuco", (squares[0] - 1, squares[1] - 1), square, squares, marker, dictionary, name, **flags)
    n_markers = (squares[0] * squares[1]) // 2
    dict_size = board.aruco_dictionary().bytesList.shape[0]
    if n_markers > dict_size:
        raise ConfigError(f"{where}: a {squares[0]}x{squares[1]} ChArUco board needs {n_markers} markers but "
                          f"{dictionary} has only {dict_size}; use a larger dictionary (e.g. DICT_4X4_100)")
    return board


def board_to_toml(board: Board) -> str:
    """The ``[board]`` TOML text of a board (inverse of load_board)."""
    if board.kind == "checkerboard":
        items = {"type": board.kind, "inner_corners": list(board.inner_corners), "square_size": board.square_size}
    else:
        items = {"type": board.kind, "squares": list(board.squares_xy), "square_size": board.square_size,
                 "marker_size": board.marker_size, "dictionary": board.dictionary}
        items.update({k: True for k in ("inverted", "legacy") if getattr(board, k)})
    return toml_table(items, "board")
