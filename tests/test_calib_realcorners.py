"""The corner refinement the library uses, measured on real webcam footage (Caliscope's recordings): each
view's corners against Caliscope's own lens for that camera, only the board pose fitted (px RMS). The full
comparison of candidates is tools/bench/bench_corners.py; these checks keep the chosen chain the best."""
from __future__ import annotations

import glob
import tomllib

import cv2
import numpy as np
import pytest

from capture3d.calib.boards import Board
from capture3d.calib.detect import _charuco_detector, detect_board

pytestmark = pytest.mark.realdata
CHESS = Board("checkerboard", (9, 6), 0.025)
CHARUCO = Board("charuco", (3, 4), 0.054, (4, 5), 0.0405, "DICT_4X4_1000")


def _reference_lens(shared_data, cam: int):
    cams = tomllib.loads((shared_data / "caliscope" / "charuco_calibration" / "camera_array.toml").read_text())
    c = cams["cameras"][str(cam)]
    return np.array(c["matrix"], float), np.array(c["distortions"], float)


def _pose_only_rms(views, board, K, dist) -> float:
    sq = []
    for ids, xy in views:
        obj = board.corners_board[ids]
        _, rv, tv = cv2.solvePnP(obj, xy, K, dist)
        rv, tv = cv2.solvePnPRefineLM(obj, xy, K, dist, rv, tv)
        sq.append(np.sum((cv2.projectPoints(obj, rv, tv, K, dist)[0].reshape(-1, 2) - xy) ** 2, axis=1))
    return float(np.sqrt(np.mean(np.concatenate(sq))))


def test_checkerboard_chain_on_real_stills(shared_data):
    files = sorted(glob.glob(str(shared_data / "caliscope" / "chessboard_intrinsic" / "cam_0_*.jpg")))
    grays = [cv2.imread(f, cv2.IMREAD_GRAYSCALE) for f in files]
    ours = [v for v in (detect_board(g, CHESS) for g in grays) if v is not None]
    raw = []
    for g in grays:
        ok, c = cv2.findChessboardCorners(g, (9, 6), flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
        if ok:
            raw.append((np.arange(54), c.reshape(-1, 2).astype(float)))
    assert len(ours) == len(raw) == 4
    K, dist = _reference_lens(shared_data, 0)
    e_ours, e_raw = _pose_only_rms(ours, CHESS, K, dist), _pose_only_rms(raw, CHESS, K, dist)
    assert e_ours < 0.70  # measured 0.664 px
    assert e_ours < 0.75 * e_raw  # unrefined corners: 0.984 px


def test_charuco_contour_refined_markers_on_a_real_video(shared_data):
    """cam_3's inverted ChArUco intrinsic video, every 2nd frame: the library's detector (markers refined
    on their contours) against the same detector with unrefined markers (the previous default)."""
    ours = _charuco_detector(CHARUCO)
    params = ours.getDetectorParameters()
    params.detectInvertedMarker = True
    ours.setDetectorParameters(params)
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_NONE
    old = cv2.aruco.CharucoDetector(CHARUCO.cv_charuco_board(), ours.getCharucoParameters(), params)
    cap = cv2.VideoCapture(str(shared_data / "caliscope" / "prerecorded_calibration" / "calibration" / "intrinsic"
                               / "cam_3.mp4"))
    got = {"ours": [], "old": []}
    k = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if k % 2 == 0:
            g = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            for key, det in (("ours", ours), ("old", old)):
                found = detect_board(g, CHARUCO, True, det)
                if found is not None:
                    got[key].append(found)
        k += 1
    cap.release()
    assert len(got["ours"]) >= 10 and len(got["ours"]) == len(got["old"])
    K, dist = _reference_lens(shared_data, 3)
    e_ours, e_old = _pose_only_rms(got["ours"], CHARUCO, K, dist), _pose_only_rms(got["old"], CHARUCO, K, dist)
    assert e_ours < 0.2  # measured 0.164 px (0.160 on all 48 frames)
    assert e_ours < e_old - 0.005  # unrefined: 0.175 px (0.197 on all 48 frames)
