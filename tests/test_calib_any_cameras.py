"""Rigs of 1, 2 and more cameras (synthetic, known truth): the similarity of two cameras, the pair report,
scale sanity, --intrinsics names, the board of Caliscope's config.toml, frames paired by name, and the
checkerboard window chosen per view."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from calib_helpers import run_calibrate
from capture3d.calib import load_board
from capture3d.calib.boards import Board
from capture3d.calib.detect import grid_roughness_px, refine_checkerboard
from capture3d.calib.frames import FrameRef, frame_number
from capture3d.calib.metrics import camera_similarity, rig_errors
from capture3d.calib.pairs import pair_summary
from capture3d.calib.reference import scale_warnings
from capture3d.calib.rig_compare import compare_rigs
from capture3d.calib.session import _numbered
from capture3d.errors import CalibrationError
from capture3d.geometry.camera import Rig
from capture3d.geometry.rotations import rodrigues, rotvec
from capture3d.io.rig_files import save_rig
from capture3d.synth import make_rig


def _moved(rig: Rig, s: float, Q: np.ndarray, T: np.ndarray) -> Rig:
    """The rig in a world x' = s Q x + T (camera centres mapped, orientations turned, same images)."""
    cams = []
    for c in rig.cameras:
        R = c.R @ Q.T
        cams.append(c.with_pose(rotvec(R), -R @ (s * Q @ c.center_world + T)))
    return Rig(tuple(cams))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_camera_similarity_recovers_a_known_transform(n):
    rig = make_rig(max(n, 2), seed=3)
    rig = Rig(rig.cameras[:n])
    Q = rodrigues(np.array([0.3, -0.5, 0.8]))
    s = 1.0 if n == 1 else 2.5  # one camera has no scale
    moved = _moved(rig, s, Q, np.array([1.0, -2.0, 0.5]))
    s2, Q2, T2 = camera_similarity(rig.cameras, moved.cameras)
    assert s2 == pytest.approx(s) and np.allclose(Q2, Q, atol=1e-9) and np.allclose(T2, [1.0, -2.0, 0.5])
    err = rig_errors(moved, rig)  # old code: ValueError "expected two (N >= 3, 3) point sets" below 3 cameras
    assert err.center_mm.max() < 1e-6 and err.rotation_deg.max() < 1e-6
    d = compare_rigs(moved, rig)
    assert d.rotation_deg.max() < 1e-6 and d.center_m.max() < 1e-9


def test_pair_summary_of_a_known_pair():
    rig = make_rig(2, seed=5, distortion=True)
    a, b = rig.cameras
    (p,) = pair_summary(list(rig.cameras), square_m=0.1)
    base = np.linalg.norm(a.center_world - b.center_world)
    assert p["baseline_m"] == pytest.approx(base) and p["baseline_squares"] == pytest.approx(base / 0.1)
    assert p["rotation_deg"] == pytest.approx(np.degrees(np.linalg.norm(rotvec(b.R @ a.R.T))))
    # corners seen by both cameras: exact projections give 0 px rectified epipolar error, noise in y shows
    from capture3d.calib.observations import BoardObservations
    rng = np.random.default_rng(0)
    xyz = rng.uniform([-0.5, -0.5, 0.5], [0.5, 0.5, 1.5], (40, 3))
    xy = np.stack([a.project(xyz), b.project(xyz)])
    obs = BoardObservations(np.repeat([0, 1], 40), np.zeros(80, int), np.tile(np.arange(40), 2), xy.reshape(-1, 2),
                            ["cam1", "cam2"], [a.size_wh, b.size_wh])
    (p,) = pair_summary(list(rig.cameras), obs)
    assert p["epipolar_points"] == 40 and p["epipolar_rms_px"] < 1e-6
    obs.xy_px[40:] += rng.normal(0, 0.5, (40, 2))
    (p,) = pair_summary(list(rig.cameras), obs)
    assert 0.2 < p["epipolar_rms_px"] < 1.0  # about 0.5 px: the noise across the epipolar lines


def test_scale_warnings_name_the_unit_slip():
    rig = make_rig(4, seed=1)  # cameras about 9 m apart
    assert scale_warnings(rig, 0.025) == []
    far = _moved(rig, 1000.0, np.eye(3), np.zeros(3))  # square_size 25 (mm written as m)
    w = scale_warnings(far, 25.0)
    assert len(w) == 2
    assert "square_size = 25 (metres) is implausibly large" in w[0] and "square_size = 0.025" in w[0]
    assert "m apart (more than 50 m)" in w[1] and "in millimetres it would be 0.025" in w[1]
    ten = _moved(rig, 10.0, np.eye(3), np.zeros(3))  # 0.25 for 0.025: only the spread tells
    (w,) = scale_warnings(ten, 0.25)
    assert "10 times too large 0.025" in w


def test_intrinsics_matching_no_camera_are_an_error(tmp_path):
    rig = make_rig(2, seed=1)
    save_rig(tmp_path / "cams.toml", Rig(tuple(c.with_pose(np.zeros(3), np.zeros(3)) for c in rig.cameras)))
    session = tmp_path / "session"
    for name in ("left", "right"):
        (session / name).mkdir(parents=True)
        cv2.imwrite(str(session / name / f"{name}01.png"), np.zeros((8, 8), np.uint8))
    board = tmp_path / "board.toml"
    board.write_text('[board]\ntype = "checkerboard"\ninner_corners = [9, 6]\nsquare_size = 0.03\n')
    with pytest.raises(CalibrationError, match=r"--intrinsics .*cams.toml: its camera\(s\) \['cam1', 'cam2'\] "
                                               r"match none of the session's cameras \['left', 'right'\]"):
        run_calibrate(["calibrate", "rig", "--board", str(board), str(session), "-o", str(tmp_path / "r.toml"),
                       "--intrinsics", str(tmp_path / "cams.toml"), "--fix-intrinsics", "--no-progress"])


def test_caliscope_config_charuco_table_is_a_board(tmp_path, capsys):
    cfg = tmp_path / "config.toml"
    cfg.write_text('CreationDate = 2023-05-06T11:12:27\n\n[charuco]\ncolumns = 4\nrows = 5\nboard_height = 11.0\n'
                   'board_width = 8.5\ndictionary = "DICT_4X4_1000"\nunits = "inch"\naruco_scale = 0.75\n'
                   'square_size_override_cm = 5.4\ninverted = true\n\n[cam_0]\nport = 0\n')
    b = load_board(cfg)
    assert b.kind == "charuco" and b.squares_xy == (4, 5) and b.square_size == pytest.approx(0.054)
    assert b.marker_size == pytest.approx(0.0405) and b.inverted
    from capture3d.cli import main
    assert main(["board", str(cfg), "-o", str(tmp_path / "b.png"), "--dpi", "50"]) == 0  # was refused
    assert "216 x 270 mm" in capsys.readouterr().out


def test_frames_pair_by_the_number_in_their_names(tmp_path):
    refs = {"left": [FrameRef(tmp_path / f"left{k:02d}.jpg") for k in (1, 2, 3, 4, 6)],
            "right": [FrameRef(tmp_path / f"right{k:02d}.jpg") for k in (1, 2, 3, 5, 6)]}
    labels, pos = _numbered(refs)
    assert labels == ["#1", "#2", "#3", "#4", "#5", "#6"]
    assert pos == {"left": [0, 1, 2, 3, 5], "right": [0, 1, 2, 4, 5]}
    assert frame_number(FrameRef(tmp_path / "cam_0_frame_100.jpg")) == 100
    assert frame_number(FrameRef(tmp_path / "cam_0.mp4", 7)) is None
    refs["right"].append(FrameRef(tmp_path / "right_extra.jpg"))  # a name without a number: order it is
    assert _numbered(refs) is None


def test_checkerboard_window_chosen_by_grid_smoothness():
    """A board whose outer squares are cut short (OpenCV's samples): the 0.4-square window of an edge corner
    reaches the board's border; the smoothest grid takes a smaller window there."""
    sq, cols, rows = 30, 9, 6
    img = np.full((320, 420), 255, np.uint8)
    x0, y0 = 60, 60
    for r in range(-1, rows):
        for c in range(-1, cols):
            if (r + c) % 2 == 0:
                img[y0 + r * sq:y0 + (r + 1) * sq, x0 + c * sq:x0 + (c + 1) * sq] = 0
    img[:, :x0 - sq // 3] = 90  # the outer squares cut at a third, then a grey surround
    img[:y0 - sq // 3] = 90
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    truth = np.stack(np.meshgrid(x0 + sq * np.arange(cols), y0 + sq * np.arange(rows)), -1).reshape(-1, 2) - 0.5
    start = truth + np.random.default_rng(2).uniform(-1.5, 1.5, truth.shape)
    fixed = cv2.cornerSubPix(img, start.astype(np.float32).reshape(-1, 1, 2), (12, 12), (-1, -1),
                             (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-3)).reshape(-1, 2)
    chosen = refine_checkerboard(img, start, cols, rows)
    e_fixed, e_chosen = np.abs(fixed - truth).max(), np.abs(chosen - truth).max()
    assert e_fixed > 0.5 and e_chosen < 0.15, (e_fixed, e_chosen)
    assert grid_roughness_px(chosen, cols, rows) < grid_roughness_px(fixed, cols, rows)
    assert grid_roughness_px(truth, cols, rows) < 1e-9
    assert Board("checkerboard", (cols, rows), 1.0).n_corners == len(chosen)
