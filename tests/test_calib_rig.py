"""Whole-rig calibration: accuracy targets on synthetic 1080p rigs, floor frame, rejections, exports, report."""
from __future__ import annotations

import json
import tomllib
from dataclasses import replace

import numpy as np
import pytest

from capture3d.calib import board_from_dict, build_report, calibrate_rig, rig_errors, write_report
from capture3d.calib.export import export_rig_toml, load_calibration_data, save_calibration_data
from capture3d.calib.synth import SyntheticBoardPoses, intrinsic_views, random_board_poses, rig_board_observations
from capture3d.errors import CalibrationError
from capture3d.io.rig_files import load_rig, read_openpose_xml, save_rig, write_openpose_xml
from capture3d.synth import make_rig

BOARD = board_from_dict({"type": "charuco", "squares": [12, 9], "square_size": 0.07, "marker_size": 0.05,
                         "dictionary": "DICT_4X4_100"})


def _session(n_cams, seed, n_poses=150, extra=160):
    """A rig, its board observations (frame 0: board lying on the floor) and close-up views per camera."""
    rig = make_rig(n_cams, seed=seed)
    rng = np.random.default_rng(seed)
    poses = random_board_poses(rig, BOARD, n_poses, rng)
    w, h = BOARD.corners_board[:, :2].max(axis=0)
    floor_R = np.diag([1.0, -1.0, -1.0])  # board x along world X, printed side up
    poses = SyntheticBoardPoses(np.concatenate([floor_R[None], poses.R]),
                                np.concatenate([[[-w / 2, h / 2, 0.0]], poses.t]))
    obs = rig_board_observations(rig, BOARD, poses, 0.5, rng)
    views = {c.name: intrinsic_views(c, BOARD, extra, 0.5, rng, fill=(0.4, 0.8)) for c in rig.cameras}
    return rig, obs, views


def _check_targets(rig, cal):
    err = rig_errors(cal.rig, rig)
    assert np.abs(err.focal_pct).max() < 0.2
    assert err.principal_px.max() < 1.5
    assert err.rotation_deg.max() < 0.05
    assert err.center_mm.max() < 3.0
    # floor frame: each camera's view of world up matches the truth, and camera heights are right
    up_err = [np.degrees(np.arccos(np.clip(a.R[:, 2] @ b.R[:, 2], -1, 1))) for a, b in zip(cal.rig, rig)]
    assert max(up_err) < 0.2
    heights = np.array([a.center_world[2] - b.center_world[2] for a, b in zip(cal.rig, rig)])
    assert np.abs(heights).max() < 0.015  # 0.2 deg of floor tilt is 16 mm at 4.5 m
    assert 0.6 < cal.rms_px < 0.8


@pytest.fixture(scope="module")
def cal4():
    rig, obs, views = _session(4, seed=5)
    return rig, calibrate_rig(obs, BOARD, extra_views=views, floor=0)


def test_rig_accuracy_targets_4_cameras(cal4):
    rig, cal = cal4
    _check_targets(rig, cal)
    assert cal.floor_frame == 0 and cal.rejected == []
    assert cal.rig.metadata["calibration_rms_px"] == pytest.approx(cal.rms_px)


@pytest.mark.slow
def test_rig_accuracy_targets_8_cameras():
    rig, obs, views = _session(8, seed=6, n_poses=200, extra=100)
    _check_targets(rig, calibrate_rig(obs, BOARD, extra_views=views, floor=0))


def test_camera_1_is_the_world_frame_without_floor():
    rig, obs, _ = _session(4, seed=7, n_poses=100, extra=0)
    intr = {c.name: c for c in rig.cameras}
    cal = calibrate_rig(obs, BOARD, intrinsics=intr)
    np.testing.assert_allclose(cal.rig[0].R, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(cal.rig[0].tvec, 0, atol=1e-12)
    err = rig_errors(cal.rig, rig)
    assert err.center_mm.max() < 3.0 and abs(err.scale - 1) < 5e-4
    # given intrinsics stay fixed by default
    np.testing.assert_allclose(cal.rig[1].K, rig[1].K)


def test_bad_views_are_rejected_and_reported():
    rig, obs, _ = _session(4, seed=8, n_poses=100, extra=0)
    c, f = obs.views()[len(obs.views()) // 2]
    m = (obs.cam == c) & (obs.frame == f)
    obs.xy_px[m] += np.random.default_rng(0).normal(0, 8.0, (m.sum(), 2))  # a blurred / wrong detection
    cal = calibrate_rig(obs, BOARD, intrinsics={k.name: k for k in rig.cameras})
    assert [(r["camera"], r["frame"]) for r in cal.rejected] == [(rig[c].name, f)]
    assert "px" in cal.rejected[0]["reason"]
    assert not cal.used[m].any()
    assert rig_errors(cal.rig, rig).center_mm.max() < 3.0


def test_intrinsics_of_another_resolution_are_refused():
    rig, obs, _ = _session(2, seed=9, n_poses=40, extra=0)
    small = replace(rig[0], size_wh=(1280, 720))
    with pytest.raises(CalibrationError, match="1280x720 images but the session images are 1920x1080"):
        calibrate_rig(obs, BOARD, intrinsics={small.name: small})


def test_floor_frame_must_show_the_board():
    rig, obs, _ = _session(3, seed=10, n_poses=40, extra=0)
    with pytest.raises(CalibrationError, match="floor frame 999") as err:
        calibrate_rig(obs, BOARD, intrinsics={c.name: c for c in rig.cameras}, floor=999)
    # the frames to choose from are listed (issue 31, item 18)
    assert "frames where the most cameras (2) see the board: [1, 3, 4" in str(err.value)


def test_exports_report_and_data_round_trip(cal4, tmp_path):
    _, cal = cal4
    rig = cal.rig
    p = save_rig(tmp_path / "rig.toml", rig)
    back = load_rig(p)
    assert back.metadata["calibration_rms_px"] == pytest.approx(cal.rms_px)
    for flavor, first in (("anipose", "cam_0"), ("pose2sim", "cam_01")):
        data = tomllib.loads(export_rig_toml(tmp_path / f"{flavor}.toml", rig, flavor).read_text())
        assert list(data)[0] == first and len(data) == len(rig) + 1
        t = data[first]
        np.testing.assert_allclose(t["matrix"], rig[0].K)
        np.testing.assert_allclose(t["rotation"], rig[0].rvec)
        np.testing.assert_allclose(t["translation"], rig[0].tvec)
        assert len(t["distortions"]) == (5 if flavor == "anipose" else 4)
        assert data["metadata"]["error"] == pytest.approx(cal.rms_px)
    xml = write_openpose_xml(tmp_path / "op", rig)
    cam = read_openpose_xml(xml[1])
    np.testing.assert_allclose(cam.P_px, rig[1].P_px, rtol=1e-9, atol=1e-9)

    paths = write_report(tmp_path / "report", rig, cal)
    names = sorted(q.name for q in paths)
    assert names == ["coverage.png", "layout_3d.png", "report.json", "reprojection_error.png"]
    assert all(q.stat().st_size > 5000 for q in paths if q.suffix == ".png")
    rep = json.loads((tmp_path / "report" / "report.json").read_text())
    assert rep["rms_px"] == pytest.approx(cal.rms_px)
    assert [c["rms_px"] for c in rep["cameras"]] == pytest.approx(list(cal.cam_rms_px))
    assert all(c["views_used"] > 100 for c in rep["cameras"])
    assert rep["world_frame"].startswith("floor board")

    npz = save_calibration_data(tmp_path / "rig.calib.npz", cal)
    again = load_calibration_data(npz, back)
    rep2 = build_report(back, again)
    assert rep2["rms_px"] == pytest.approx(rep["rms_px"])
    assert [v["rms_px"] for v in rep2["views"]] == pytest.approx([v["rms_px"] for v in rep["views"]])


def test_floor_frame_with_the_board_in_the_air_warns_of_cameras_below():
    """A board held upright (its plane x = 0) taken as the floor: 'up' is the side of the cameras' mean, so
    the cameras on the other side end up below 'the floor', as far below as they are from the plane."""
    rig, _, _ = _session(4, seed=5, n_poses=40, extra=0)
    names = [c.name for c in rig.cameras]
    x_true = np.array([c.center_world[0] for c in rig.cameras])
    up = 1.0 if x_true.mean() > 0 else -1.0
    expected = [n for n, x in zip(names, x_true) if x * up < 0]
    assert len(expected) >= 1
    w, h = BOARD.corners_board[:, :2].max(axis=0)
    poses = random_board_poses(rig, BOARD, 150, np.random.default_rng(5))
    upright = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # x along Y, y down, z along -X
    poses = SyntheticBoardPoses(np.concatenate([upright[None], poses.R]),
                                np.concatenate([[[0.0, -w / 2, 1.2 + h / 2]], poses.t]))
    obs = rig_board_observations(rig, BOARD, poses, 0.5, np.random.default_rng(12))
    intr = {c.name: c for c in rig.cameras}
    cal = calibrate_rig(obs, BOARD, intrinsics=intr, floor=0)
    below = [w for w in cal.warnings if "below the floor plane" in w]
    assert len(below) == 1
    for n, x in zip(names, x_true):
        z = cal.rig[names.index(n)].center_world[2]
        assert z == pytest.approx(up * x, abs=0.05)  # distance to the upright board's plane, m
        assert (f"{n} (z = {z:+.2f} m)" in below[0]) == (n in expected)
    assert "frame 0 (pose0)" in below[0] and "board was probably not lying on the floor" in below[0]
    # the board lying on the floor (the session's frame 0): no such warning
    _, obs0, _ = _session(4, seed=5, n_poses=40, extra=0)
    assert not any("below the floor" in w for w in calibrate_rig(obs0, BOARD, intrinsics=intr, floor=0).warnings)


def test_bootstrap_uncertainty_bounds_the_true_error():
    from capture3d.calib.uncertainty import bootstrap_uncertainty

    rig, obs, _ = _session(3, seed=10, n_poses=40, extra=0)
    cal = calibrate_rig(obs, BOARD, intrinsics={c.name: c for c in rig.cameras})
    unc = bootstrap_uncertainty(cal, 8)
    assert unc["samples"] == 8 and [c["name"] for c in unc["cameras"]] == rig.names
    err = rig_errors(cal.rig, rig)
    for u, e_mm, e_deg in zip(unc["cameras"], err.center_mm, err.rotation_deg):
        assert e_mm < u["center_mm"] < 5.0  # measured: errors 0.4-0.5 mm, uncertainty 1.8-2.1 mm
        assert e_deg < u["rotation_deg"] < 0.1
    rep = build_report(cal.rig, replace(cal, uncertainty=unc))
    assert [c["center_uncertainty_mm"] for c in rep["cameras"]] == [u["center_mm"] for u in unc["cameras"]]
