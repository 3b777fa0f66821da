"""``capture3d calibrate`` end to end on rendered images: intrinsics, rig (+ floor, exports), report."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from capture3d.calib import board_from_dict, board_to_toml, rig_errors
from capture3d.calib.synth import (SyntheticBoardPoses, random_board_poses, write_intrinsic_images,
                                   write_session_images)
from capture3d.cli import calibrate as calibrate_cli
from capture3d.errors import CalibrationError
from capture3d.geometry.camera import Rig
from capture3d.io.rig_files import load_rig, save_rig
from capture3d.synth import make_rig

BOARD = board_from_dict({"type": "charuco", "squares": [7, 5], "square_size": 0.12, "marker_size": 0.09,
                         "dictionary": "DICT_4X4_50"})


def _run(argv):
    parser = argparse.ArgumentParser()
    calibrate_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    root = tmp_path_factory.mktemp("calib_session")
    rig = make_rig(4, size_wh=(640, 360), radius_m=2.2, target_world=(0.0, 0.0, 0.4), seed=4)
    rng = np.random.default_rng(0)
    poses = random_board_poses(rig, BOARD, 18, rng, center_world=(0, 0, 0.7), half_extent_m=(0.5, 0.5, 0.3),
                               max_tilt_deg=30)
    w, h = BOARD.corners_board[:, :2].max(axis=0)
    poses = SyntheticBoardPoses(np.concatenate([np.diag([1.0, -1.0, -1.0])[None], poses.R]),
                                np.concatenate([[[-w / 2, h / 2, 0.0]], poses.t]))
    write_session_images(root / "session", rig, BOARD, poses, rng)
    write_intrinsic_images(root / "intr_cam1", rig[0], BOARD, 12, rng)
    (root / "board.toml").write_text(board_to_toml(BOARD))
    return root, rig


def test_calibrate_intrinsics_then_rig_then_report(session, capsys):
    root, rig = session
    b = str(root / "board.toml")
    assert _run(["calibrate", "intrinsics", "--board", b, "--camera", "cam1", str(root / "intr_cam1"),
                 "-o", str(root / "cam1.toml"), "--no-progress", "--workers", "2"]) == 0
    cam1 = load_rig(root / "cam1.toml")
    assert cam1.names == ["cam1"]
    assert cam1.metadata["calibration_rms_px"] < 0.3
    assert abs(cam1[0].focal_px / rig[0].focal_px - 1) < 0.01
    out = capsys.readouterr().out
    assert "board found in 12 of 12 frames" in out

    # the other cameras' intrinsics come from an earlier calibration (here: the truth)
    others = [str(save_rig(root / f"{c.name}.toml", Rig((c.with_pose(np.zeros(3), np.zeros(3)),))))
              for c in rig.cameras[1:]]
    assert _run(["calibrate", "rig", "--board", b, str(root / "session"), "-o", str(root / "rig.toml"),
                 "--intrinsics", str(root / "cam1.toml"), *others, "--floor", "0", "--no-progress", "--workers", "2",
                 "--openpose", str(root / "op"), "--anipose", str(root / "anipose.toml"),
                 "--pose2sim", str(root / "pose2sim.toml")]) == 0
    est = load_rig(root / "rig.toml")
    assert est.names == ["cam1", "cam2", "cam3", "cam4"]
    err = rig_errors(est, rig)
    assert err.center_mm.max() < 10 and err.rotation_deg.max() < 0.2
    up = [np.degrees(np.arccos(np.clip(a.R[:, 2] @ t.R[:, 2], -1, 1))) for a, t in zip(est, rig)]
    assert max(up) < 0.5
    assert est.metadata["calibration_rms_px"] < 0.5
    assert sorted(p.name for p in (root / "op").iterdir()) == ["cam1.xml", "cam2.xml", "cam3.xml", "cam4.xml"]
    assert (root / "anipose.toml").is_file() and (root / "pose2sim.toml").is_file()
    assert (root / "rig.calib.npz").is_file()
    rep = json.loads((root / "rig_report" / "report.json").read_text())
    assert rep["rms_px"] == pytest.approx(est.metadata["calibration_rms_px"])
    capsys.readouterr()

    assert _run(["calibrate", "report", str(root / "rig.toml"), "-o", str(root / "rep2")]) == 0
    out = capsys.readouterr().out
    assert "RMS reprojection error" in out and "cam4" in out
    assert sorted(p.name for p in (root / "rep2").iterdir()) == ["coverage.png", "layout_3d.png", "report.json",
                                                                  "reprojection_error.png"]


def test_wrong_board_is_a_clear_error(session):
    root, _ = session
    wrong = root / "wrong.toml"
    wrong.write_text('[board]\ntype = "checkerboard"\ninner_corners = [9, 6]\nsquare_size = 0.12\n')
    with pytest.raises(CalibrationError, match="no board found in any of 12 frame"):
        _run(["calibrate", "intrinsics", "--board", str(wrong), "--camera", "cam1", str(root / "intr_cam1"),
              "-o", str(root / "x.toml"), "--no-progress"])


def test_rig_from_videos_pairs_frames_by_index(session, capsys):
    import cv2

    root, rig = session
    vids = root / "videos"
    vids.mkdir()
    for cam in rig.cameras:
        frames = sorted((root / "session" / cam.name).glob("*.png"))
        vw = cv2.VideoWriter(str(vids / f"{cam.name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, cam.size_wh)
        for f in frames:
            vw.write(cv2.imread(str(f)))
        vw.release()
    intr = [str(save_rig(root / f"v_{c.name}.toml", Rig((c.with_pose(np.zeros(3), np.zeros(3)),))))
            for c in rig.cameras]
    assert _run(["calibrate", "rig", "--board", str(root / "board.toml"), str(vids), "-o", str(root / "vrig.toml"),
                 "--intrinsics", *intr, "--no-progress", "--workers", "2"]) == 0
    est = load_rig(root / "vrig.toml")
    assert est.names == [c.name for c in rig.cameras]
    assert rig_errors(est, rig).center_mm.max() < 10
    assert est.metadata["world_frame"] == "camera cam1"
    assert "board found in" in capsys.readouterr().out
