"""Check the board definition on the first frames before detecting the whole session.

A wrong board file (wrong squares count or dictionary, an inverted or pre-OpenCV-4.6 print) otherwise
costs a full detection pass before an unhelpful error. ``probe_board`` looks at a few frames of each
camera, spread evenly over its recording (the board often appears only after the operator walked in: in
Caliscope's sample session it is first seen at 60% of the videos); when the board as defined is never found there it tries the inverted and the legacy
variants of a ChArUco board, uses the one that is found (with a warning), or stops with an error that
names the board definition as the likely cause and lists what was tried.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from capture3d.calib.boards import Board
from capture3d.calib.detect import detect_camera, require_views
from capture3d.calib.frames import FrameRef
from capture3d.errors import CalibrationError

log = logging.getLogger(__name__)

#: Frames per camera (evenly spread) searched before the whole session (0 disables the check).
PROBE_FRAMES = 30


def board_variants(board: Board) -> list[tuple[str, Board]]:
    """[(description, board)]: the other print variants of a ChArUco board (inverted, legacy, both);
    none for a checkerboard (its detection does not depend on the colours)."""
    if board.kind != "charuco":
        return []
    out = []
    for inv, leg in ((not board.inverted, board.legacy), (board.inverted, not board.legacy),
                     (not board.inverted, not board.legacy)):
        what = [f"inverted = {str(inv).lower()}" if inv != board.inverted else "",
                f"legacy = {str(leg).lower()}" if leg != board.legacy else ""]
        out.append((", ".join(w for w in what if w), replace(board, inverted=inv, legacy=leg)))
    return out


def probe_frames(refs: list[FrameRef], n_frames: int) -> list[FrameRef]:
    """At most n_frames of refs, evenly spread from the first to the last, in order."""
    if len(refs) <= n_frames:
        return list(refs)
    return [refs[int(i)] for i in np.unique(np.linspace(0, len(refs) - 1, n_frames).round())]


def _found_in(refs_by_cam: dict[str, list[FrameRef]], board: Board, workers, thorough) -> tuple[str | None, int]:
    """(name of the first camera whose probe frames show the board, corners found there), else (None, 0)."""
    for name, refs in refs_by_cam.items():
        if not refs:
            continue
        det = detect_camera(refs, board, name, workers, None, thorough)
        if det.size_wh is None:  # not one frame could be read: that, not the board, is the problem
            require_views(det, board, 1)
        if det.views:
            return name, sum(len(v.corner_ids) for v in det.views)
    return None, 0


def _legacy_check(probes: dict, board: Board, cam: str, n_corners: int, workers, thorough) -> Board:
    """With an even number of rows the new and the legacy ChArUco layouts share some markers, so the wrong
    one finds part of the corners: keep the layout that finds clearly more (1.2 x) in camera ``cam``."""
    if board.kind != "charuco" or board.squares_xy[1] % 2:
        return board
    other = replace(board, legacy=not board.legacy)
    _, n_other = _found_in({cam: probes[cam]}, other, workers, thorough)
    if n_other > 1.2 * n_corners:
        log.warning("camera %s: the board finds %d corners with legacy = %s but %d as defined: using legacy = %s "
                    "(write it into the board file)", cam, n_other, str(other.legacy).lower(), n_corners,
                    str(other.legacy).lower())
        return other
    return board


def probe_board(refs_by_cam: dict[str, list[FrameRef]], board: Board, workers: int | None = None,
                n_frames: int = PROBE_FRAMES, thorough: bool | None = None) -> Board:
    """The board to detect with: ``board`` when some camera sees it in ``n_frames`` of its frames spread
    evenly over the recording (probe_frames), else the first variant (board_variants) that is seen, with a log warning.

    refs_by_cam: {camera name: its frames, in order}. n_frames 0 skips the check. Raises
    CalibrationError when neither the board nor a variant is found in any camera's first frames.
    """
    if n_frames <= 0:
        return board
    probes = {name: probe_frames(refs, n_frames) for name, refs in refs_by_cam.items()}
    cam, n_corners = _found_in(probes, board, workers, thorough)
    if cam is not None:
        return _legacy_check(probes, board, cam, n_corners, workers, thorough)
    variants = board_variants(board)
    for what, variant in variants:
        cam, _ = _found_in(probes, variant, workers, thorough)
        if cam is not None:
            log.warning("board not found as defined in %d frames of each camera, but found with %s "
                        "(camera %s): using %s; write %s into the board file to skip this search",
                        n_frames, what, cam, variant.describe(), what)
            return variant
    tried = "; also tried " + " / ".join(w for w, _ in variants) if variants else ""
    hint = ("check the squares count (columns x rows of squares), the marker and square sizes and the ArUco "
            "dictionary of the printed board" if board.kind == "charuco" else
            "check that inner_corners counts INNER corners (squares - 1 along each side)")
    counts = ", ".join(f"{name} {len(refs)}" for name, refs in probes.items())
    raise CalibrationError(f"board not found in any camera ({counts} frames searched, spread over the recordings): "
                           f"expected a {board.describe()}{tried}. The board definition is the likely cause: "
                           f"{hint}. If the board is seen in only a few frames, pass --probe-frames 0 to search them all")
