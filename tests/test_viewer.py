"""Viewer logic that needs no display: draw arrays, frustums, colours, GL projection maths, the display
check, the synthetic live stream, the status text, result/rig checks and the CLI's headless message."""
from __future__ import annotations

import os

import numpy as np
import pytest

from capture3d.geometry.camera import Camera, Rig
from capture3d.cli import main as cli_main
from capture3d.export import write_keypoints3d
from capture3d.io.rig_files import save_rig
from capture3d.body.keypoint_sets import BODY_25, WHOLEBODY_135
from capture3d.synth import make_rig, walking_motion
from capture3d.types import Keypoints3D
from capture3d.viewer import has_display
from capture3d.viewer.geometry import (FOLLOWED_SCALE, LABEL_ABOVE_M, SkeletonStyle, error_rgba, fit_view,
                                       frustum_segments, people_draw, people_labels, person_rgba, project_to_widget,
                                       skeleton_draw)


def test_skeleton_draw_selects_parts_and_finite_joints():
    motion = walking_motion(5, whole_body=True)
    style = SkeletonStyle.of(WHOLEBODY_135)
    xyz = motion.xyz_world[2].copy()
    full = skeleton_draw(style, xyz)
    assert len(full.joint_xyz) == 135
    assert len(full.line_xyz) == 2 * len(WHOLEBODY_135.bones)
    no_hands = skeleton_draw(style, xyz, show_hands=False)
    assert len(no_hands.joint_xyz) == 135 - 40
    no_face = skeleton_draw(style, xyz, show_face=False)
    assert len(no_face.joint_xyz) == 135 - 70
    assert set(no_face.joint_index) == set(range(65))
    xyz[BODY_25.index("RElbow")] = np.nan  # two body bones touch the elbow
    missing = skeleton_draw(style, xyz)
    assert len(missing.joint_xyz) == 134
    assert len(missing.line_xyz) == 2 * (len(WHOLEBODY_135.bones) - 2)
    # colours follow OpenPose: RWrist joint is (255, 255, 0)
    k = list(full.joint_index).index(BODY_25.index("RWrist"))
    np.testing.assert_allclose(full.joint_rgba[k], [1.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"\(135, 3\)"):
        skeleton_draw(style, np.zeros((25, 3)))


def test_people_draw_every_person_in_the_colour_of_its_id():
    motion = walking_motion(5)
    style = SkeletonStyle.of(BODY_25)
    xyz = np.stack([motion.xyz_world[1], motion.xyz_world[1] + [1.0, 0, 0], motion.xyz_world[1] - [1.0, 0, 0]])
    xyz[1, BODY_25.index("RElbow")] = np.nan  # person 5 misses one joint (two bones)
    ids = np.array([2, 5, 9])
    d = people_draw(style, ids, xyz, followed=5)
    B = len(BODY_25.bones)
    assert len(d.joint_xyz) == 3 * 25 - 1 and len(d.line_xyz) == 2 * (3 * B - 2)
    np.testing.assert_array_equal(np.bincount(d.joint_person), [25, 24, 25])
    rgba = person_rgba(ids)
    np.testing.assert_array_equal(d.joint_rgba, rgba[d.joint_person])
    np.testing.assert_array_equal(d.joint_xyz, xyz[d.joint_person, d.joint_index])
    np.testing.assert_allclose(d.joint_size_px, np.where(d.joint_person == 1, FOLLOWED_SCALE, 1.0) * 10.0)
    # each bone segment joins two joints of one person and has that person's colour
    seg = d.line_xyz.reshape(-1, 2, 3)
    owner = np.argmin(np.abs(seg[:, 0, None, 0] - xyz[None, :, 8, 0]), axis=1)  # 1 m apart in x: by x
    np.testing.assert_array_equal(d.line_rgba[::2], rgba[owner])
    # colours: a fixed function of the id, far apart for consecutive ids, in [0, 1]
    many = person_rgba(np.arange(1, 9))
    np.testing.assert_array_equal(person_rgba([5]), many[4:5])
    gaps = np.linalg.norm(many[1:, :3] - many[:-1, :3], axis=1)
    assert gaps.min() > 0.5 and many.min() >= 0 and many.max() <= 1
    assert np.all(np.linalg.norm(many[:, None, :3] - many[None, :, :3], axis=-1)[np.triu_indices(8, 1)] > 0.1)
    # id labels above each person's highest joint, in its colour; the followed one marked; nobody seen: none
    xyz[2] = np.nan
    labels = people_labels(ids, xyz, followed=5)
    assert [t for _, t, _ in labels] == ["2", "5 ●"]
    np.testing.assert_allclose(labels[1][0][2], np.nanmax(xyz[1, :, 2]) + LABEL_ABOVE_M)
    assert labels[0][2] == tuple(np.round(rgba[0, :3] * 255).astype(int).tolist())
    with pytest.raises(ValueError, match=r"\(3, 25, 3\)"):
        people_draw(style, ids, np.zeros((2, 25, 3)))
    empty = people_draw(style, np.zeros(0, int), np.zeros((0, 25, 3)))
    assert len(empty.joint_xyz) == 0 and len(empty.line_xyz) == 0
    assert people_labels(np.zeros(0, int), np.zeros((0, 25, 3))) == []  # nobody has an id yet


def test_frustum_corners_project_to_the_image_corners():
    rig = make_rig(3, distortion=False, seed=4)
    cam = rig[1]
    seg = frustum_segments(cam, depth_m=0.5)
    np.testing.assert_allclose(seg[0], cam.center_world, atol=1e-9)
    corners = seg[[1, 5, 9, 13]]
    w, h = cam.size_wh
    np.testing.assert_allclose(cam.project(corners), [[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5],
                                                      [-0.5, h - 0.5]], atol=1e-6)
    depth = cam.world_to_cam(corners)[:, 2]
    np.testing.assert_allclose(depth, 0.5, atol=1e-9)


def test_error_colours_and_view_fit():
    rgba = error_rgba(np.array([0.5, 3.0, 9.0, np.nan]), good_px=1.0, bad_px=5.0)
    np.testing.assert_allclose(rgba[0], [0, 1, 0, 1])
    np.testing.assert_allclose(rgba[1], [1, 1, 0, 1])
    np.testing.assert_allclose(rgba[2], [1, 0, 0, 1])
    np.testing.assert_allclose(rgba[3], [0.6, 0.6, 0.6, 1])
    centre, dist = fit_view(np.array([[-2, -2, 0], [2, 2, 2], [np.nan, 0, 0]], float))
    np.testing.assert_allclose(centre, [0, 0, 1])
    assert 4.0 < dist < 7.0


def test_project_to_widget_matches_a_pinhole():
    # a symmetric frustum with near n, half-width r: x_ndc = (n / r) * x / -z
    n, r, w, h = 0.1, 0.1 * np.tan(np.radians(30)), 800, 600
    t = r * h / w
    proj = np.array([[n / r, 0, 0, 0], [0, n / t, 0, 0], [0, 0, -1.0, -2 * n], [0, 0, -1, 0]])
    view = np.eye(4)
    view[2, 3] = -5.0  # eye 5 m in front of the origin, looking down -z
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 10]], float)
    xy = project_to_widget(pts, proj, view, (w, h))
    np.testing.assert_allclose(xy[0], [400, 300])
    f_px = (w / 2) / np.tan(np.radians(30))
    np.testing.assert_allclose(xy[1], [400 + f_px / 5, 300], rtol=1e-9)
    np.testing.assert_allclose(xy[2], [400, 300 - f_px / 5], rtol=1e-9)  # +y is up on screen
    assert np.isnan(xy[3]).all()  # behind the eye


def test_has_display_follows_the_environment(monkeypatch):
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert has_display() is False
    monkeypatch.setenv("DISPLAY", "localhost:10.0")  # a remote display: taken on trust
    assert has_display() is True
    monkeypatch.setenv("DISPLAY", ":987")  # a local display no X server listens on
    assert not os.path.exists("/tmp/.X11-unix/X987")
    assert has_display() is False
    monkeypatch.setenv("DISPLAY", "localhost:10.0")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert has_display() is False


def test_synthetic_stream_is_a_latest_value_slot():
    from capture3d.testing.synthetic_stream import SyntheticLiveStream

    s = SyntheticLiveStream(n_cameras=4, whole_body=True, rate_hz=100.0, n_frames=60, thumb_width_px=96)
    made = [s.publish_next() for _ in range(50)]  # no thread, no clock: 50 frame sets, nobody reading
    snap = s.latest()
    assert snap is made[-1] and snap.index == 49
    assert s.latest() is None  # taken: nothing new until the next frame set
    assert s.produced == 50 and s.drops == 49  # all but the taken one were overwritten unread
    s.publish_next()
    assert s.latest().index == 50 and s.drops == 49
    assert snap.pose.xyz_world.shape == (135, 3)
    assert snap.keypoints2d.shape == (4, 135, 3)
    assert len(snap.thumbnails) == 4 and snap.thumbnails[0].shape == (54, 96, 3)
    assert 1.0 < snap.stats.reproj_err_px < 4.0  # the error model's 2 px noise
    assert snap.stats.people == 1 and snap.stats.processed == 50


def test_format_stats_lists_the_live_figures():
    pytest.importorskip("PyQt6")
    from capture3d.viewer.status import format_stats

    text = format_stats({"fps_capture": 60.0, "fps_3d": 59.5, "latency_ms_p50": 8.14, "latency_ms_p95": 12.0,
                         "drops": 3, "reproj_err_px": 1.94, "people": 2, "recording": True},
                        {"redraw_fps": 45.0, "max_stall_ms": 12.5})
    assert "capture      60.0" in text and "3D           59.5" in text
    assert "8.1 ms (p95 12.0)" in text
    assert "drops:       3" in text and "1.94 px" in text and "people:      2" in text
    assert "recording" in text and "45.0 fps" in text and "12.5 ms max" in text


def test_result_rig_mismatch_is_reported():
    from capture3d.viewer.app import check_result_against_rig

    motion = walking_motion(4)
    kp = Keypoints3D.from_positions(motion.xyz_world, 30.0, BODY_25)
    kp = Keypoints3D(kp.xyz_world, kp.confidence, kp.reproj_err_px, np.full((4, 25), 6), kp.times_s, 30.0, BODY_25)
    assert check_result_against_rig(kp, make_rig(8)) == []
    problems = check_result_against_rig(kp, make_rig(4))
    assert len(problems) == 1 and "6 views" in problems[0] and "4 cameras" in problems[0]
    assert check_result_against_rig(kp, None) == []


def test_cli_view_without_display_says_no_viewer(tmp_path, monkeypatch, capsys):
    motion = walking_motion(10)
    write_keypoints3d(tmp_path / "keypoints3d.csv", Keypoints3D.from_positions(motion.xyz_world, 30.0, BODY_25))
    save_rig(tmp_path / "rig.toml", make_rig(4))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert cli_main(["view", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no display" in err and "--no-viewer" in err
    assert cli_main(["view", str(tmp_path), "--frame", "10"]) == 1
    assert "0..9" in capsys.readouterr().err
    assert cli_main(["view", str(tmp_path / "nothing")]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    assert cli_main(["view", str(tmp_path), "--screenshot", str(tmp_path / "x.jpg")]) == 1
    assert ".png" in capsys.readouterr().err


def test_rig_view_rejects_wrong_error_count():
    pytest.importorskip("PyQt6")
    from capture3d.viewer.app import build_rig_view

    rig = Rig((Camera("a", (640, 480), np.eye(3)), Camera("b", (640, 480), np.eye(3))))
    with pytest.raises(ValueError, match="one value per camera"):
        build_rig_view(rig, [1.0, 2.0, 3.0])


def test_calibrate_report_show_passes_per_camera_errors(tmp_path, monkeypatch):
    import capture3d.viewer as viewer

    rig = make_rig(3, seed=2)
    save_rig(tmp_path / "rig.toml", rig, metadata={"camera_rms_px": [0.4, 1.5, 6.0]})
    calls = []
    monkeypatch.setattr(viewer, "has_display", lambda: True)
    monkeypatch.setattr(viewer, "show_rig", lambda r, err, **kw: calls.append((r.names, list(err))) or 0)
    assert cli_main(["calibrate", "report", str(tmp_path / "rig.toml"), "-o", str(tmp_path / "rep"), "--show"]) == 0
    assert calls == [(["cam1", "cam2", "cam3"], [0.4, 1.5, 6.0])]
    monkeypatch.setattr(viewer, "has_display", lambda: False)
    assert cli_main(["calibrate", "report", str(tmp_path / "rig.toml"), "-o", str(tmp_path / "rep2"), "--show"]) == 1
    assert len(calls) == 1


def test_no_display_or_dead_display_raises_a_clear_error(monkeypatch):
    from capture3d.viewer import ViewerUnavailable, run_replay

    kp = Keypoints3D.from_positions(walking_motion(3).xyz_world, 30.0, BODY_25)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # Qt's offscreen platform has no OpenGL
    with pytest.raises(ViewerUnavailable, match="--no-viewer"):
        run_replay(kp)
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":987")  # no X server there
    assert not os.path.exists("/tmp/.X11-unix/X987")
    with pytest.raises(ViewerUnavailable, match="no X server.*--no-viewer"):
        run_replay(kp)


def test_format_stats_says_when_the_rig_was_refined():
    pytest.importorskip("PyQt6")
    from capture3d.viewer.status import format_stats

    text = format_stats({"rig_swaps": 1, "rig_refine": "rig refined at set 150: held-out 14.5 -> 3.2 px"})
    assert "rig: REFINED rig refined at set 150: held-out 14.5 -> 3.2 px" in text
    assert "rig_swaps" not in text
    waiting = format_stats({"rig_swaps": 0, "rig_refine": "collecting the subject for rig refinement: 3/150"})
    assert "rig: collecting" in waiting and "REFINED" not in waiting
