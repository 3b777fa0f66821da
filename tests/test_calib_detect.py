"""Board detection on images rendered through the true camera model (distortion, blur, noise, lighting)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from capture3d.calib import board_from_dict, detect_board, detect_camera, list_frames
from capture3d.calib.detect import refine_window_px, require_views
from capture3d.calib.synth import pixel_rays, intrinsic_board_poses, render_board_image
from capture3d.errors import CalibrationError
from capture3d.synth import make_rig

CHECKER = board_from_dict({"type": "checkerboard", "inner_corners": [9, 6], "square_size": 0.025})
CHARUCO = board_from_dict({"type": "charuco", "squares": [7, 5], "square_size": 0.04, "marker_size": 0.03,
                           "dictionary": "DICT_4X4_50"})


@pytest.fixture(scope="module")
def cam():
    return make_rig(2, size_wh=(640, 360), seed=1)[0].with_pose(np.zeros(3), np.zeros(3))


@pytest.fixture(scope="module")
def rays(cam):
    return pixel_rays(cam, 2)


def _truth(cam, board, R, t, ids):
    return cam.project(board.corners_board[ids] @ R.T + t)


@pytest.mark.parametrize("board", [CHECKER, CHARUCO], ids=["checkerboard", "charuco"])
def test_detection_is_subpixel_accurate(cam, rays, board):
    rng = np.random.default_rng(3)
    Rs, ts = intrinsic_board_poses(cam, board, 8, rng)
    errs, found = [], 0
    for R, t in zip(Rs, ts):
        det = detect_board(render_board_image(cam, board, R, t, rng, rays=rays), board)
        if det is None:
            continue
        found += 1
        ids, xy = det
        errs.append(np.linalg.norm(xy - _truth(cam, board, R, t, ids), axis=1))
    e = np.concatenate(errs)
    assert found >= 7
    assert np.median(e) < 0.08
    assert np.percentile(e, 95) < 0.25
    assert e.max() < 1.0


def test_checkerboard_turned_180_degrees_keeps_corner_ids(cam, rays):
    rng = np.random.default_rng(5)
    Rs, ts = intrinsic_board_poses(cam, CHECKER, 3, rng)
    mid = CHECKER.corners_board.mean(axis=0)
    flip = np.diag([-1.0, -1.0, 1.0])  # 180 degrees about the board normal, around the board centre
    for R, t in zip(Rs, ts):
        for RR, tt in ((R, t), (R @ flip, t + R @ mid - R @ flip @ mid)):
            det = detect_board(render_board_image(cam, CHECKER, RR, tt, rng, rays=rays), CHECKER)
            assert det is not None
            ids, xy = det
            assert np.linalg.norm(xy - _truth(cam, CHECKER, RR, tt, ids), axis=1).max() < 1.0


def test_charuco_partial_view(cam, rays):
    rng = np.random.default_rng(2)
    Rs, ts = intrinsic_board_poses(cam, CHARUCO, 1, rng, fill=(0.5, 0.5))
    R, t = Rs[0], ts[0]
    # push the board so that about half of it leaves the image on the right
    z = (R @ CHARUCO.corners_board.mean(axis=0) + t)[2]
    t = t + np.array([0.5 * 0.5 * 640 / cam.focal_px * z, 0, 0])
    det = detect_board(render_board_image(cam, CHARUCO, R, t, rng, rays=rays), CHARUCO)
    assert det is not None
    ids, xy = det
    assert 6 <= len(ids) < CHARUCO.n_corners
    assert np.linalg.norm(xy - _truth(cam, CHARUCO, R, t, ids), axis=1).max() < 0.5


def test_refine_window_follows_square_size():
    assert refine_window_px(4) == 2
    assert refine_window_px(12) == 4
    assert refine_window_px(200) == 15


def _write_images(folder, cam, board, n, rng, rays, size=None):
    folder.mkdir(parents=True, exist_ok=True)
    Rs, ts = intrinsic_board_poses(cam, board, n, rng)
    paths = []
    for i, (R, t) in enumerate(zip(Rs, ts)):
        img = render_board_image(cam, board, R, t, rng, rays=rays)
        if size is not None and i == n - 1:
            img = cv2.resize(img, size)
        p = folder / f"img{i}.png"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


def test_wrong_corner_count_names_files_and_expected_board(tmp_path, cam, rays):
    rng = np.random.default_rng(4)
    _write_images(tmp_path / "imgs", cam, CHECKER, 3, rng, rays)
    wrong = board_from_dict({"type": "checkerboard", "inner_corners": [10, 7], "square_size": 0.025})
    det = detect_camera(list_frames([tmp_path / "imgs"]), wrong, "camA", workers=2)
    with pytest.raises(CalibrationError) as exc:
        require_views(det, wrong, 4)
    msg = str(exc.value)
    assert "camA" in msg and "img0.png" in msg and "10x7 inner corners" in msg and "INNER corners" in msg


def test_images_of_different_sizes_are_refused(tmp_path, cam, rays):
    rng = np.random.default_rng(6)
    _write_images(tmp_path / "imgs", cam, CHECKER, 3, rng, rays, size=(320, 180))
    with pytest.raises(CalibrationError, match="different sizes: 640x360"):
        detect_camera(list_frames([tmp_path / "imgs"]), CHECKER, "camA", workers=2)


def test_video_input_with_stride_and_progress(tmp_path, cam, rays):
    rng = np.random.default_rng(8)
    Rs, ts = intrinsic_board_poses(cam, CHARUCO, 6, rng)
    path = tmp_path / "v.avi"
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, cam.size_wh)
    assert vw.isOpened()
    for R, t in zip(Rs, ts):
        vw.write(cv2.cvtColor(render_board_image(cam, CHARUCO, R, t, rng, rays=rays), cv2.COLOR_GRAY2BGR))
    vw.release()
    refs = list_frames([path], stride=2)
    assert [r.index for r in refs] == [0, 2, 4]
    calls = []
    det = detect_camera(refs, CHARUCO, "v", workers=2, progress=lambda d, n: calls.append((d, n)))
    assert calls[-1] == (3, 3) and len(calls) == 3
    assert [v.frame for v in det.views] == [0, 1, 2]
    assert [v.label for v in det.views] == ["v.avi#0", "v.avi#2", "v.avi#4"]
    for v, R, t in zip(det.views, Rs[::2], ts[::2]):
        assert np.linalg.norm(v.xy_px - _truth(cam, CHARUCO, R, t, v.corner_ids), axis=1).max() < 1.0


def test_missing_and_unknown_inputs(tmp_path):
    with pytest.raises(CalibrationError, match="input not found"):
        list_frames([tmp_path / "nothing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibrationError, match="no images"):
        list_frames([tmp_path / "empty"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(CalibrationError, match="unknown input type"):
        list_frames([tmp_path / "notes.txt"])
