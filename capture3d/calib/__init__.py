"""Calibration toolbox: boards, detection, intrinsics, rig extrinsics, bundle adjustment, floor frame,
exports and reports.

Typical use (what ``capture3d calibrate`` does)::

    board = load_board("calibration/boards/charuco_7x5.toml")
    dets = detect_session("session/", board)                 # one CameraDetections per camera
    cal = calibrate_rig(from_detections(dets), board, floor=0)
    save_rig("rig.toml", cal.rig); write_report("rig_report/", cal.rig, cal)
"""
from capture3d.calib.board_import import load_board
from capture3d.calib.boards import Board, board_from_dict, board_to_toml
from capture3d.calib.bundle import BundleResult, bundle_adjust
from capture3d.calib.detect import CameraDetections, ViewDetection, detect_board, detect_camera
from capture3d.calib.frames import FrameRef, list_frames
from capture3d.calib.intrinsics import IntrinsicsResult, calibrate_intrinsics, select_views
from capture3d.calib.metrics import RigErrors, rig_errors, similarity_transform
from capture3d.calib.observations import BoardObservations, from_detections, with_extra_views
from capture3d.calib.report import build_report, layout_data, summary_text, write_report
from capture3d.calib.rig_calib import RigCalibration, calibrate_rig
from capture3d.calib.session import detect_session, session_inputs

__all__ = [
    "Board", "BoardObservations", "BundleResult", "CameraDetections", "FrameRef", "IntrinsicsResult", "RigCalibration",
    "RigErrors", "ViewDetection", "board_from_dict", "board_to_toml", "build_report", "bundle_adjust",
    "calibrate_intrinsics", "calibrate_rig", "detect_board", "detect_camera", "detect_session", "from_detections",
    "layout_data", "list_frames", "load_board", "rig_errors", "select_views", "session_inputs",
    "similarity_transform", "summary_text", "with_extra_views", "write_report",
]
