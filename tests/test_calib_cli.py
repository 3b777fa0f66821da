"""``capture3d calibrate`` end to end on rendered images: intrinsics, rig (+ floor, exports), report."""
from __future__ import annotations

import json

import numpy as np
import pytest

from capture3d.calib import board_from_dict, board_to_toml, rig_errors
from capture3d.calib.synth import (SyntheticBoardPoses, random_board_poses, write_intrinsic_images,
                                   write_session_images)
from calib_helpers import run_calibrate
from capture3d.errors import CalibrationError
from capture3d.geometry.camera import Rig
from capture3d.io.rig_files import load_rig, save_rig
from capture3d.synth import make_rig

BOARD = board_from_dict({"type": "charuco", "squares": [7, 5], "square_size": 0.12, "marker_size": 0.09,
                         "dictionary": "DICT_4X4_50"})


_run = run_calibrate


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
    # stopped by the probe (12 frames searched), not after a whole detection pass
    with pytest.raises(CalibrationError, match="cam1 12 frames searched.*board definition is the likely cause"):
        _run(["calibrate", "intrinsics", "--board", str(wrong), "--camera", "cam1", str(root / "intr_cam1"),
              "-o", str(root / "x.toml"), "--no-progress"])
    with pytest.raises(CalibrationError, match="cam1 5 frames searched"):
        _run(["calibrate", "intrinsics", "--board", str(wrong), "--camera", "cam1", str(root / "intr_cam1"),
              "-o", str(root / "x.toml"), "--no-progress", "--probe-frames", "5"])
    # without the probe the whole pass runs, and the error names the frames
    with pytest.raises(CalibrationError, match="no board found in any of 12 frame"):
        _run(["calibrate", "intrinsics", "--board", str(wrong), "--camera", "cam1", str(root / "intr_cam1"),
              "-o", str(root / "x.toml"), "--no-progress", "--probe-frames", "0"])


def test_max_views_below_the_minimum_is_refused(session, capsys):
    root, _ = session
    for n in ("0", "3"):
        with pytest.raises(SystemExit) as stop:
            _run(["calibrate", "intrinsics", "--board", str(root / "board.toml"), "--camera", "cam1",
                  str(root / "intr_cam1"), "-o", str(root / "x.toml"), "--no-progress", "--max-views", n])
        assert stop.value.code == 2
        assert f"argument --max-views: expected >= 4 and <= 100000, found {n}" in capsys.readouterr().err
    assert not (root / "x.toml").exists()


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


def _caliscope_rig_file(path, rig):
    """The rig in Caliscope's camera_array.toml layout: [cameras.N], rotation 3x3 and translation world->camera."""
    lines = []
    for cam in rig.cameras:
        n = int(cam.name[3:])
        lines += [f"[cameras.{n}]", f"cam_id = {n}", f"size = {list(cam.size_wh)}", "error = 0.3",
                  f"matrix = {cam.K.tolist()}", f"distortions = {cam.dist.tolist()}",
                  f"rotation = {cam.R.tolist()}", f"translation = {cam.tvec.tolist()}", ""]
    path.write_text("\n".join(lines))
    return path


def test_timestamps_pair_frames_by_sync_index_and_reference_is_compared(session, capsys):
    """cam1's video starts 2 frames early (2 empty frames); timestamps.csv says which frames are one moment.
    Frame indices of the other cameras start at 100 (Caliscope counts from the recording start)."""
    import cv2

    root, rig = session
    vids = root / "synced"
    vids.mkdir()
    rows = ["sync_index,cam_id,frame_index,frame_time"]
    for cam in rig.cameras:
        frames = [cv2.imread(str(f)) for f in sorted((root / "session" / cam.name).glob("*.png"))]
        lead = 2 if cam.name == "cam1" else 0
        vw = cv2.VideoWriter(str(vids / f"{cam.name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, cam.size_wh)
        for f in [np.full_like(frames[0], 90)] * lead + frames:
            vw.write(f)
        vw.release()
        cid = int(cam.name[3:])
        for s in range(len(frames)):
            rows.append(f"{s + 7},{cid},{s + lead if lead else s + 100},{(s + 7) / 30:.4f}")
    (vids / "timestamps.csv").write_text("\n".join(rows) + "\n")
    intr = [str(save_rig(root / f"s_{c.name}.toml", Rig((c.with_pose(np.zeros(3), np.zeros(3)),))))
            for c in rig.cameras]
    ref = _caliscope_rig_file(root / "camera_array.toml", rig)
    assert _run(["calibrate", "rig", "--board", str(root / "board.toml"), str(vids), "-o", str(root / "srig.toml"),
                 "--intrinsics", *intr, "--no-progress", "--workers", "2", "--reference", str(ref)]) == 0
    est = load_rig(root / "srig.toml")
    assert rig_errors(est, rig).center_mm.max() < 10
    out = capsys.readouterr().out
    assert "board found in" in out and "against" in out and "camera_array.toml" in out
    rep = json.loads((root / "srig_report" / "report.json").read_text())
    assert [c["name"] for c in rep["reference"]["cameras"]] == ["cam1", "cam2", "cam3", "cam4"]
    assert max(c["center_mm"] for c in rep["reference"]["cameras"]) < 10
    assert max(c["rotation_deg"] for c in rep["reference"]["cameras"]) < 0.5  # MJPG video frames
    assert abs(rep["square_check"]["error_pct"]) < 0.5 and rep["square_check"]["pairs"] > 100
    assert all(v["label"].startswith("sync") for v in rep["views"])
    assert rep["uncertainty"]["samples"] == 5  # the default bootstrap
    assert all(0 < c["center_uncertainty_mm"] < 10 and c["rotation_uncertainty_deg"] < 0.5 for c in rep["cameras"])
    capsys.readouterr()
    # `calibrate report` later shows the same comparison, square check and uncertainty (kept in rig.calib.npz)
    assert _run(["calibrate", "report", str(root / "srig.toml"), "-o", str(root / "srep2")]) == 0
    again = json.loads((root / "srep2" / "report.json").read_text())
    assert again["reference"] == rep["reference"] and again["square_check"] == rep["square_check"]
    assert again["uncertainty"] == rep["uncertainty"]
    assert "against" in capsys.readouterr().out


@pytest.mark.parametrize("n", [1, 2])
def test_one_and_two_camera_sessions_of_the_rendered_rig(session, tmp_path, capsys, n):
    """The first n cameras of the rendered session, their true intrinsics fixed: the poses (relative to camera
    1), the pair's baseline against the truth, the bootstrap and --reference with fewer than 3 cameras."""
    root, rig = session
    sub = Rig(rig.cameras[:n])
    (tmp_path / "s").mkdir()
    for cam in sub.cameras:
        (tmp_path / "s" / cam.name).symlink_to(root / "session" / cam.name)
    intr = str(save_rig(tmp_path / "intr.toml", Rig(tuple(c.with_pose(np.zeros(3), np.zeros(3)) for c in sub))))
    save_rig(tmp_path / "truth.toml", sub)
    ref = ["--reference", str(tmp_path / "truth.toml")] if n == 2 else []
    assert _run(["calibrate", "rig", "--board", str(root / "board.toml"), str(tmp_path / "s"), "-o",
                 str(tmp_path / "rig.toml"), "--intrinsics", intr, "--fix-intrinsics", "--no-progress",
                 "--uncertainty", "3", *ref]) == 0
    est = load_rig(tmp_path / "rig.toml")
    rep = json.loads((tmp_path / "rig_report" / "report.json").read_text())
    assert est.names == sub.names and rep["rms_px"] < 0.5
    err = rig_errors(est, sub)
    assert err.center_mm.max() < 10 and err.rotation_deg.max() < 0.2, err.summary()
    if n == 1:
        assert "pairs" not in rep and "uncertainty" not in rep
        return
    true_base = np.linalg.norm(sub[1].center_world - sub[0].center_world)
    assert rep["pairs"][0]["baseline_m"] == pytest.approx(true_base, rel=0.005)
    assert rep["pairs"][0]["epipolar_rms_px"] < 0.5
    assert rep["uncertainty"]["samples"] == 3 and rep["cameras"][1]["center_uncertainty_mm"] < 20
    assert max(c["center_mm"] for c in rep["reference"]["cameras"]) < 10
