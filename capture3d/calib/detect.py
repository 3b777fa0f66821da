"""Board corner detection in images, with sub-pixel refinement, run in parallel across frames.

``detect_board(gray, board)`` finds one board in one image. ``detect_camera(refs, board)`` runs it on
all frames of one camera (a thread pool: OpenCV releases the GIL) and reports progress through a
callback, so the CLI can draw a tqdm bar while the library prints nothing.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from capture3d.errors import CalibrationError
from capture3d.calib.boards import Board
from capture3d.calib.frames import FrameRef, iter_frames

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
#: Largest image side searched at full resolution; larger images are searched downscaled, then refined.
SEARCH_MAX_SIDE_PX = 1280
MIN_CHARUCO_CORNERS = 6


@dataclass(frozen=True)
class ViewDetection:
    """Board corners found in one frame.

    frame: position of the frame in the camera's input list. label: file name (#frame for videos).
    corner_ids: (N,) int board corner ids. xy_px: (N, 2) float corner positions, px.
    """

    frame: int
    label: str
    corner_ids: np.ndarray
    xy_px: np.ndarray


@dataclass
class CameraDetections:
    """All detections of one camera.

    labels: (F,) label of every input frame (found or not). size_wh: image size, px.
    views: detections, in frame order. unreadable: labels of frames that could not be read.
    board: the board the views were detected with (detect_session may pick an inverted / legacy variant).
    """

    name: str
    size_wh: tuple[int, int] | None
    labels: list[str]
    views: list[ViewDetection] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    board: Board | None = None

    @property
    def n_frames(self) -> int:
        return len(self.labels)

    def by_frame(self) -> dict[int, ViewDetection]:
        return {v.frame: v for v in self.views}


def square_size_px(xy_px: np.ndarray, ids: np.ndarray, cols: int) -> float:
    """Smallest typical distance between neighbouring corners, px (10th percentile)."""
    pos = {int(i): k for k, i in enumerate(ids)}
    d = []
    for i, k in pos.items():
        for j in (i + 1, i + cols):
            if (j == i + 1 and (i + 1) % cols == 0) or j not in pos:
                continue
            d.append(np.linalg.norm(xy_px[pos[j]] - xy_px[k]))
    return float(np.percentile(d, 10)) if d else 0.0


def refine_window_px(sq_px: float) -> int:
    """Half-size of the cornerSubPix window for squares of ``sq_px`` pixels.

    The window (2 w + 1 wide) must stay inside the four squares around a corner, or the gradients of
    the next corners pull the estimate: w = 0.4 square, between 2 and 15 px.
    """
    return int(np.clip(np.floor(0.4 * sq_px), 2, 15))


def _canonical_checkerboard_order(gray: np.ndarray, xy: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """Reverse the corner order if the board was found rotated by 180 degrees.

    The square enclosed by corners 0, 1, cols, cols + 1 is black on our boards (square (0, 0) is black);
    when it looks brighter than its neighbour (which is white) the order is reversed. Only meaningful
    when cols + rows is odd (the board is not 180-degree symmetric).
    """
    def mean_at(quad):
        c = xy[list(quad)].mean(axis=0)
        half = max(1, int(0.15 * np.linalg.norm(xy[quad[0]] - xy[quad[1]])))
        x, y = int(round(c[0])), int(round(c[1]))
        patch = gray[max(0, y - half):y + half + 1, max(0, x - half):x + half + 1]
        return float(patch.mean()) if patch.size else 0.0

    black = mean_at((0, 1, cols, cols + 1))
    white = mean_at((1, 2, cols + 1, cols + 2))
    return xy[::-1].copy() if black > white else xy


def _detect_checkerboard(gray: np.ndarray, board: Board, thorough: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Classic detector, then cornerSubPix with a 0.4-square window (refine_window_px).

    Measured on real 1280x720 webcam stills (tools/bench/bench_corners.py, README): this chain is as good as
    the best candidate (0.664 px against a fixed reference lens; findChessboardCornersSB with
    CALIB_CB_ACCURACY 0.703 px, 5x slower; a fixed 5 px window 0.719 px, no refinement 0.984 px).
    """
    cols, rows = board.inner_corners
    h, w = gray.shape[:2]
    scale = min(1.0, SEARCH_MAX_SIDE_PX / max(h, w))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
    ok, corners = cv2.findChessboardCorners(small, (cols, rows), flags=flags)
    if not ok and thorough:
        ok, corners = cv2.findChessboardCornersSB(small, (cols, rows), flags=cv2.CALIB_CB_NORMALIZE_IMAGE)
    if not ok or corners is None:
        return None
    xy = corners.reshape(-1, 2).astype(np.float64)
    if scale < 1:
        xy = (xy + 0.5) / scale - 0.5
    ids = np.arange(cols * rows)
    win = refine_window_px(square_size_px(xy, ids, cols))
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-3)
    xy = cv2.cornerSubPix(gray, xy.astype(np.float32).reshape(-1, 1, 2), (win, win), (-1, -1), crit)
    xy = xy.reshape(-1, 2).astype(np.float64)
    if not board.symmetric:
        xy = _canonical_checkerboard_order(gray, xy, cols, rows)
    return ids, xy


def _charuco_detector(board: Board):
    """OpenCV's ChArUco detector with marker corners refined on the marker contours.

    Measured on Caliscope's real webcam videos (tools/bench/bench_corners.py, README): contour-refined
    markers give the lowest corner error against a fixed reference lens (0.160-0.475 px vs 0.163-0.476 px
    unrefined: 0.03-0.04 px better on two of four cameras, equal on the others); an extra cornerSubPix on the ChArUco corners (which OpenCV already
    refines) makes them worse (0.2-0.4 square windows: +0.05 to +1.5 px), so none is added.
    """
    params = cv2.aruco.CharucoParameters()
    params.tryRefineMarkers = True
    det_params = cv2.aruco.DetectorParameters()
    det_params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_CONTOUR
    return cv2.aruco.CharucoDetector(board.cv_charuco_board(), params, det_params)


def _detect_charuco(gray: np.ndarray, board: Board, detector) -> tuple[np.ndarray, np.ndarray] | None:
    corners, ids, _, _ = detector.detectBoard(cv2.bitwise_not(gray) if board.inverted else gray)
    if ids is None or len(ids) < MIN_CHARUCO_CORNERS:
        return None
    ids = ids.ravel().astype(np.int64)
    cols = board.inner_corners[0]
    if len(np.unique(ids % cols)) < 2 or len(np.unique(ids // cols)) < 2:
        return None  # all corners on one line: no pose information
    order = np.argsort(ids)
    return ids[order], corners.reshape(-1, 2).astype(np.float64)[order]


def detect_board(gray: np.ndarray, board: Board, thorough: bool = True,
                 detector=None) -> tuple[np.ndarray, np.ndarray] | None:
    """Find the board in one grayscale image.

    Returns (corner_ids (N,) int, xy_px (N, 2) float) or None. Checkerboards are found whole (all
    corners) and refined with a window sized to the squares; ChArUco boards may be partly visible.
    ``thorough`` adds OpenCV's slower sector-based checkerboard detector as a fallback. An ``inverted``
    ChArUco board (white markers on black) is searched in the inverted image.
    """
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_BGR2GRAY)
    if board.kind == "checkerboard":
        return _detect_checkerboard(gray, board, thorough)
    return _detect_charuco(gray, board, detector if detector is not None else _charuco_detector(board))


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def detect_camera(refs: list[FrameRef], board: Board, name: str = "camera", workers: int | None = None,
                  progress: ProgressFn | None = None, thorough: bool | None = None) -> CameraDetections:
    """Detect the board in every frame of one camera, in parallel.

    refs: frames (see frames.list_frames). progress(done, total) is called after each frame.
    thorough: also try OpenCV's slower sector-based checkerboard detector where the fast one fails
    (helps with blur, steep tilts and harsh lighting; several times slower on frames without a board).
    None (default): for image files yes, for video frames no (videos have many similar frames).
    Raises CalibrationError when the images of this camera have different sizes.
    """
    workers = workers or default_workers()
    result = CameraDetections(name, None, [r.label for r in refs])
    sizes: dict[tuple[int, int], str] = {}
    local = {}

    def work(pos: int, ref: FrameRef, gray: np.ndarray):
        det = None
        if board.kind == "charuco":
            tid = threading.get_ident()
            if tid not in local:
                local[tid] = _charuco_detector(board)
            det = local[tid]
        use_thorough = thorough if thorough is not None else ref.index is None
        return pos, ref, detect_board(gray, board, use_thorough, det)

    pending: deque[Future] = deque()
    done = 0

    def collect(fut: Future) -> None:
        nonlocal done
        pos, ref, found = fut.result()
        if found is not None:
            result.views.append(ViewDetection(pos, ref.label, found[0], found[1]))
        done += 1
        if progress is not None:
            progress(done, len(refs))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for pos, ref, gray in iter_frames(refs):
            if gray is None:
                result.unreadable.append(ref.label)
                done += 1
                if progress is not None:
                    progress(done, len(refs))
                continue
            size = (gray.shape[1], gray.shape[0])
            sizes.setdefault(size, ref.label)
            if len(sizes) > 1:
                listing = ", ".join(f"{w}x{h} (e.g. {lab})" for (w, h), lab in sizes.items())
                raise CalibrationError(f"camera {name}: images have different sizes: {listing}; all images of one "
                                       f"camera must come from the same camera at the same resolution")
            pending.append(pool.submit(work, pos, ref, gray))
            while len(pending) > 2 * workers:
                collect(pending.popleft())
        while pending:
            collect(pending.popleft())
    result.views.sort(key=lambda v: v.frame)
    result.size_wh = next(iter(sizes)) if sizes else None
    if result.unreadable and sizes:
        shown = ", ".join(result.unreadable[:10]) + (f" and {len(result.unreadable) - 10} more"
                                                     if len(result.unreadable) > 10 else "")
        log.warning("camera %s: %d of %d frame(s) could not be read and were skipped: %s", name,
                    len(result.unreadable), len(refs), shown)
    log.info("camera %s: board found in %d of %d frames", name, len(result.views), len(refs))
    return result


def require_views(det: CameraDetections, board: Board, minimum: int) -> None:
    """Raise CalibrationError, with the files and the expected board, when too few views were found."""
    if det.size_wh is None:
        raise CalibrationError(f"camera {det.name}: none of the {det.n_frames} input frame(s) could be read "
                               f"({', '.join(det.unreadable[:5])})")
    n = len(det.views)
    if n == 0:
        shown = ", ".join(det.labels[:6]) + (" ..." if det.n_frames > 6 else "")
        hint = ("check that inner_corners counts INNER corners (squares - 1 along each side) and matches the "
                "printed board" if board.kind == "checkerboard" else
                "check the squares count and the ArUco dictionary of the printed board")
        raise CalibrationError(f"camera {det.name}: no board found in any of {det.n_frames} frame(s) ({shown}); "
                               f"expected a {board.describe()}; {hint}")
    if n < minimum:
        raise CalibrationError(f"camera {det.name}: board found in only {n} of {det.n_frames} frame(s) "
                               f"({', '.join(v.label for v in det.views)}); need at least {minimum}. Record more "
                               f"views with the board at different positions and tilts")
